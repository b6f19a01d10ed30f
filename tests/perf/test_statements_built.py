"""Statements built once: the key requests build no SQL statement of their own.

Building a statement (``select(...).where(...)``) costs Python on every request even when
its SQL is cached, more than running a small indexed query (``python -m bench.layers``):
the statements the key pages and writes run are built once per process, their values bound
(docs/PERFORMANCE.md, "The eleventh round"). What SQLAlchemy builds itself is allowed
(``tests/perf/conftest.py``, ``ORM_OWN``). Each request is made once before it is watched:
a statement built once is built on its first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from bench.built import statements_built
from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from lms.support import notifications
from lms.support import services as support
from lms.support.models import AlertKind
from lms.training.models import Course
from tests.perf.conftest import FILING, add_finished_attempts, add_requests, own_statements
from tests.perf.test_query_counts import (  # noqa: F401 - staff is a fixture
    _answer_form,
    _open_attempt,
    _second_learner,
    staff,
)


def built(client: FlaskClient, url: str, method: str = "GET", **kwargs: Any) -> list[str]:
    """The statements one request to ``url`` builds itself (a page is opened once first)."""
    if method == "GET":
        assert client.get(url).status_code == 200
    with statements_built() as found:
        response = client.open(url, method=method, **kwargs)
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:300]
    return own_statements(found)


def test_the_dashboard_and_a_lesson_build_none(
    client: FlaskClient, login: Any, learner: User, mini_course: Course
) -> None:
    login(learner)
    add_finished_attempts(learner, mini_course, "01-basics", 2)
    assert built(client, "/dashboard") == []
    assert built(client, "/courses/mini-course/modules/01-basics") == []


def test_saving_and_submitting_answers_build_none(
    client: FlaskClient, login: Any, learner: User, mini_course: Course
) -> None:
    login(learner)
    attempt = _open_attempt(client)
    form = _answer_form(attempt)
    first = next(iter(form))
    save = f"/attempts/{attempt.id}/answers/{int(first[1:].split('-')[0])}"
    assert client.post(save, data={first: form[first]}).status_code == 200
    assert built(client, save, "POST", data={first: form[first]}) == []
    assert client.post(f"/attempts/{attempt.id}/submit", data=form).status_code == 302
    # A second learner's submit, after the first's: the statements exist by then.
    other = _second_learner(learner, mini_course)
    assert client.post("/logout").status_code == 302
    login(other)
    attempt = _open_attempt(client)
    assert built(client, f"/attempts/{attempt.id}/submit", "POST", data=_answer_form(attempt)) == []


def test_a_request_page_and_a_filing_build_none(
    client: FlaskClient,
    login: Any,
    make_certified: Callable[..., User],
    staff: dict[str, User],  # noqa: F811
) -> None:
    therapist = make_certified()
    support.set_on_call(staff["clinician"], True)
    db.session.commit()
    request = add_requests(therapist, 2, clinician=staff["clinician"])[0]
    login(therapist)
    assert built(client, f"/support/{request.id}") == []
    filed = client.post("/support/new", data={**FILING, "submission_token": "one"})
    assert filed.status_code == 302
    assert built(client, "/support/new", "POST", data={**FILING, "submission_token": "two"}) == []


def test_the_queue_poll_builds_only_its_rows_statement(
    client: FlaskClient,
    login: Any,
    make_certified: Callable[..., User],
    staff: dict[str, User],  # noqa: F811
) -> None:
    """The rows' statement depends on the filters (one shape each), so it is built on each
    poll that renders; the alerts' and the counters' are not."""
    therapist, clinician = make_certified(), staff["clinician"]
    first = add_requests(therapist, 3, clinician=clinician)[0]
    notifications.alert(clinician, first, AlertKind.THERAPIST_REPLY, utcnow())  # listed
    db.session.commit()
    login(clinician)
    assert built(client, "/clinical/support/live") == ["Select paginate"]


def test_a_directory_search_builds_none(
    client: FlaskClient,
    login: Any,
    make_certified: Callable[..., User],
    staff: dict[str, User],  # noqa: F811
) -> None:
    """A search's statement is built once for each shape of filters, the words searched for
    a parameter, and so is its page with the count (``lms.db.window_counted``); the listed
    therapists' licenses and requirement flags are built once too. (The admin dashboard's
    boxes are built once as well; its funnel is built when its cache runs out, which the
    tests turn off.)"""
    make_certified(full_name="Smith Certified")
    login(staff["admin"])
    assert built(client, "/admin/therapists?q=smith") == []
    # Other words, another order, a state: the same statements, or one built once more.
    assert built(client, "/admin/therapists?q=jones") == []
    client.get("/admin/therapists?q=smith&state=CO&sort=name")
    assert built(client, "/admin/therapists?q=lee&state=NY&sort=name") == []
