"""The partner's own support requests: paginated, searchable by the subject's words or the
request's number and by status, theirs only, and reading only what the list shows."""

from __future__ import annotations

import re

from lms.crypto import Keyring
from lms.extensions import db
from lms.support import services, views
from tests.conftest import log_in


def _subjects(html: str) -> list[str]:
    return re.findall(r'<td data-label="Subject">([^<]+)', html)


def test_search_by_subject_number_and_status(
    client, make_certified, make_request, make_user, login
) -> None:
    clinician = make_user("clinician")
    user, other = make_certified(), make_certified()
    nausea = make_request(user, subject="Nausea after the session")
    make_request(user, subject="Question about dosing intervals", urgency="routine")
    make_request(other, subject="Nausea and dizziness, another partner's patient")
    services.claim(nausea.id, clinician.id)
    services.resolve(nausea, clinician, "Resolved by phone.")
    db.session.commit()
    login(user)
    assert _subjects(client.get("/support?q=nausea").get_data(as_text=True)) == [
        "Nausea after the session"
    ]
    by_number = client.get(f"/support?q=%23{nausea.id}").get_data(as_text=True)
    assert _subjects(by_number) == ["Nausea after the session"]
    resolved = client.get("/support?status=resolved").get_data(as_text=True)
    assert _subjects(resolved) == ["Nausea after the session"]
    waiting = client.get("/support?status=open").get_data(as_text=True)
    assert _subjects(waiting) == ["Question about dosing intervals"]
    none = client.get("/support?q=headache").get_data(as_text=True)
    assert _subjects(none) == [] and "No request matches these filters." in none
    assert 'href="/support">Clear</a>' in none
    # another partner's request is not theirs to find, by its words or its number
    assert _subjects(client.get("/support?q=dizziness").get_data(as_text=True)) == []
    theirs = client.get(f"/support?q={nausea.id + 2}").get_data(as_text=True)
    assert _subjects(theirs) == []


def test_a_refused_filter_is_said_and_the_list_stays(
    client, make_certified, make_request, make_user, login
) -> None:
    make_user("clinician")
    user = make_certified()
    make_request(user, subject="Kept request")
    login(user)
    response = client.get("/support?status=bogus")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Not a valid choice." in html
    assert _subjects(html) == ["Kept request"]  # the filter was not applied


def test_no_requests_yet_shows_how_to_start(client, make_certified, login) -> None:
    login(make_certified())
    html = client.get("/support").get_data(as_text=True)
    assert "You have not asked the medical team anything yet." in html
    assert 'aria-label="Find your requests"' not in html  # nothing to search


def test_the_list_pages_and_decrypts_the_subjects_shown_only(
    client, make_certified, make_request, make_user, login, monkeypatch
) -> None:
    """A request's subject, description and call-back number are encrypted; the list shows
    the subject: one decryption a row shown, 25 rows a page, the newest first."""
    make_user("clinician")  # someone to notify of each filing
    user = make_certified()
    for n in range(27):
        make_request(user, subject=f"Request number {n:02d}", urgency="routine")
    login(user)
    decrypted: list[bytes] = []
    real = Keyring.decrypt
    monkeypatch.setattr(
        Keyring, "decrypt", lambda self, token: decrypted.append(token) or real(self, token)
    )
    first = client.get("/support").get_data(as_text=True)
    assert len(decrypted) == views.PER_PAGE == 25  # the earlier code: 75 (three a row)
    assert _subjects(first)[:2] == ["Request number 26", "Request number 25"]
    assert "Page 1 of 2" in first
    second = client.get("/support?page=2").get_data(as_text=True)
    assert _subjects(second) == ["Request number 01", "Request number 00"]


def test_a_number_too_long_for_an_id_finds_nothing_and_fails_nothing(
    app, client, make_certified, make_request, make_user, login
) -> None:
    """A search box given a number longer than any id (a phone number pasted, say) says
    nothing matches; before, the database refused the number and the page failed (500)."""
    clinician = make_user("clinician")
    user = make_certified()
    make_request(user, subject="Kept request")
    too_long = "%2399999999999999999999"
    login(user)
    mine = client.get(f"/support?q={too_long}")
    assert mine.status_code == 200
    assert "No request matches these filters." in mine.get_data(as_text=True)
    staff = app.test_client()
    assert log_in(staff, clinician).status_code == 302
    for url in (f"/clinical/support?q={too_long}", f"/clinical/referrals?q={too_long}"):
        response = staff.get(url)
        assert response.status_code == 200, url
        assert "No requests match." in response.get_data(
            as_text=True
        ) or "No referrals match." in response.get_data(as_text=True)
