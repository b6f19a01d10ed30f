"""The app's ``<select>`` writes each option exactly as WTForms' own widget does."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectChoice
from wtforms.widgets import Select as WTFormsSelect

from lms.forms import Select, SelectField, SelectMultipleField, choices

PLAIN = choices([("", "Any"), ("CO", "Colorado"), ("a&b", 'Quote " and <tag>'), ("x", "")])


class Plain(Form):
    state = SelectField("State", choices=PLAIN)
    grouped = SelectField(
        "Zone",
        choices=choices([("UTC", "UTC")], "Common") + choices([("Europe/Paris", "Paris")], "All"),
    )
    flags = SelectField(
        "Flag", choices=[SelectChoice(True, "Yes"), SelectChoice(False, "No")], coerce=str
    )
    extra = SelectField(
        "Extra",
        choices=[SelectChoice("a", "A", render_kw={"disabled": True}), SelectChoice("b", "B")],
    )
    many = SelectMultipleField("Many", choices=PLAIN)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"state": "CO", "grouped": "Europe/Paris", "flags": "False", "extra": "b"},
        {"state": "a&b", "many": ["CO", "x"]},
    ],
)
def test_options_are_written_as_wtforms_writes_them(data: dict[str, object]) -> None:
    form = Plain(MultiDict(data))
    for field in form:
        ours = Select(multiple=field.type == "SelectMultipleField")(field, class_="wide")
        theirs = WTFormsSelect(multiple=field.type == "SelectMultipleField")(field, class_="wide")
        assert str(ours) == str(theirs), field.name
        assert str(field(class_="wide")) == str(theirs), field.name  # the fields use ours
        assert isinstance(field.widget, Select), field.name


def test_a_selected_option_and_escaping() -> None:
    html = str(Plain(MultiDict({"state": "a&b"})).state())
    assert '<option selected value="a&amp;b">Quote &#34; and &lt;tag&gt;</option>' in html
    assert '<option value="x">x</option>' in html  # no label: the value shows
