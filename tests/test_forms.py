"""The app's ``<select>`` writes each option exactly as WTForms' own widget does."""

from __future__ import annotations

import pytest
import wtforms
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectChoice
from wtforms.validators import Optional
from wtforms.widgets import Select as WTFormsSelect

from lms.forms import (
    DATE_RANGE_MESSAGE,
    DateField,
    Select,
    SelectField,
    SelectMultipleField,
    choices,
)

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


def _wtforms_select(field: object) -> str:
    return str(WTFormsSelect()(field))


def test_a_plain_list_is_written_once_and_each_render_only_picks_the_selected_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Once(Form):
        # Choices of their own: no other test has written this list yet.
        pick = SelectField(
            "Pick", choices=choices([("", "None"), ("p", "Once P"), ("q", "Once Q")])
        )

    written: list[object] = []
    real = Select.render_option.__func__  # type: ignore[attr-defined]

    def counting(cls: type, choice: object, **kwargs: object) -> object:
        written.append(choice)
        return real(cls, choice, **kwargs)

    monkeypatch.setattr(Select, "render_option", classmethod(counting))
    first = Once(MultiDict({"pick": "p"})).pick
    assert str(first()) == _wtforms_select(first)
    assert len(written) == 6  # each option, unselected and selected
    for data in ({"pick": "q"}, {}, {"pick": "p"}):
        again = Once(MultiDict(data)).pick
        assert str(again()) == _wtforms_select(again)
    assert len(written) == 6  # the three renders after the first wrote no option again


def test_lists_that_compare_equal_but_are_written_differently_are_kept_apart() -> None:
    class Values(Form):
        as_bool = SelectField("B", choices=[SelectChoice(True, "Yes")], coerce=str)
        as_int = SelectField("I", choices=[SelectChoice(1, "Yes")], coerce=str)
        as_text = SelectField("T", choices=[SelectChoice("a", "<b>bold</b>")])
        as_markup = SelectField("M", choices=[SelectChoice("a", Markup("<b>bold</b>"))])

    form = Values()
    assert 'value="True"' in str(form.as_bool()) and 'value="1"' in str(form.as_int())
    assert "&lt;b&gt;bold" in str(form.as_text())
    assert "<b>bold</b>" in str(form.as_markup())
    for field in form:
        assert str(field()) == _wtforms_select(field), field.name


def test_choices_changed_on_a_form_are_the_ones_written() -> None:
    form = Plain(MultiDict({"state": "NM"}))
    assert 'value="NM"' not in str(form.state())
    form.state.choices = choices([("", "Any"), ("NM", "New Mexico")])
    html = str(form.state())
    assert '<option selected value="NM">New Mexico</option>' in html
    assert "Colorado" not in html
    assert html == _wtforms_select(form.state)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"state": "CO"}, []),
        ({"state": "TX"}, ["Not a valid choice."]),
        ({"number": "2"}, []),
        ({"number": "7"}, ["Pick one of the numbers."]),
        ({"number": "seven"}, ["Invalid Choice: could not coerce."]),
    ],
)
def test_a_value_outside_the_choices_is_refused_as_wtforms_refuses_it(
    data: dict[str, str], errors: list[str]
) -> None:
    class Checked(Form):
        state = SelectField("State", choices=PLAIN)
        number = SelectField(
            "Number",
            choices=choices([("1", "One"), ("2", "Two")]),
            coerce=int,
            invalid_choice_message="Pick one of the numbers.",
        )

    form = Checked(MultiDict({"state": "", "number": "1", **data}))
    form.validate()
    name = next(iter(data))
    assert form[name].errors == errors
    # WTForms' own check gives the same answer.
    plain = wtforms.SelectField(
        "Same",
        choices=form[name].choices,
        coerce=form[name].coerce,
        invalid_choice_message=form[name].invalid_choice_message,
    ).bind(Form(), name)
    plain.process(MultiDict(data))
    plain.validate(Form())
    assert plain.errors == errors


# --- attributes and fields written by the app (lms.forms.html_params, field) -----------------


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"name": "q", "id": "q", "class_": "input grow", "value": 'a "quoted" <b>&'},
        {"required": True, "disabled": False, "checked": True, "type": "checkbox"},
        {
            "aria-describedby": "q-hint q-error",
            "aria-invalid": "true",
            "data_live_url": "/x?a=1&b=2",
        },
        {"aria_label": "Search", "for_": "q", "maxlength": 200, "step": 0.5, "value": None},
        {"value": Markup('already "safe" <i>')},
        {"weird<name": "x", "value": ""},
    ],
)
def test_html_params_writes_what_wtforms_writes(attributes: dict[str, object]) -> None:
    from wtforms.widgets import html_params as wtforms_html_params

    from lms.forms import html_params

    assert str(html_params(**attributes)) == str(wtforms_html_params(**attributes))


# The macro every form used before field() (templates/_macros.html at 1c4734d): field() writes
# the same tags, attributes and text (whitespace between tags aside).
OLD_FIELD_MACRO = """{% macro field(f, class_="", hint=None) -%}
  {%- set described = [] -%}
  {%- if f.description or hint %}{% set _ = described.append(f.id ~ '-hint') %}{% endif -%}
  {%- if f.errors %}{% set _ = described.append(f.id ~ '-error') %}{% endif -%}
  <div class="field {{ class_ }} {% if f.errors %}field-invalid{% endif %}">
    {% if f.type == 'BooleanField' %}
      <div class="checkbox">
        {{ f(**{'aria-describedby': described|join(' ') or false,
                'aria-invalid': 'true' if f.errors else false}) }}
        {{ f.label() }}
      </div>
    {% else %}
      {{ f.label(class_="label") }}{% if f.flags.required %}<span class="required"
        aria-hidden="true"> *</span>{% endif %}
      {% if f.description or hint %}<p class="hint" id="{{ f.id }}-hint">{{ hint or
        f.description }}</p>{% endif %}
      {{ f(class_="input", **{'aria-describedby': described|join(' ') or false,
           'aria-invalid': 'true' if f.errors else false,
           'required': f.flags.required or false}) }}
    {% endif %}
    {% if f.errors %}
      <p class="field-error" id="{{ f.id }}-error">{% for e in f.errors %}<span>{{ e
        }}</span> {% endfor %}</p>
    {% endif %}
  </div>
{%- endmacro %}"""


def _squeezed(html: object) -> str:
    """Runs of whitespace as one space, none between tags."""
    import re

    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", str(html))).strip()


class Everything(Form):
    name = wtforms.StringField(
        "Full name", validators=[wtforms.validators.DataRequired()], description="As on ID"
    )
    mine = wtforms.BooleanField("Mine <only>")
    email = wtforms.EmailField("E-mail", validators=[wtforms.validators.Email()])
    notes = wtforms.TextAreaField("Notes", render_kw={"rows": 3})
    when = wtforms.DateField("Date", validators=[wtforms.validators.Optional()])
    state = SelectField("State", choices=PLAIN)
    count = wtforms.IntegerField(
        "Count", validators=[wtforms.validators.NumberRange(min=1, message="At least <1> & more")]
    )


def _ours(form_class: type) -> type:
    """The same form with the app's fields (lms.forms) where the app has one."""
    from lms import forms as ours

    attrs = {}
    for name, unbound in vars(form_class).items():
        if isinstance(unbound, wtforms.fields.core.UnboundField):
            cls = getattr(ours, unbound.field_class.__name__, unbound.field_class)
            attrs[name] = cls(*unbound.args, **unbound.kwargs)
    return type(f"Ours{form_class.__name__}", (Form,), attrs)


def test_the_app_form_has_the_app_fields() -> None:
    from lms import forms as ours

    form = _ours(Everything)()
    assert type(form.name) is ours.StringField and type(form.mine) is ours.BooleanField
    assert type(form.email) is ours.EmailField and type(form.state) is ours.SelectField
    assert type(form.notes) is wtforms.TextAreaField  # the app has none of its own


@pytest.mark.parametrize(
    "data",
    [
        {},
        {
            "name": "Ann <Lee>",
            "mine": "y",
            "email": "ann@example.org",
            "notes": "x & y",
            "when": "2026-11-29",
            "state": "CO",
            "count": "3",
        },
        {"name": "", "email": "not an e-mail", "when": "29/11", "state": "TX", "count": "0"},
    ],
)
@pytest.mark.parametrize("hint", [None, "Whole words <em>only</em>"])
def test_field_writes_what_the_macro_wrote(data: dict[str, str], hint: str | None) -> None:
    from jinja2 import Environment

    from lms.forms import field

    macro = Environment(autoescape=True).from_string(OLD_FIELD_MACRO).module.field
    for form_class in (Everything, _ours(Everything)):
        form = form_class(MultiDict(data))
        form.validate()
        for f in form:
            for class_ in ("", "grow"):
                expected = _squeezed(macro(f, class_=class_, hint=hint))
                assert _squeezed(field(f, class_=class_, hint=hint)) == expected, f.name


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": 'Ann "A" <Lee> & co', "mine": "y", "email": "a@example.org", "state": "a&b"},
        {"email": "not an e-mail", "state": "TX", "count": "0"},
    ],
)
def test_the_app_inputs_write_what_wtforms_inputs_write(data: dict[str, str]) -> None:
    form = _ours(Everything)(MultiDict(data))
    form.validate()
    for f in form:
        ours = f.widget
        theirs = next(c for c in type(ours).__mro__ if c.__module__.startswith("wtforms."))
        for kwargs in ({}, {"class_": "input", "aria-describedby": "x-hint", "required": True}):
            written = str(f(**kwargs))
            f.widget = theirs()
            try:
                assert written == str(f(**kwargs)), f.name
            finally:
                f.widget = ours


def test_field_ties_hints_and_errors_to_the_input() -> None:
    from lms.forms import field

    form = _ours(Everything)(MultiDict({"email": "nope"}))
    form.validate()
    html = str(field(form.name, hint="Your legal name"))
    assert 'aria-describedby="name-hint name-error"' in html
    assert '<p class="hint" id="name-hint">Your legal name</p>' in html
    assert '<span class="required" aria-hidden="true"> *</span>' in html
    assert 'aria-invalid="true"' in html and "field-invalid" in html
    assert 'class="input"' in html and " required" in html
    box = str(field(form.mine))
    assert '<div class="checkbox">' in box and 'type="checkbox"' in box
    assert "Mine &lt;only&gt;</label>" in box
    assert "aria-describedby" not in box


class Dated(Form):
    day = DateField("Day", validators=[Optional()])

    def validate_day(self, field: DateField) -> None:
        if field.data and field.data.year == 2000:
            raise wtforms.ValidationError("Not in 2000.")


@pytest.mark.parametrize(
    ("sent", "errors"),
    [
        ("1900-01-01", []),
        ("2199-12-31", []),
        ("", []),
        ("1899-12-31", [DATE_RANGE_MESSAGE]),
        ("2200-01-01", [DATE_RANGE_MESSAGE]),
        ("0001-01-01", [DATE_RANGE_MESSAGE]),
        ("9999-12-31", [DATE_RANGE_MESSAGE]),
        ("2000-06-01", ["Not in 2000."]),  # the form's own rules still apply
        ("not a date", ["Not a valid date value."]),
    ],
)
def test_date_fields_take_the_years_of_this_work_only(sent, errors) -> None:
    form = Dated(MultiDict({"day": sent}))
    form.validate()
    assert form.day.errors == errors  # one message at most: the range stops the field's rules


class Filtered(Form):
    status = SelectField(
        "Status", choices=choices([("", "Any"), ("open", "Open")]), validators=[Optional()]
    )


@pytest.mark.parametrize(
    ("sent", "data", "errors"),
    [
        ("", "", []),
        (" ", "", []),  # was " ", let through unchecked: Optional() cleared the choice's error
        (" open ", "open", []),
        ("opened", "opened", ["Not a valid choice."]),
        (" x ", "x", ["Not a valid choice."]),
    ],
)
def test_a_select_takes_no_whitespace_for_a_choice(sent, data, errors) -> None:
    form = Filtered(MultiDict({"status": sent}))
    form.validate()
    assert (form.status.data, form.status.errors) == (data, errors)
