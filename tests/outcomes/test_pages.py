"""Outcome pages: recording a questionnaire, the result, the trend, the summary, corrections."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import func, select

from lms.audit import AuditEvent
from lms.db import utcnow
from lms.extensions import db
from lms.outcomes import services
from lms.outcomes.models import InstrumentKind, Measurement
from tests.outcomes.conftest import GAD7_3, GAD7_16, PHQ9_13, PHQ9_ITEM9

YESTERDAY = date.today() - timedelta(days=1)


def _form(answers: list[int], day: date | None = YESTERDAY) -> dict[str, str]:
    data = {f"item{n}": str(v) for n, v in enumerate(answers, start=1)}
    data["administered_on"] = day.isoformat() if day else ""
    return data


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Measurement))


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_phq9_form_has_the_real_items_as_radio_groups(
    client, make_certified, make_referral, login
) -> None:
    user = make_certified()
    referral = make_referral(user)
    login(user)
    page = _text(client.get(f"/outcomes/patients/{referral.id}/new?instrument=phq9"))
    assert "Over the last 2 weeks, how often have you been bothered by" in page
    assert page.count("<fieldset") == 9 and page.count("<legend>") == 9
    assert "Thoughts that you would be better off dead or of hurting yourself" in page
    for label in ("Not at all", "Several days", "More than half the days", "Nearly every day"):
        assert page.count(f">{label} <span") == 9
    assert page.count('type="radio"') == 36
    # The date defaults to today in the therapist's time zone.
    today = services.local_today(user).isoformat()
    assert re.search(rf'id="administered_on"[^>]*value="{today}"', page), page
    gad = _text(client.get(f"/outcomes/patients/{referral.id}/new?instrument=gad7"))
    assert gad.count("<fieldset") == 7 and "Feeling nervous, anxious, or on edge" in gad


def test_recording_a_phq9_shows_total_and_band(
    client, make_certified, make_referral, login, mail
) -> None:
    user = make_certified()
    referral = make_referral(user)
    login(user)
    response = client.post(
        f"/outcomes/patients/{referral.id}/new?instrument=phq9", data=_form(PHQ9_13)
    )
    assert response.status_code == 302
    row = db.session.scalars(select(Measurement)).one()
    assert (row.instrument, row.total, row.answers) == (InstrumentKind.PHQ9, 13, PHQ9_13)
    assert row.administered_on == YESTERDAY and row.recorded_by_id == user.id
    assert response.headers["Location"].endswith(f"/outcomes/measurements/{row.id}")
    page = _text(client.get(response.headers["Location"]))
    assert "Total 13" in page and "Moderate" in page
    assert "This is the baseline" in page
    assert 'role="alert"' not in page and "Safety check" not in page
    assert mail == []  # clinical data never goes out by e-mail


def test_phq9_item_9_above_0_shows_the_safety_prompt(
    client, make_certified, make_referral, login, record
) -> None:
    user = make_certified()
    referral = make_referral(user)
    login(user)
    response = client.post(
        f"/outcomes/patients/{referral.id}/new?instrument=phq9",
        data=_form(PHQ9_ITEM9),
        follow_redirects=True,
    )
    page = _text(response)
    assert "Total 15" in page and "Moderately severe" in page
    alert = re.search(r'<div class="alert alert-error oc-safety" role="alert".*?</div>', page, re.S)
    assert alert, page
    assert "Safety check needed: PHQ-9 item 9" in alert.group(0)
    assert "More than half the days" in alert.group(0)
    assert 'href="/support/new"' in alert.group(0)
    # ...and on the patient page, for that measurement.
    patient = _text(client.get(f"/outcomes/patients/{referral.id}"))
    assert 'role="alert"' in patient and "Safety check needed" in patient
    assert "Item 9: More than half the days" in patient
    # The summary flags the patient.
    assert "PHQ-9 item 9: check safety" in _text(client.get("/outcomes"))
    # A later PHQ-9 with item 9 at 0: no prompt at the top of the patient page any more.
    record(referral, "phq9", PHQ9_13, services.local_today(user))
    patient = _text(client.get(f"/outcomes/patients/{referral.id}"))
    assert 'role="alert"' not in patient and "Item 9: More than half the days" in patient


def test_a_gad7_never_shows_the_safety_prompt(client, make_certified, make_referral, login) -> None:
    user = make_certified()
    referral = make_referral(user)
    login(user)
    page = _text(
        client.post(
            f"/outcomes/patients/{referral.id}/new?instrument=gad7",
            data=_form([3] * 7),
            follow_redirects=True,
        )
    )
    assert "Total 21" in page and "Severe" in page and "Safety check" not in page


def test_an_unanswered_item_is_refused_and_the_other_answers_kept(
    client, make_certified, make_referral, login
) -> None:
    user = make_certified()
    referral = make_referral(user)
    login(user)
    data = _form(PHQ9_13)
    del data["item4"]
    response = client.post(f"/outcomes/patients/{referral.id}/new?instrument=phq9", data=data)
    assert response.status_code == 422
    page = _text(response)
    assert "Choose an answer for item 4." in page
    assert 'href="#item4-group"' in page
    assert 'id="item4-error"' in page and 'aria-describedby="stem item4-error"' in page
    # The answers given are still checked.
    for n, value in enumerate(PHQ9_13, start=1):
        if n != 4:
            assert re.search(rf'id="item{n}-{value}"[^>]*checked', page), n
    assert not re.search(r'id="item4-\d"[^>]*checked', page)
    assert f'value="{YESTERDAY.isoformat()}"' in page
    assert _count() == 0


def test_bad_answers_and_dates_are_refused(client, make_certified, make_referral, login) -> None:
    user = make_certified()
    referral = make_referral(user, date_of_birth=date(1985, 4, 2))
    login(user)
    url = f"/outcomes/patients/{referral.id}/new?instrument=gad7"
    cases = [
        (_form([0, 0, 0, 0, 0, 0, 4]), "Choose an answer for item 7."),
        (_form([0, 0, 0, 0, 0, 0, 0]) | {"item3": "x"}, "Choose an answer for item 3."),
        (_form([0, 0, 0, 0, 0, 0, 0]) | {"item3": ""}, "Choose an answer for item 3."),
        (_form(GAD7_3, date.today() + timedelta(days=2)), "cannot be in the future"),
        (_form(GAD7_3, date(1985, 4, 1)), "before the patient&#39;s date of birth"),
        (_form(GAD7_3, None), "Enter the date the questionnaire was completed."),
        (_form(GAD7_3) | {"administered_on": "27/11/2026"}, "Not a valid date value"),
    ]
    for data, message in cases:
        response = client.post(url, data=data)
        assert response.status_code == 422, message
        assert message in _text(response), message
    assert _count() == 0
    # The patient's date of birth itself is fine.
    assert client.post(url, data=_form(GAD7_3, date(1985, 4, 2))).status_code == 302


def test_an_unknown_questionnaire_is_404(client, make_certified, make_referral, login) -> None:
    user = make_certified()
    referral = make_referral(user)
    login(user)
    for query in ("", "?instrument=bdi", "?instrument=GAD7"):
        assert client.get(f"/outcomes/patients/{referral.id}/new{query}").status_code == 404


def test_the_patient_page_has_the_chart_and_the_table(
    client, make_certified, make_referral, login, record
) -> None:
    user = make_certified()
    referral = make_referral(user, gad7=15, phq9=None)
    login(user)
    # Twelve weeks up to today in the therapist's zone (the machine's date can be a day ahead).
    start = services.local_today(user) - timedelta(weeks=12)
    for week, (gad, phq) in enumerate([(16, 19), (12, 14), (7, 8)]):
        day = start + timedelta(weeks=6 * week)
        record(referral, "gad7", gad, day)
        record(referral, "phq9", phq, day)
    page = _text(client.get(f"/outcomes/patients/{referral.id}"))
    svg = re.search(r"<svg class=\"oc-chart\".*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and '<title id="chart-title">' in svg and "<desc" in svg
    assert svg.count("<circle") == 3 and svg.count('class="oc-marker" x=') == 3
    assert svg.count('class="oc-threshold"') == 4
    assert "GAD-7: 16 (severe)" in svg and "7 (mild)" in svg
    assert "PHQ-9: 19 (moderately severe)" in svg and "8 (mild)" in svg
    # The data table lists the same six scores (the referral's GAD-7 total is later than
    # the first itemised GAD-7, so it is not the baseline and not listed).
    table = re.search(r"<table class=\"table responsive oc-table\">.*?</table>", page, re.S)
    assert table.group(0).count("<tr>") == 1 + 6
    assert "Baseline total from the referral form" not in page
    # Change and badges: GAD-7 16 -> 7 (-56%, response, no remission), PHQ-9 19 -> 8.
    assert "-9" in page and "(-56%)" in page and "(-58%)" in page
    assert page.count(">Response</span>") == 2 and ">Remission</span>" not in page
    assert f'href="/outcomes/patients/{referral.id}/new?instrument=gad7"' in page
    assert f'href="/outcomes/patients/{referral.id}/new?instrument=phq9"' in page


def test_the_referral_total_is_the_baseline_when_it_came_first(
    client, make_certified, make_referral, login, record
) -> None:
    user = make_certified()
    referral = make_referral(user, gad7=14, phq9=10)
    referral.created_at = utcnow() - timedelta(days=10)  # referred ten days ago
    db.session.commit()
    login(user)
    page = _text(client.get(f"/outcomes/patients/{referral.id}"))
    assert page.count("Baseline total from the referral form") == 2
    assert page.count("Baseline only") == 2
    assert page.count("<circle") == 1 and page.count('class="oc-marker" x=') == 1
    # A GAD-7 recorded since counts against the referral's baseline of 14.
    record(referral, "gad7", GAD7_3)
    page = _text(client.get(f"/outcomes/patients/{referral.id}"))
    assert "-11" in page and "(-79%)" in page
    assert ">Response</span>" in page and ">Remission</span>" in page
    # An itemised GAD-7 dated before the referral replaces the referral's total as baseline.
    record(referral, "gad7", GAD7_16, date.today() - timedelta(days=30))
    page = _text(client.get(f"/outcomes/patients/{referral.id}"))
    assert page.count("Baseline total from the referral form") == 1  # the PHQ-9 one
    assert "-13" in page and "(-81%)" in page


def test_the_summary_across_patients(client, make_certified, make_referral, login, record) -> None:
    user = make_certified()
    login(user)
    d0, d1 = date.today() - timedelta(days=60), date.today() - timedelta(days=1)

    def patient(name: str):
        email = f"{name.split()[0].lower()}@example.net"
        return make_referral(user, patient_name=name, email=email, gad7=None, phq9=None)

    ann = patient("Ann Remits")
    record(ann, "gad7", GAD7_16, d0)
    record(ann, "gad7", GAD7_3, d1)
    bob = patient("Bob Responds")
    record(bob, "gad7", 12, d0)
    record(bob, "gad7", 6, d1)
    record(bob, "phq9", 20, d0)
    record(bob, "phq9", 12, d1)
    cal = patient("Cal Same")
    record(cal, "gad7", 10, d0)
    record(cal, "gad7", 9, d1)
    patient("Dee New")
    page = _text(client.get("/outcomes"))
    assert "3 of 4 referred patients have at least one recorded questionnaire." in page
    gad = re.search(r"<h3>GAD-7</h3>.*?</dl>", page, re.S).group(0)
    assert "<dd>3</dd>" in gad  # with a score, with a follow-up
    assert "2 of 3 (67%)" in gad  # response: Ann and Bob (exactly 50%)
    assert "1 of 3 (33%)" in gad  # remission: Ann
    phq = re.search(r"<h3>PHQ-9</h3>.*?</dl>", page, re.S).group(0)
    assert "0 of 1 (0%)" in phq and phq.count("<dd>1</dd>") == 2
    for name in ("Ann Remits", "Bob Responds", "Cal Same", "Dee New"):
        assert name in page
    assert page.count("Not recorded") >= 2  # Dee has nothing; Ann and Cal no PHQ-9


def test_search_and_pagination(app, client, make_certified, make_referral, login) -> None:
    user = make_certified()
    login(user)
    for n in range(3):
        make_referral(user, patient_name=f"Pat Number{n}", email=f"p{n}@example.net")
    make_referral(user, patient_name="Quinn Other", email="q@example.net")
    page = _text(client.get("/outcomes?q=number"))
    assert page.count("Pat Number") == 3 and "Quinn Other" not in page
    assert "No patient matches" in _text(client.get("/outcomes?q=zzz"))
    old = app.config["PER_PAGE"]
    app.config["PER_PAGE"] = 2
    try:
        first = _text(client.get("/outcomes"))
        second = _text(client.get("/outcomes?page=2"))
    finally:
        app.config["PER_PAGE"] = old
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    names = re.findall(r"(Pat Number\d|Quinn Other)</a>", first + second)
    assert sorted(names) == ["Pat Number0", "Pat Number1", "Pat Number2", "Quinn Other"]
    # The summary is across all patients, not the page.
    assert "of 4 referred patients" in second


def test_the_summary_page_runs_a_bounded_number_of_queries(
    client, make_certified, make_referral, login, record, count_queries
) -> None:
    user = make_certified()
    login(user)

    def queries() -> int:
        with count_queries as q:
            assert client.get("/outcomes").status_code == 200
        return q.count

    referral = make_referral(user, email="a@example.net")
    record(referral, "gad7", 10)
    record(referral, "phq9", 10)
    few = queries()
    for n in range(5):
        more = make_referral(user, email=f"m{n}@example.net")
        record(more, "gad7", 10)
        record(more, "phq9", 10)
    assert queries() == few


def test_the_summary_decrypts_what_it_shows_not_every_questionnaire(
    app, client, make_certified, make_referral, login, record, monkeypatch
) -> None:
    """Each questionnaire's answers are encrypted at rest. The summary reads the totals of
    every questionnaire, but decrypts only the patients' names and, for the rows shown, the
    answers of the latest PHQ-9 (its item 9 flags the safety check): the same number of
    decryptions with one questionnaire a patient as with a year of them."""
    from lms.crypto import Keyring

    user = make_certified()
    login(user)
    patients = [make_referral(user, email=f"p{n}@example.net") for n in range(3)]
    today = services.local_today(user)

    def year_of(referral: object, months: range) -> None:
        for month in months:
            day = today - timedelta(days=30 * (12 - month))
            record(referral, "gad7", 10, day=day)
            record(referral, "phq9", PHQ9_ITEM9 if month == 11 else 10, day=day)

    decrypted: list[bytes] = []
    real = Keyring.decrypt

    def counting(self: Keyring, token: bytes) -> bytes:
        decrypted.append(token)
        return real(self, token)

    monkeypatch.setattr(Keyring, "decrypt", counting)

    def decryptions() -> tuple[int, str]:
        decrypted.clear()
        page = client.get("/outcomes")
        assert page.status_code == 200
        return len(decrypted), _text(page)

    for referral in patients:
        year_of(referral, range(11, 12))
    once, page = decryptions()
    assert page.count("PHQ-9 item 9: check safety") == 3
    for referral in patients:
        year_of(referral, range(11))
    again, page = decryptions()
    assert again == once
    assert page.count("PHQ-9 item 9: check safety") == 3  # the latest PHQ-9s still read
    assert once == 3 + 3  # three names, three PHQ-9s' answers (the earlier code: 30, then 162)


def test_correcting_a_measurement_is_audited_without_scores(
    client, make_certified, make_referral, login, record
) -> None:
    user = make_certified()
    referral = make_referral(user)
    row = record(referral, "phq9", PHQ9_13)
    login(user)
    url = f"/outcomes/measurements/{row.id}/edit"
    page = _text(client.get(url))
    for n, value in enumerate(PHQ9_13, start=1):
        assert re.search(rf'id="item{n}-{value}"[^>]*checked', page), n
    new_day = YESTERDAY - timedelta(days=3)
    response = client.post(url, data=_form([0] * 9, new_day))
    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(Measurement, row.id)
    assert row.total == 0 and row.answers == [0] * 9 and row.administered_on == new_day
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "outcome.corrected")
    ).one()
    assert event.actor_id == user.id and event.object_id == str(row.id)
    assert event.details == {
        "referral_id": referral.id,
        "instrument": "phq9",
        "changed": ["answers", "administered_on"],
    }
    # Unchanged: nothing recorded.
    client.post(url, data=_form([0] * 9, new_day))
    assert (
        db.session.scalar(select(func.count()).where(AuditEvent.action == "outcome.corrected")) == 1
    )
    # A bad correction keeps the stored values.
    bad = _form([0] * 9, new_day)
    del bad["item9"]
    assert client.post(url, data=bad).status_code == 422
    db.session.expire_all()
    assert db.session.get(Measurement, row.id).answers == [0] * 9


def test_deleting_a_measurement(client, make_certified, make_referral, login, record) -> None:
    user = make_certified()
    referral = make_referral(user)
    row = record(referral, "gad7", GAD7_16)
    login(user)
    page = _text(client.get(f"/outcomes/measurements/{row.id}"))
    assert f'action="/outcomes/measurements/{row.id}/delete"' in page and "data-confirm=" in page
    response = client.post(f"/outcomes/measurements/{row.id}/delete")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/outcomes/patients/{referral.id}")
    assert _count() == 0
    recorded, deleted = (
        db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).one()
        for action in ("outcome.recorded", "outcome.deleted")
    )
    for event in (recorded, deleted):
        assert event.object_type == "outcome_measurement" and event.object_id == str(row.id)
        assert event.details == {"referral_id": referral.id, "instrument": "gad7"}
    assert client.get(f"/outcomes/measurements/{row.id}").status_code == 404
    assert client.post(f"/outcomes/measurements/{row.id}/delete").status_code == 404


def test_the_delete_form_needs_its_csrf_token(
    app, client, make_certified, make_referral, login, record
) -> None:
    user = make_certified()
    row = record(make_referral(user), "gad7", GAD7_16)
    login(user)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/outcomes/measurements/{row.id}/delete")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert _count() == 1
