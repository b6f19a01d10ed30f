"""The clinicians' queue and the work on a request: claim, reply, notes, status changes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from lms.db import utcnow
from lms.extensions import db
from lms.support import services
from lms.support.models import (
    AlertKind,
    EventKind,
    Status,
    SupportAlert,
    SupportEvent,
    SupportRequest,
)
from tests.support.conftest import DESCRIPTION, audit_count, leaks_clinical_details

NOTE = "Internal: patient known to cardiology, check the chart before calling back."


def _fresh(request: SupportRequest) -> SupportRequest:
    return db.session.get(SupportRequest, request.id, populate_existing=True)


def _rows(html: str) -> list[int]:
    """Request numbers in the order the queue table lists them."""
    body = html.split("<tbody>", 1)[1] if "<tbody>" in html else ""
    return [
        int(n) for n in re.findall(r'data-label="Request"><a href="/clinical/support/(\d+)"', body)
    ]


def test_the_queue_lists_urgent_first_then_by_due_time(
    client, make_certified, make_request, make_user, login
) -> None:
    therapist = make_certified()
    now = utcnow()
    routine_old = make_request(therapist, now=now - timedelta(hours=23), urgency="routine")
    high = make_request(therapist, now=now - timedelta(minutes=30), urgency="high")
    urgent_new = make_request(therapist, now=now - timedelta(minutes=1), urgency="urgent")
    urgent_old = make_request(therapist, now=now - timedelta(minutes=20), urgency="urgent")
    resolved = make_request(therapist, now=now - timedelta(minutes=50), urgency="urgent")
    clinician = make_user("clinician")
    services.resolve(resolved, clinician, "Done by phone.")
    db.session.commit()
    login(clinician)
    html = client.get("/clinical/support").get_data(as_text=True)
    # Urgent (the overdue one first), then by due time: routine (due in 1 h) before high (1.5 h).
    assert _rows(html) == [urgent_old.id, urgent_new.id, routine_old.id, high.id]
    assert "Overdue by 5 min" in html
    assert re.search(r"1[34] min left", html)
    assert "2 unclaimed" not in html and "4 unclaimed" in html and "1 overdue" in html
    resolved_page = client.get("/clinical/support?status=resolved").get_data(as_text=True)
    assert _rows(resolved_page) == [resolved.id]


def test_finished_requests_are_listed_newest_first(
    client, make_certified, make_request, make_user, login
) -> None:
    """Resolved or closed, years of them: the latest first, whatever their urgency or due
    time (the active queue keeps its order, above)."""
    therapist = make_certified()
    clinician = make_user("clinician")
    now = utcnow()
    oldest = make_request(therapist, now=now - timedelta(days=400), urgency="urgent")
    middle = make_request(therapist, now=now - timedelta(days=3), urgency="routine")
    newest = make_request(therapist, now=now - timedelta(hours=2), urgency="high")
    for req in (middle, oldest, newest):
        services.resolve(req, clinician, "Done by phone.")
    closed_old = make_request(therapist, now=now - timedelta(days=30), urgency="urgent")
    closed_new = make_request(therapist, now=now - timedelta(days=1), urgency="routine")
    for req in (closed_new, closed_old):
        services.close(req, therapist)
    still_open = make_request(therapist, now=now - timedelta(days=2), urgency="routine")
    db.session.commit()
    login(clinician)
    resolved = client.get("/clinical/support?status=resolved").get_data(as_text=True)
    assert _rows(resolved) == [newest.id, middle.id, oldest.id]
    assert "Requests, newest first" in resolved
    closed = client.get("/clinical/support?status=closed").get_data(as_text=True)
    assert _rows(closed) == [closed_new.id, closed_old.id]
    live = client.get("/clinical/support/live?status=resolved").get_data(as_text=True)
    assert _rows(live) == [newest.id, middle.id, oldest.id]
    active = client.get("/clinical/support").get_data(as_text=True)
    assert _rows(active) == [still_open.id]
    assert "Requests, urgent first, then by due time" in active


def test_each_row_names_the_therapist_and_the_owner(
    client, make_certified, make_request, make_user, login
) -> None:
    first, second = make_certified(), make_certified()
    claimed = make_request(first, urgency="urgent")
    waiting = make_request(second, urgency="routine")
    owner = make_user("clinician")
    services.claim(claimed.id, owner.id)
    db.session.commit()
    login(make_user("clinician"))

    def cells(html: str, request_id: int) -> tuple[str, str]:
        row = html.split(f'href="/clinical/support/{request_id}">#{request_id}</a>', 1)[1]
        therapist = row.split('data-label="Therapist">', 1)[1].split("</td>", 1)[0]
        status = row.split('data-label="Status">', 1)[1].split("</td>", 1)[0]
        return therapist, status

    for path in ("/clinical/support", "/clinical/support?urgency=urgent", "/clinical/support/live"):
        html = client.get(path).get_data(as_text=True)
        therapist, status = cells(html, claimed.id)
        assert therapist == first.full_name, path
        assert f'<span class="muted">{owner.full_name}</span>' in status, path
    html = client.get("/clinical/support").get_data(as_text=True)
    therapist, status = cells(html, waiting.id)
    assert therapist == second.full_name and "muted" not in status


def test_due_times_show_in_the_clinicians_time_zone(
    client, make_certified, make_request, make_user, login
) -> None:
    request = make_request(make_certified(), urgency="routine")
    login(make_user("clinician", timezone="America/Los_Angeles"))
    html = client.get("/clinical/support").get_data(as_text=True)
    due = request.due_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    assert f"{due:%b %-d, %Y %-I:%M %p} {due.tzname()}" in html


def test_filters_and_the_live_fragment_keep_them(
    client, make_certified, make_request, make_user, login
) -> None:
    therapist = make_certified(full_name="Tess Findable")
    other = make_certified(full_name="Olga Other")
    now = utcnow()
    me, colleague = make_user("clinician"), make_user("clinician")
    mine = make_request(therapist, now=now - timedelta(minutes=1), urgency="high")
    theirs = make_request(other, now=now - timedelta(minutes=2), urgency="routine")
    unclaimed = make_request(other, now=now - timedelta(minutes=3), urgency="routine")
    overdue = make_request(other, now=now - timedelta(minutes=30), urgency="urgent")
    services.claim(mine.id, me.id)
    services.claim(theirs.id, colleague.id)
    db.session.commit()
    login(me)

    def ids(query: str) -> set[int]:
        response = client.get("/clinical/support" + query)
        assert response.status_code == 200, query
        return set(_rows(response.get_data(as_text=True)))

    assert ids("") == {mine.id, theirs.id, unclaimed.id, overdue.id}
    assert ids("?mine=y") == {mine.id}
    assert ids("?unclaimed=y") == {unclaimed.id, overdue.id}
    assert ids("?overdue=y") == {overdue.id}
    assert ids("?urgency=routine") == {theirs.id, unclaimed.id}
    assert ids("?status=claimed") == {mine.id, theirs.id}
    assert ids("?q=findable") == {mine.id}  # the therapist's name
    assert ids("?q=olga") == {theirs.id, unclaimed.id, overdue.id}
    assert ids(f"?q=%23{theirs.id}") >= {theirs.id}
    assert client.get("/clinical/support?status=bogus").status_code == 422

    page = client.get("/clinical/support?unclaimed=y&urgency=routine").get_data(as_text=True)
    live = re.search(r'hx-get="([^"]+)" hx-trigger="every 10s"', page)
    assert live, "the queue polls its live fragment every 10 seconds"
    url = live.group(1).replace("&amp;", "&")
    assert "unclaimed=y" in url and "urgency=routine" in url and "since=" in url
    # Rendered in full without the page's token (with it, nothing changed: no content).
    fragment = client.get(re.sub(r"&?since=[^&]+", "", url))
    assert fragment.status_code == 200
    fragment_html = fragment.get_data(as_text=True)
    assert "<html" not in fragment_html
    assert set(_rows(fragment_html)) == {unclaimed.id}


def test_a_new_request_appears_in_the_live_fragment(
    client, make_certified, make_request, make_user, login
) -> None:
    login(make_user("clinician"))
    assert _rows(client.get("/clinical/support/live").get_data(as_text=True)) == []
    request = make_request(make_certified())
    html = client.get("/clinical/support/live").get_data(as_text=True)
    assert _rows(html) == [request.id]
    assert "New request: request #" in html  # the in-app alert


def test_claim_reply_and_the_therapist_sees_the_reply(
    client, make_certified, make_request, make_user, login, mail
) -> None:
    therapist = make_certified()
    request = make_request(therapist)
    first, second = make_user("clinician"), make_user("clinician", full_name="Second Doc")
    mail.clear()
    login(first)
    response = client.post(f"/clinical/support/{request.id}/claim")
    assert response.status_code == 302
    assert _fresh(request).claimed_by_id == first.id
    assert _fresh(request).status == Status.CLAIMED
    client.post("/logout")
    login(second)
    refused = client.post(f"/clinical/support/{request.id}/claim")
    assert refused.status_code == 409
    assert f"{first.full_name} claimed this request first" in refused.get_data(as_text=True)
    # Replying to a request someone else owns is refused too.
    response = client.post(f"/clinical/support/{request.id}/reply", data={"body": "Me too"})
    assert response.status_code == 422
    assert "has this request" in response.get_data(as_text=True)
    client.post("/logout")

    login(first)
    reply = "Hold the next dose; I am calling you in two minutes."
    response = client.post(f"/clinical/support/{request.id}/reply", data={"body": reply})
    assert response.status_code == 302
    row = _fresh(request)
    assert row.first_response_at is not None and row.first_response_by_id == first.id
    assert row.met_target is True
    assert [m.to for m in mail] == [therapist.email]
    assert "replied" in mail[0].subject
    assert reply.lower() not in (mail[0].text + mail[0].html).lower()
    assert leaks_clinical_details(mail[0].subject + mail[0].text + mail[0].html) == []
    assert f"/support/{request.id}" in mail[0].text
    client.post("/logout")

    login(therapist)
    index = client.get("/support").get_data(as_text=True)
    assert "New reply" in index
    html = client.get(f"/support/{request.id}").get_data(as_text=True)
    assert reply in html
    assert "New reply" not in client.get("/support").get_data(as_text=True)  # read now


def test_replying_to_an_unclaimed_request_claims_it(
    client, make_certified, make_request, make_user, login
) -> None:
    request = make_request(make_certified())
    clinician = make_user("clinician")
    login(clinician)
    response = client.post(f"/clinical/support/{request.id}/reply", data={"body": "On it."})
    assert response.status_code == 302
    row = _fresh(request)
    assert row.claimed_by_id == clinician.id and row.first_response_at is not None
    kinds = [e.kind for e in row.events]
    assert kinds[:1] == [EventKind.FILED]
    assert EventKind.CLAIMED in kinds and kinds[-1] == EventKind.REPLY


def test_internal_notes_stay_internal(
    client, make_certified, make_request, make_user, login, mail
) -> None:
    therapist = make_certified()
    request = make_request(therapist)
    clinician = make_user("clinician")
    login(clinician)
    mail.clear()
    response = client.post(f"/clinical/support/{request.id}/note", data={"note-body": NOTE})
    assert response.status_code == 302
    assert NOTE in client.get(f"/clinical/support/{request.id}").get_data(as_text=True)
    assert mail == []
    note = db.session.scalars(select(SupportEvent).where(SupportEvent.kind == EventKind.NOTE)).one()
    assert note.internal is True
    client.post("/logout")
    login(therapist)
    for url in (f"/support/{request.id}", f"/support/{request.id}/thread", "/support"):
        html = client.get(url).get_data(as_text=True)
        assert NOTE not in html, url
        assert "Internal" not in html, url
        assert "Notification" not in html, url  # the ladder's rows are internal too


def test_every_staff_view_is_audited(
    client, make_certified, make_request, make_user, login
) -> None:
    request = make_request(make_certified())
    clinician = make_user("clinician")
    login(clinician)
    assert audit_count("support.viewed", request.id, clinician) == 0
    page = client.get(f"/clinical/support/{request.id}")
    assert page.status_code == 200 and DESCRIPTION in page.get_data(as_text=True)
    assert audit_count("support.viewed", request.id, clinician) == 1
    client.get(f"/clinical/support/{request.id}")
    assert audit_count("support.viewed", request.id, clinician) == 2
    client.post(f"/clinical/support/{request.id}/note", data={"note-body": ""})  # re-rendered, 422
    assert audit_count("support.viewed", request.id, clinician) == 3
    client.get("/clinical/support")
    assert audit_count("support.queue_viewed", actor=clinician) == 1
    admin = make_user("admin")
    client.post("/logout")
    login(admin)
    client.get(f"/clinical/support/{request.id}")
    assert audit_count("support.viewed", request.id, admin) == 1


def test_awaiting_resolve_reopen_and_the_therapist_replies_and_closes(
    client, make_certified, make_request, make_user, login, mail
) -> None:
    therapist = make_certified()
    request = make_request(therapist)
    clinician = make_user("clinician")
    login(clinician)
    client.post(f"/clinical/support/{request.id}/claim")
    # Waiting for the therapist needs a reply first.
    response = client.post(f"/clinical/support/{request.id}/awaiting", data={})
    assert response.status_code == 422
    assert "Reply to the therapist first" in response.get_data(as_text=True)
    response = client.post(
        f"/clinical/support/{request.id}/awaiting",
        data={"awaiting-message": "What is the current blood pressure?"},
    )
    assert response.status_code == 302
    assert _fresh(request).status == Status.AWAITING_THERAPIST
    client.post("/logout")

    login(therapist)
    mail.clear()
    response = client.post(f"/support/{request.id}/reply", data={"body": "Now 130/85."})
    assert response.status_code == 302
    assert _fresh(request).status == Status.CLAIMED
    assert [m.to for m in mail] == [clinician.email]
    assert "130/85" not in mail[0].text
    alert = db.session.scalars(
        select(SupportAlert).where(SupportAlert.kind == AlertKind.THERAPIST_REPLY)
    ).one()
    assert alert.user_id == clinician.id
    client.post("/logout")

    login(clinician)
    response = client.post(
        f"/clinical/support/{request.id}/resolve", data={"resolve-message": "Stable. Done."}
    )
    assert response.status_code == 302
    assert _fresh(request).status == Status.RESOLVED
    assert client.post(f"/clinical/support/{request.id}/reopen").status_code == 302
    assert _fresh(request).status == Status.CLAIMED
    client.post(f"/clinical/support/{request.id}/resolve", data={})
    assert _fresh(request).status == Status.RESOLVED
    client.post("/logout")

    login(therapist)
    # A reply on a resolved request opens it again for its clinician: nothing is lost.
    client.post(f"/support/{request.id}/reply", data={"body": "It came back."})
    assert _fresh(request).status == Status.CLAIMED
    assert client.post(f"/support/{request.id}/close").status_code == 302
    assert _fresh(request).status == Status.CLOSED
    refused = client.post(f"/support/{request.id}/reply", data={"body": "More"})
    assert refused.status_code == 422
    kinds = [e.kind.value for e in _fresh(request).events if not e.internal]
    assert kinds == [
        "filed",
        "claimed",
        "reply",
        "awaiting",
        "therapist_reply",
        "reply",
        "resolved",
        "reopened",
        "resolved",
        "therapist_reply",
        "closed",
    ]
    for action in ("claimed", "replied", "awaiting_therapist", "resolved", "reopened", "closed"):
        assert audit_count(f"support.{action}", request.id) >= 1, action


def test_resolving_an_unanswered_request_needs_a_message(
    client, make_certified, make_request, make_user, login
) -> None:
    request = make_request(make_certified())
    login(make_user("clinician"))
    response = client.post(f"/clinical/support/{request.id}/resolve", data={})
    assert response.status_code == 422
    assert "nobody has replied" in response.get_data(as_text=True)
    assert _fresh(request).status == Status.OPEN  # nothing half-done: not even the claim


def test_reassign_uses_the_version_the_clinician_saw(
    client, make_certified, make_request, make_user, login, mail
) -> None:
    request = make_request(make_certified())
    a, b, c = make_user("clinician"), make_user("clinician"), make_user("clinician")
    services.claim(request.id, a.id)
    db.session.commit()
    seen = _fresh(request).version
    login(c)
    mail.clear()
    response = client.post(
        f"/clinical/support/{request.id}/reassign",
        data={"assignee_id": str(b.id), "version": str(seen)},
    )
    assert response.status_code == 302
    assert _fresh(request).claimed_by_id == b.id
    assert [m.to for m in mail] == [b.email]
    # A stale form (the version before) changes nothing and says why.
    response = client.post(
        f"/clinical/support/{request.id}/reassign",
        data={"assignee_id": str(a.id), "version": str(seen)},
    )
    assert response.status_code == 422
    assert "changed while you were looking" in response.get_data(as_text=True)
    assert _fresh(request).claimed_by_id == b.id
    # Only active clinicians can be chosen.
    admin = make_user("admin")
    response = client.post(
        f"/clinical/support/{request.id}/reassign",
        data={"assignee_id": str(admin.id), "version": str(_fresh(request).version)},
    )
    assert response.status_code == 422


@pytest.mark.parametrize("sent", [str(2**31), str(10**30)])
def test_reassign_refuses_a_version_no_request_can_have(
    client, make_certified, make_request, make_user, login, sent
) -> None:
    """A form tampered with (a version past any INTEGER) is refused as a stale one, in the
    page; the database is not asked (it would fail the statement: a 500)."""
    request = make_request(make_certified())
    a, b = make_user("clinician"), make_user("clinician")
    services.claim(request.id, a.id)
    db.session.commit()
    login(b)
    response = client.post(
        f"/clinical/support/{request.id}/reassign",
        data={"assignee_id": str(b.id), "version": sent},
    )
    assert response.status_code == 422
    assert "changed while you were looking" in response.get_data(as_text=True)
    assert _fresh(request).claimed_by_id == a.id


def test_admins_read_note_and_reassign_but_do_not_take_clinical_actions(
    client, make_certified, make_request, make_user, login
) -> None:
    request = make_request(make_certified())
    clinician = make_user("clinician")
    login(make_user("admin"))
    page = client.get(f"/clinical/support/{request.id}").get_data(as_text=True)
    assert "Claim it" not in page and "Send the reply" not in page
    assert client.get("/clinical/support").status_code == 200
    assert client.get("/clinical/support/metrics").status_code == 200
    for action in ("claim", "reply", "awaiting", "resolve", "reopen"):
        response = client.post(f"/clinical/support/{request.id}/{action}", data={"body": "x"})
        assert response.status_code == 403, action
    assert client.post("/clinical/support/on-call").status_code == 403
    assert (
        client.post(f"/clinical/support/{request.id}/note", data={"note-body": "Paged Dr A."})
    ).status_code == 302
    response = client.post(
        f"/clinical/support/{request.id}/reassign",
        data={"assignee_id": str(clinician.id), "version": str(_fresh(request).version)},
    )
    assert response.status_code == 302
    assert _fresh(request).claimed_by_id == clinician.id
    assert _fresh(request).status == Status.CLAIMED


def test_clinicians_go_on_and_off_call(client, make_user, login) -> None:
    clinician = make_user("clinician")
    login(clinician)
    assert "Nobody is on call" in client.get("/clinical/support").get_data(as_text=True)
    response = client.post("/clinical/support/on-call", data={"on_call": "1"})
    assert response.status_code == 302
    assert services.is_on_call(clinician)
    html = client.get("/clinical/support").get_data(as_text=True)
    assert f"On call now: {clinician.full_name}." in html and "Go off call" in html
    client.post("/clinical/support/on-call", data={"on_call": "0"})
    assert not services.is_on_call(clinician)
    assert audit_count("support.on_call", actor=clinician) == 1
    assert audit_count("support.off_call", actor=clinician) == 1


def test_alerts_are_listed_and_marked_read(
    client, make_certified, make_request, make_user, login, on_call
) -> None:
    clinician = on_call(make_user("clinician"))
    request = make_request(make_certified())
    login(clinician)
    html = client.get("/clinical/support").get_data(as_text=True)
    assert f"New request: request #{request.id}" in html
    with client.application.test_request_context():
        from lms.support.notifications import unread_count

        assert unread_count(clinician.id) == 1
    client.post("/clinical/support/alerts/read")
    assert "Your alerts" not in client.get("/clinical/support").get_data(as_text=True)


def test_the_queue_asks_for_alerts_only_when_some_are_unread(
    client, make_certified, make_user, make_request, login, on_call, count_queries
) -> None:
    """The unread count rides on the session (the navigation's badge): with none unread the
    queue and its poll run no alert query; a new alert is listed at the next poll."""
    clinician = on_call(make_user("clinician"))
    login(clinician)
    for url in ("/clinical/support", "/clinical/support/live"):
        with count_queries as q:
            html = client.get(url).get_data(as_text=True)
        assert "Your alerts" not in html
        assert "support_alerts" in q.statements[0]  # the badge's count, with the session
        assert not any("support_alerts" in sql for sql in q.statements[1:]), url
    request = make_request(make_certified())
    live = client.get("/clinical/support/live").get_data(as_text=True)
    assert "Your alerts" in live and f"New request: request #{request.id}" in live


def test_the_unfiltered_queue_writes_its_page_size_and_pages_through_every_request(
    client, make_certified, make_user, make_request, login, count_queries
) -> None:
    """The unfiltered queue's rows depend on no value sent with them: its statement is built
    once and its LIMIT and OFFSET are written into the SQL (PostgreSQL plans it once;
    docs/PERFORMANCE.md, "The seventeenth round"). Its two pages list every active request
    once, in the queue's order; a filtered view sends its page size as a parameter."""
    therapist = make_certified()
    now = utcnow()
    made = [
        make_request(therapist, now=now - timedelta(minutes=i), urgency="routine")
        for i in range(30)
    ]
    login(make_user("clinician"))

    def rows_sql(statements: list[str]) -> str:
        (sql,) = [s for s in statements if "support_requests.subject" in s]
        return " ".join(sql.split())

    with count_queries as q:
        first = _rows(client.get("/clinical/support").get_data(as_text=True))
    assert "LIMIT 25" in rows_sql(q.statements)
    with count_queries as q:
        second = _rows(client.get("/clinical/support?page=2").get_data(as_text=True))
    assert "LIMIT 25 OFFSET 25" in rows_sql(q.statements)
    # Routine requests are due a fixed time after filing: the oldest is due first.
    assert first + second == [r.id for r in reversed(made)]
    with count_queries as q:
        routine = _rows(client.get("/clinical/support?urgency=routine").get_data(as_text=True))
    assert routine == first and "LIMIT 25" not in rows_sql(q.statements)
    unfiltered = services.QueueFilter()
    assert services.queue_query(therapist, unfiltered, now) is services.queue_query(
        make_user("clinician"), unfiltered, now + timedelta(hours=1)
    )


@pytest.mark.parametrize("role", ["therapist"])
def test_therapists_get_403_on_staff_pages(client, make_certified, login, role) -> None:
    login(make_certified())
    for url in ("/clinical/support", "/clinical/support/live", "/clinical/support/metrics"):
        assert client.get(url).status_code == 403, url
