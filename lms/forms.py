"""Form pieces shared by every feature."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import wtforms
from markupsafe import Markup, escape
from wtforms import SelectChoice, ValidationError
from wtforms import widgets as _widgets
from wtforms.fields.choices import Choice
from wtforms.validators import StopValidation
from wtforms.widgets import Select as _Select
from wtforms.widgets.core import clean_key

from lms.timezones import is_valid_zone


def valid_timezone(_form: object, field: object) -> None:
    if not is_valid_zone(field.data or ""):  # type: ignore[attr-defined]
        raise ValidationError("Choose a time zone from the list.")


def choices(pairs: Iterable[tuple[str, str]], optgroup: str | None = None) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label, optgroup=optgroup) for value, label in pairs]


def html_params(**kwargs: Any) -> Markup:
    """WTForms' ``html_params`` (the attributes of a tag, sorted by name; ``True`` written
    bare, ``False`` left out, ``class_`` and ``data_``/``aria_`` names as WTForms writes
    them), with the same output, byte for byte (``tests/test_forms.py``), at a quarter of the
    cost: WTForms writes each attribute through ``Markup.format``. Used by the widgets
    below and by :func:`field`; WTForms' own widgets are left as they are."""
    params = []
    for key, value in sorted(kwargs.items()):
        name = escape(clean_key(key))
        if value is True:
            params.append(name)
        elif value is not False:
            params.append(f'{name}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))  # noqa: S704 (names and values escaped above)


def field(f: Any, class_: str = "", hint: str | None = None) -> Markup:
    """A form field as every form of the app shows it: its label (and the required mark),
    a hint, the input, and its errors, tied to the input by ``aria-describedby``; a check
    box with its label after it. Templates call it as ``field(form.name)``; it was a Jinja
    macro, which cost as much to call as the field itself to write (a filter form of five
    fields took 0.9 ms; docs/PERFORMANCE.md, "The fourteenth round")."""
    field_id = f.id
    errors = f.errors
    hint = hint or f.description
    described = " ".join(
        ([f"{field_id}-hint"] if hint else []) + ([f"{field_id}-error"] if errors else [])
    )
    aria = {"aria-describedby": described or False, "aria-invalid": "true" if errors else False}
    invalid = "field-invalid" if errors else ""
    html = [f'<div class="field {escape(class_)} {invalid}">\n']
    if f.type == "BooleanField":
        html.append(f'<div class="checkbox">\n{f(**aria)}\n{_label(f.label)}\n</div>\n')
    else:
        required = f.flags.required
        html.append(_label(f.label, "label"))
        if required:
            html.append('<span class="required" aria-hidden="true"> *</span>')
        if hint:
            html.append(f'\n<p class="hint" id="{escape(field_id)}-hint">{escape(hint)}</p>')
        html.append(f"\n{f(class_='input', **aria, required=required or False)}\n")
    if errors:
        html.append(f'<p class="field-error" id="{escape(field_id)}-error">')
        html.extend(f"<span>{escape(error)}</span> " for error in errors)
        html.append("</p>\n")
    html.append("</div>")
    return Markup("".join(html))  # noqa: S704 (every part escaped or written by a widget)


def _label(label: Any, class_: str | None = None) -> str:
    """``label()`` or ``label(class_=…)``, as WTForms' :class:`~wtforms.Label` writes it."""
    attributes = html_params(class_=class_ or False, for_=label.field_id)  # False: no class
    return f"<label {attributes}>{escape(label.text)}</label>"


# An option of a list of choices, written both ways: (value, unselected, selected); or the
# opening or closing tag of an ``<optgroup>``.
_Piece = tuple[Any, str, str] | str


class Select(_Select):
    """WTForms' ``<select>``, with each plain option written directly, and the options of a
    plain single select written once for every page that shows the same list.

    WTForms builds every ``<option>`` through its generic attribute writer and looks up the
    signature of ``render_option`` on every render; the therapist directory's state list,
    the queue's filters and the time-zone list (600 options) spent a fifth of their page in
    it. An option with no extra attributes is written here in the same form, byte for byte
    (``tests/test_forms.py`` holds the two equal); any other goes to WTForms.

    A :class:`SelectField` whose choices are all plain (:class:`SelectChoice` without extra
    attributes) goes further: its options are written once for the list's values, labels
    and groups (:func:`_option_pieces`, kept for as long as the process lives) and each
    render only picks, option by option, the selected or the plain form. The state list took
    0.3 ms to write on every directory page (docs/PERFORMANCE.md, "The fourteenth round").
    """

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        pieces = None if self.multiple else _plain_pieces(field)
        if pieces is None:
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for k in dir(flags):  # as WTForms: required, disabled
            if k in self.validation_attrs and k not in kwargs:
                kwargs[k] = getattr(flags, k)
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        data, coerce = field.data, field.coerce
        for piece in pieces:
            if type(piece) is str:
                html.append(piece)
            else:
                value, plain, selected = piece
                html.append(selected if coerce(value) == data else plain)
        html.append("</select>")
        return Markup("".join(html))  # noqa: S704 (every piece was written escaped)

    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Markup:
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        quoted = escape(value).replace(Markup('"'), Markup("&quot;"))
        selected = "selected " if choice.selected else ""
        label = escape(choice.label or choice.value)
        # Every part is escaped above (Markup.format would escape again, at twice the cost).
        return Markup(f'<option {selected}value="{quoted}">{label}</option>')  # noqa: S704

    @classmethod
    def _dispatch_render_option(cls) -> Callable[..., Markup]:
        return cls.render_option


def _all_plain(choices: Any) -> bool:
    return isinstance(choices, list) and all(
        type(choice) is SelectChoice and not choice.render_kw for choice in choices
    )


def _plain_choices(choices: Any) -> tuple[tuple[Any, ...], ...] | None:
    """(value, label, optgroup, and the types of the first two) of each choice, when all
    are plain :class:`SelectChoice` (no extra attributes) with hashable values; otherwise
    None. The types tell apart what compares equal but is written differently: ``True``
    and ``1``, a label and the same text as :class:`Markup` (not escaped again)."""
    if not _all_plain(choices):
        return None
    found = tuple((c.value, c.label, c.optgroup, type(c.value), type(c.label)) for c in choices)
    try:
        hash(found)
    except TypeError:
        return None
    return found


def _plain_pieces(field: Any) -> Sequence[_Piece] | None:
    """The written options of ``field`` (one of ours, single) when its choices are plain."""
    if not isinstance(field, SelectField):
        return None
    key = _plain_choices(field.choices)
    return None if key is None else _option_pieces(key)


@functools.lru_cache(maxsize=256)
def _option_pieces(key: tuple[tuple[Any, ...], ...]) -> tuple[_Piece, ...]:
    """Each option of a list of plain choices written unselected and selected, inside their
    ``<optgroup>`` tags as WTForms groups them (runs of the same group). A list is known by
    its values, labels and groups: a form that changes its choices gets its own."""

    def written(value: Any, label: Any) -> tuple[Any, str, str]:
        return (
            value,
            str(Select.render_option(Choice(value, label, False, {}))),
            str(Select.render_option(Choice(value, label, True, {}))),
        )

    if all(choice[2] is None for choice in key):
        return tuple(written(value, label) for value, label, *_ in key)
    pieces: list[_Piece] = []
    for group, run in itertools.groupby(key, key=lambda choice: choice[2]):
        if group is not None:
            pieces.append(f"<optgroup {html_params(label=group)}>")
        pieces.extend(written(value, label) for value, label, *_ in run)
        if group is not None:
            pieces.append("</optgroup>")
    return tuple(pieces)


class SelectField(wtforms.SelectField):
    widget = Select()

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Whitespace around a value is no part of a choice, and whitespace alone is no choice
        (""). Kept, a value of spaces passed a field with ``Optional()`` unchecked: that
        validator reads it as empty and clears the "Not a valid choice." error, so the view
        got " " as a status or a number (a 500)."""
        super().process_formdata([v.strip() if isinstance(v, str) else v for v in valuelist])

    def pre_validate(self, form: Any) -> None:
        """As WTForms (the value must be one of the choices, or "Not a valid choice."),
        without building every choice anew when they are all plain."""
        choices = self.choices
        if self.process_errors or not self.validate_choice or not _all_plain(choices):
            super().pre_validate(form)
        elif not any(self.coerce(choice.value) == self.data for choice in choices):
            message = self.invalid_choice_message or self.gettext("Not a valid choice.")
            raise ValidationError(message)


class SelectMultipleField(wtforms.SelectMultipleField):
    widget = Select(multiple=True)


# The inputs of the app's forms, written with :func:`html_params` (WTForms' widgets, less the
# cost of its attribute writer; the same output).
class TextInput(_widgets.TextInput):
    html_params = staticmethod(html_params)


class SearchInput(_widgets.SearchInput):
    html_params = staticmethod(html_params)


class EmailInput(_widgets.EmailInput):
    html_params = staticmethod(html_params)


class CheckboxInput(_widgets.CheckboxInput):
    html_params = staticmethod(html_params)


class StringField(wtforms.StringField):
    widget = TextInput()


class SearchField(wtforms.SearchField):
    widget = SearchInput()


class EmailField(wtforms.EmailField):
    widget = EmailInput()


class BooleanField(wtforms.BooleanField):
    widget = CheckboxInput()


# The dates any form takes. A date input accepts years 1 to 9999, but the ends cannot be
# turned into the instants a day spans in every time zone (there is no day after 9999-12-31;
# a day of year 1 east of Greenwich starts in year 0), and no date of this work (a birth, a
# license, a report's range) lies outside these years: a year such as 0202 is a typo.
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2199, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {FIRST_DATE.year} and {LAST_DATE.year}."


class DateField(wtforms.DateField):
    """A date, held to :data:`FIRST_DATE` – :data:`LAST_DATE` (a field's own rules, such as a
    date of birth before today, come on top)."""

    def pre_validate(self, form: Any) -> None:
        super().pre_validate(form)
        if self.data is not None and not FIRST_DATE <= self.data <= LAST_DATE:
            raise StopValidation(DATE_RANGE_MESSAGE)  # the field's own rules need not say more
