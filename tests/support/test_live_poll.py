"""The open queue page's poll: answered 204 (no content) while nothing it shows has changed.

The page and each rendered live part carry a token of what they show (``since`` in the
poll's URL). Every change a clinician must see changes the token at the next poll: a new
request, a claim, a reply, a request resolved, reopened or closed, a request passing its
due time, an alert, and the minute (the "12 min left" texts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from lms.support import notifications, services
from lms.support.models import AlertKind, SupportRequest

LIVE = re.compile(r'hx-get="([^"]+)" hx-trigger="every 10s"')


def live_url(html: str) -> str:
    found = LIVE.search(html)
    assert found, "the page polls its live part"
    return found.group(1).replace("&amp;", "&")


def rows(html: str) -> list[int]:
    return [
        int(n) for n in re.findall(r'data-label="Request"><a href="/clinical/support/(\d+)"', html)
    ]


@pytest.fixture
def clock() -> Iterator[FrozenDateTimeFactory]:
    """The clock stands still a few seconds into a minute (no minute passes by accident)."""
    start = utcnow().replace(second=3, microsecond=0) + timedelta(minutes=1)
    with freeze_time(start) as frozen:
        yield frozen


@pytest.fixture
def desk(make_certified, make_user, make_request, login, client) -> Desk:
    """A clinician with the queue open on two active requests (alerts read) and a colleague."""
    therapist = make_certified(full_name="Tess Filer")
    viewer = make_user("clinician", full_name="Vera Viewer")
    colleague = make_user("clinician", full_name="Cal Colleague")
    open_one = make_request(therapist, urgency="urgent")
    claimed = make_request(therapist, urgency="routine")
    services.claim(claimed.id, colleague.id)
    notifications.mark_read(viewer.id, utcnow())
    db.session.commit()
    login(viewer)
    return Desk(therapist.id, viewer.id, colleague.id, open_one.id, claimed.id)


class Desk:
    """The rows of :func:`desk`, read afresh in the test's session each time (a request made
    through the test client ends the session the objects were loaded in)."""

    def __init__(self, *ids: int) -> None:
        self.ids = ids

    def __getitem__(self, name: str) -> Any:
        therapist, viewer, colleague, open_one, claimed = self.ids
        model, key = {
            "therapist": (User, therapist),
            "viewer": (User, viewer),
            "colleague": (User, colleague),
            "open": (SupportRequest, open_one),
            "claimed": (SupportRequest, claimed),
        }[name]
        return db.session.get(model, key)


def _poll(client: FlaskClient, url: str):
    return client.get(url, headers={"HX-Request": "true"})


def test_an_unchanged_queue_is_answered_with_no_content(client, clock, desk) -> None:
    page = client.get("/clinical/support").get_data(as_text=True)
    url = live_url(page)
    assert "since=" in url
    for _ in range(3):
        unchanged = _poll(client, url)
        assert unchanged.status_code == 204 and unchanged.get_data() == b""
    # The part, rendered in full, carries the same token as the page.
    full = _poll(client, re.sub(r"[?&]since=[^&]+", "", url))
    assert full.status_code == 200
    assert live_url(full.get_data(as_text=True)) == url
    assert sorted(rows(full.get_data(as_text=True))) == sorted(
        [desk["open"].id, desk["claimed"].id]
    )


def _file(desk: Desk, make_request: Callable[..., SupportRequest]) -> None:
    make_request(desk["therapist"], urgency="high", subject="Another question")


def _claim(desk: Desk, _make_request: Any) -> None:
    services.claim(desk["open"].id, desk["colleague"].id)


def _reply(desk: Desk, _make_request: Any) -> None:
    services.reply(desk["claimed"], desk["colleague"], "Calling you now.")


def _await(desk: Desk, _make_request: Any) -> None:
    services.await_therapist(desk["claimed"], desk["colleague"], "Please send the vitals.")


def _resolve(desk: Desk, _make_request: Any) -> None:
    services.resolve(desk["claimed"], desk["colleague"], "Resolved by phone.")


def _close(desk: Desk, _make_request: Any) -> None:
    services.close(desk["open"], desk["therapist"])


def _alert(desk: Desk, _make_request: Any) -> None:
    notifications.alert(desk["viewer"], desk["claimed"], AlertKind.ASSIGNED, utcnow())


CHANGES = {
    "a new request": _file,
    "a claim": _claim,
    "a reply": _reply,
    "waiting for the therapist": _await,
    "a request resolved": _resolve,
    "a request closed by its therapist": _close,
    "an alert for the viewer": _alert,
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_every_change_shows_at_the_next_poll(client, clock, desk, make_request, change) -> None:
    url = live_url(client.get("/clinical/support").get_data(as_text=True))
    assert _poll(client, url).status_code == 204
    CHANGES[change](desk, make_request)
    db.session.commit()
    changed = _poll(client, url)
    assert changed.status_code == 200, change
    html = changed.get_data(as_text=True)
    assert "<html" not in html
    # The new part carries a new token, and is itself current until the next change.
    newer = live_url(html)
    assert newer != url
    assert _poll(client, newer).status_code == 204


def test_a_request_reopened_as_another_leaves_still_shows(
    client, clock, desk, make_request
) -> None:
    """One request leaves the active queue as another comes back in the same poll interval,
    with the same number of active requests, the same highest id and the same sum of
    versions: the fingerprint's id × version sum still tells them apart."""
    colleague, returning, leaving = desk["colleague"], desk["claimed"], desk["open"]
    services.resolve(returning, colleague, "Done.")  # version 3; reopened it will be 4
    services.claim(leaving.id, colleague.id)  # 2
    db.session.refresh(leaving)
    services.reply(leaving, colleague, "On it.")  # 3
    services.await_therapist(leaving, colleague, "Vitals?")  # 4
    make_request(desk["therapist"], urgency="routine", subject="The highest id")
    notifications.mark_read(desk["viewer"].id, utcnow())
    db.session.commit()
    url = live_url(client.get("/clinical/support").get_data(as_text=True))
    before = services.queue_counts(utcnow())

    colleague, returning, leaving = desk["colleague"], desk["claimed"], desk["open"]
    services.resolve(leaving, colleague, "Done too.")
    services.reopen(returning, colleague)
    db.session.commit()
    after = services.queue_counts(utcnow())
    assert (after.unclaimed, after.overdue, after.active) == (
        before.unclaimed,
        before.overdue,
        before.active,
    )
    assert after.fingerprint[:2] == before.fingerprint[:2]
    assert after.fingerprint != before.fingerprint
    changed = _poll(client, url)
    assert changed.status_code == 200
    assert returning.id in rows(changed.get_data(as_text=True))
    assert leaving.id not in rows(changed.get_data(as_text=True))


def test_a_request_passing_its_due_time_shows_at_the_next_poll(client, clock, desk) -> None:
    due = desk["open"].due_at
    # A few seconds before the due time, and a second after it: the same minute.
    clock.move_to(due.replace(second=1) if due.second > 1 else due - timedelta(seconds=1))
    url = live_url(client.get("/clinical/support").get_data(as_text=True))
    assert _poll(client, url).status_code == 204
    clock.move_to(due + timedelta(seconds=1))
    assert int(utcnow().timestamp() // 60) == int((due + timedelta(seconds=1)).timestamp() // 60)
    overdue = _poll(client, url)
    assert overdue.status_code == 200
    assert "1 overdue" in overdue.get_data(as_text=True)


def test_the_part_is_rendered_again_every_minute(client, clock, desk) -> None:
    url = live_url(client.get("/clinical/support").get_data(as_text=True))
    clock.tick(timedelta(seconds=50))
    assert _poll(client, url).status_code == 204
    clock.tick(timedelta(seconds=10))
    fresh = _poll(client, url)
    assert fresh.status_code == 200
    assert "min left" in fresh.get_data(as_text=True)


def test_a_view_of_finished_requests_is_always_rendered(client, clock, desk) -> None:
    services.resolve(desk["claimed"], desk["colleague"], "Done.")
    db.session.commit()
    url = live_url(client.get("/clinical/support?status=resolved").get_data(as_text=True))
    assert "since=" not in url
    answer = _poll(client, url)
    assert answer.status_code == 200
    assert rows(answer.get_data(as_text=True)) == [desk["claimed"].id]


def test_a_token_answers_only_its_own_viewer(client, clock, desk, make_user, login) -> None:
    url = live_url(client.get("/clinical/support").get_data(as_text=True))
    assert _poll(client, url).status_code == 204
    client.post("/logout")
    other = make_user("clinician", full_name="Otto Other")
    notifications.mark_read(other.id, utcnow())
    db.session.commit()
    login(other)
    assert _poll(client, url).status_code == 200


def test_only_staff_get_an_answer_even_with_a_token(
    client, clock, desk, make_certified, login
) -> None:
    url = live_url(client.get("/clinical/support").get_data(as_text=True))
    client.post("/logout")
    anonymous = _poll(client, url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(make_certified())
    assert _poll(client, url).status_code == 403


def test_the_fingerprint_moves_with_every_change_of_an_active_request(desk) -> None:
    now = utcnow()
    seen = [services.queue_counts(now).fingerprint]
    steps: list[Callable[[], Any]] = [
        lambda: services.claim(desk["open"].id, desk["colleague"].id),
        lambda: services.reply(desk["claimed"], desk["colleague"], "On it."),
        lambda: services.await_therapist(desk["claimed"], desk["colleague"], "Vitals?"),
        lambda: services.therapist_reply(desk["claimed"], desk["therapist"], "BP 130/85."),
        lambda: services.resolve(desk["claimed"], desk["colleague"], "Done."),
        lambda: services.reopen(desk["claimed"], desk["colleague"]),
    ]
    for step in steps:
        step()
        db.session.commit()
        seen.append(services.queue_counts(now).fingerprint)
    assert len(set(seen)) == len(seen), seen


# --- the therapist's open conversation ----------------------------------------------------------

THREAD = re.compile(r'hx-get="(/support/\d+/thread[^"]*)"')


def thread_url(html: str) -> str:
    found = THREAD.search(html)
    assert found, "an active request's page polls its conversation"
    return found.group(1).replace("&amp;", "&")


@pytest.fixture
def conversation(make_certified, make_user, make_request, login, client) -> dict[str, int]:
    therapist = make_certified(full_name="Tina Talker")
    clinician = make_user("clinician", full_name="Carl Clin")
    request = make_request(therapist, urgency="high")
    login(therapist)
    return {"therapist": therapist.id, "clinician": clinician.id, "request": request.id}


def _req(ids: dict[str, int]) -> SupportRequest:
    return db.session.get(SupportRequest, ids["request"])


def test_an_unchanged_conversation_is_answered_with_no_content(client, clock, conversation) -> None:
    url = thread_url(client.get(f"/support/{conversation['request']}").get_data(as_text=True))
    assert "since=" in url
    assert _poll(client, url).status_code == 204
    # An internal note is not the therapist's to see: still nothing new for them.
    clinician = db.session.get(User, conversation["clinician"])
    services.add_note(_req(conversation), clinician, "Called the prescriber.")
    db.session.commit()
    assert _poll(client, url).status_code == 204
    services.claim(conversation["request"], conversation["clinician"])
    db.session.commit()
    claimed = _poll(client, url)
    assert claimed.status_code == 200
    newer = thread_url(claimed.get_data(as_text=True))
    assert newer != url and _poll(client, newer).status_code == 204
    services.reply(_req(conversation), clinician, "Calling you in two minutes.")
    db.session.commit()
    replied = _poll(client, newer)
    assert replied.status_code == 200
    assert "Calling you in two minutes." in replied.get_data(as_text=True)
    assert "Called the prescriber." not in replied.get_data(as_text=True)


def test_the_conversation_is_rendered_again_every_minute(client, clock, conversation) -> None:
    url = thread_url(client.get(f"/support/{conversation['request']}").get_data(as_text=True))
    clock.tick(timedelta(seconds=55))
    assert _poll(client, url).status_code == 204
    clock.tick(timedelta(seconds=5))
    assert _poll(client, url).status_code == 200


def test_a_conversation_token_opens_nothing_to_others(
    client, clock, conversation, make_certified, login
) -> None:
    url = thread_url(client.get(f"/support/{conversation['request']}").get_data(as_text=True))
    client.post("/logout")
    anonymous = _poll(client, url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(make_certified(full_name="Other Partner"))
    assert _poll(client, url).status_code == 404


def test_the_pages_links_carry_no_token(client, clock, desk, make_request) -> None:
    for i in range(25):
        make_request(desk["therapist"], urgency="routine", subject=f"Question {i}")
    full = _poll(client, "/clinical/support/live?since=outdated").get_data(as_text=True)
    assert "since=" in live_url(full)
    following = re.search(r'href="([^"]+)" rel="next"', full)
    assert following, "more requests than a page shows"
    assert "page=2" in following.group(1) and "since" not in following.group(1)
