"""The partner's own referral list: paginated, searchable by name or number and by status,
theirs only, and reading only what it shows of each (encrypted) referral."""

from __future__ import annotations

import re

from lms.crypto import Keyring
from lms.extensions import db
from lms.referrals import services


def _names(html: str) -> list[str]:
    return re.findall(r'<td data-label="Patient">([^<]+)', html)


def test_the_list_pages_newest_first(client, make_certified, make_referral, login) -> None:
    user = make_certified()
    for n in range(7):
        make_referral(user, patient_name=f"Paged Patient {n}", email=f"p{n}@example.net")
    login(user)
    from lms.referrals import views

    per_page, views.PER_PAGE = views.PER_PAGE, 3
    try:
        first = client.get("/referrals").get_data(as_text=True)
        last = client.get("/referrals?page=3").get_data(as_text=True)
    finally:
        views.PER_PAGE = per_page
    assert _names(first) == ["Paged Patient 6", "Paged Patient 5", "Paged Patient 4"]
    assert "Page 1 of 3" in first and 'rel="next"' in first
    assert _names(last) == ["Paged Patient 0"]
    assert "Page 3 of 3" in last


def test_search_by_name_number_and_status(
    client, make_certified, make_referral, make_user, login
) -> None:
    user, other = make_certified(), make_certified()
    alvarez = make_referral(user, patient_name="Maria Alvarez", email="m@example.net")
    make_referral(user, patient_name="Sam Okafor", email="s@example.net")
    make_referral(other, patient_name="Maria Alvarez-Other", email="o@example.net")
    services.change_status(alvarez, "contacted", make_user("clinician"))
    db.session.commit()
    login(user)
    assert _names(client.get("/referrals?q=alvarez").get_data(as_text=True)) == ["Maria Alvarez"]
    by_number = client.get(f"/referrals?q=%23{alvarez.id}").get_data(as_text=True)
    assert _names(by_number) == ["Maria Alvarez"]
    by_status = client.get("/referrals?status=contacted").get_data(as_text=True)
    assert _names(by_status) == ["Maria Alvarez"]
    none = client.get("/referrals?q=nobody").get_data(as_text=True)
    assert _names(none) == [] and "No referral matches these filters." in none
    assert 'href="/referrals">Clear</a>' in none
    # another partner's patient is not theirs to find, by name or by number
    assert _names(client.get("/referrals?q=other").get_data(as_text=True)) == []
    theirs = client.get(f"/referrals?q={alvarez.id + 2}").get_data(as_text=True)
    assert _names(theirs) == []


def test_a_refused_filter_is_said_and_the_list_stays(
    client, make_certified, make_referral, login
) -> None:
    user = make_certified()
    make_referral(user, patient_name="Kept Patient")
    login(user)
    response = client.get("/referrals?status=bogus&q=" + "x" * 201)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Not a valid choice." in html
    assert "Field cannot be longer than 200 characters." in html
    assert _names(html) == ["Kept Patient"]  # the filters were not applied


def test_no_referrals_yet_shows_how_to_start(client, make_certified, login) -> None:
    login(make_certified())
    html = client.get("/referrals").get_data(as_text=True)
    assert "You have not referred a patient yet." in html
    assert 'aria-label="Find your referrals"' not in html  # nothing to search


def test_the_list_decrypts_the_names_shown_only(
    client, make_certified, make_referral, login, monkeypatch, count_queries
) -> None:
    """Each referral's identity and clinical text are encrypted (name, date of birth, e-mail,
    phone, treatments, medications…). The list shows the name: one decryption a row shown,
    whatever else the referral holds, and the same statements with 2 rows as with 30."""
    user = make_certified()
    login(user)
    decrypted: list[bytes] = []
    real = Keyring.decrypt
    monkeypatch.setattr(
        Keyring, "decrypt", lambda self, token: decrypted.append(token) or real(self, token)
    )

    def read() -> tuple[int, int, int]:
        decrypted.clear()
        with count_queries as q:
            html = client.get("/referrals").get_data(as_text=True)
        return len(_names(html)), len(decrypted), q.count

    for n in range(2):
        make_referral(user, patient_name=f"Few {n}", email=f"f{n}@example.net")
    shown, decryptions, statements = read()
    assert (shown, decryptions) == (2, 2)
    for n in range(28):
        make_referral(user, patient_name=f"Many {n}", email=f"m{n}@example.net")
    assert read() == (25, 25, statements)  # the first page; the earlier code: all 30, 180
