"""Every page, as every kind of user, with odd values in every query parameter any form of
the app reads: never a server error.

The parameters are taken from the forms themselves (every field of every form class), so a
new filter is tried the day it is added. Each request sends one odd value in all of them at
once. The values are the ones that have failed pages before: numbers past what a column
holds, days that cannot be turned into instants (year 1, 9999-12-31), LIKE's wildcards,
quotes, very long and non-ASCII text.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from flask_wtf import FlaskForm
from wtforms.fields.core import UnboundField

import lms
from tests.security.conftest import AUDIENCES, audience, methods, rules, url

ODD_VALUES = [
    "-1",
    "99999999999999999999",
    "0001-01-01",
    "9999-12-31",
    "%_'; --\\\"",
    "#99999999999",
    "é ñ 漢字 🙂 " + "word " * 60,
    " ",
]

# Besides the forms' fields: what views read from the query themselves.
VIEW_PARAMETERS = {"page", "since", "next", "download", "user_id", "instrument", "q"}


def _form_classes() -> set[type]:
    for module in pkgutil.walk_packages(lms.__path__, "lms."):
        if module.name.endswith(".forms"):
            importlib.import_module(module.name)
    found: set[type] = set()
    todo = [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


# A view that shows several forms on one page names each one's fields with a prefix given
# where it builds it (``NoteForm(prefix="note")``): read from the views' source.
_INSTANCE_PREFIX = re.compile(r"\b(\w+Form)\([^()]*\bprefix=\"([\w-]+)\"")


def _instance_prefixes() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in Path(lms.__path__[0]).rglob("*.py"):
        for form, prefix in _INSTANCE_PREFIX.findall(path.read_text()):
            found.setdefault(form, set()).add(prefix)
    return found


def query_parameters() -> list[str]:
    names = set(VIEW_PARAMETERS)
    instance_prefixes = _instance_prefixes()
    for form in _form_classes():
        prefix = getattr(getattr(form, "Meta", None), "prefix", "")
        prefixes = {prefix} | instance_prefixes.get(form.__name__, set())
        for klass in form.__mro__:
            for name, value in vars(klass).items():
                if isinstance(value, UnboundField):
                    names.update(f"{p}-{name}" if p else name for p in prefixes)
    return sorted(names)


def test_the_parameters_come_from_the_forms() -> None:
    names = query_parameters()
    # The filters of the lists this file was written for, found without being listed.
    assert {"status", "date_from", "date_to", "start", "end", "urgency", "age", "sort"} <= set(
        names
    )
    # The fields of forms given a prefix where a view builds them (the staff's note, the
    # profile's password change).
    assert {"note-body", "resolve-message", "pw-password", "profile-timezone"} <= set(names)


# Forms the walk leaves out: they end the session (or the staff's second step) it goes on with.
SESSION_ENDERS = {"accounts.logout", "accounts.mfa_disable"}


def _walk(app, users, as_user, method: str, send) -> int:
    """``send(client, target, fields)`` for each page that takes ``method``, as each kind of
    user it is for, once per odd value (in every field at once); asserts no server error.
    Returns how many requests were sent."""
    names = query_parameters()
    sent = 0
    for who in ("anonymous", "certified", "clinician", "admin"):
        client = as_user(users[who])
        for rule in rules(app):
            aud = audience(app, rule)
            if who not in AUDIENCES[aud] or method not in methods(rule):
                continue
            if rule.endpoint in SESSION_ENDERS:
                continue
            target = url(app, rule)
            for value in ODD_VALUES:
                response = send(client, target, {name: value for name in names})
                assert response.status_code < 500, (who, target, value, response.status_code)
                sent += 1
                if method != "GET":  # a form may have ended the session (a password change)
                    client = as_user(users[who])
    return sent


def test_no_page_fails_on_odd_values_in_its_query(app, users, as_user) -> None:
    sent = _walk(app, users, as_user, "GET", lambda c, t, f: c.get(t, query_string=f))
    assert sent > 1000  # the walk really walks


def test_no_form_fails_on_odd_values_in_its_fields(app, users, as_user) -> None:
    """Every form a route takes, sent with one odd value in every field of every form of the
    app: refused in the page (or done, where the value is acceptable), never a 500."""
    sent = _walk(app, users, as_user, "POST", lambda c, t, f: c.post(t, data=f))
    assert sent > 500
