"""The therapist's dashboard checklist, and the demo partner is fully certified."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from lms.accounts.models import User
from lms.certification.services import certification_status, is_certified
from lms.config import PROJECT_ROOT
from lms.db import utcnow
from lms.extensions import db
from lms.licensure.models import Attestation
from lms.licensure.services import overview
from lms.training.models import Certificate, Course
from lms.training.sync import sync_all


def test_dashboard_shows_progress_and_the_next_step(client, make_certified, login) -> None:
    login(make_certified(skip=("license", "agreement")))
    page = client.get("/dashboard").get_data(as_text=True)
    assert "3 of 5" in page
    assert "Your path to certification" in page
    assert 'href="/licensure/licenses/new"' in page and "Add your license" in page
    assert 'href="/agreement"' in page
    assert "KAP Required Course" in page  # the certificate
    assert 'href="/tools"' in page  # the nav item only; no "Open the partner tools" button
    assert "Open the partner tools" not in page


def test_dashboard_of_a_certified_partner_links_the_tools(client, make_certified, login) -> None:
    login(make_certified())
    page = client.get("/dashboard").get_data(as_text=True)
    assert "5 of 5" in page and "You are a certified partner" in page
    assert "Open the partner tools" in page
    assert "Licensure" in page and "expires" in page


def test_seed_demo_certifies_the_partner_and_not_the_applicant(app, db_session) -> None:
    results, problems = sync_all(Path(PROJECT_ROOT / "courses"))
    assert problems == []
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "partner accepted agreement version" in result.output
    users = {u.email: u for u in db.session.scalars(select(User))}
    partner, applicant = users["partner@example.org"], users["therapist@example.org"]
    assert is_certified(partner), certification_status(partner).missing
    assert not is_certified(applicant)
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "partner has accepted" in again.output


def test_the_dashboard_reads_the_agreement_step_with_the_session(
    client, make_certified, login, agreements_dir, count_queries
) -> None:
    """The highest version the therapist accepted rides on the log-in session's statement:
    the checklist's agreement step asks nothing more, in each of its three states."""
    from tests.certification.conftest import accept_current, publish_version

    user = make_certified(skip=("agreement",))
    login(user)
    client.get("/dashboard")  # the welcome message

    def agreement_step() -> str:
        with count_queries as q:
            page = client.get("/dashboard").get_data(as_text=True)
        assert "agreement_acceptances" in q.statements[0]
        assert not any("agreement_acceptances" in sql for sql in q.statements[1:])
        return page

    assert "— Read and accept the partner agreement." in agreement_step()
    accept_current(user)
    page = agreement_step()
    assert "— You accepted" in page and "5 of 5" in page
    publish_version(agreements_dir, 99)
    page = agreement_step()
    assert "— A new version (99) replaces the one you accepted" in page and "4 of 5" in page


def _dashboard(client: Any, count_queries: Any) -> tuple[str, list[str]]:
    with count_queries as q:
        page = client.get("/dashboard").get_data(as_text=True)
    return page, q.statements


def test_the_dashboard_reads_the_training_step_with_the_session(
    client, make_certified, login, count_queries, required_course
) -> None:
    """Whether every required course has a valid certificate rides on the log-in session's
    statement: a therapist who meets it has no course read for the checklist; one whose
    certificate expired or was revoked is told which course, read as before."""
    user = make_certified()
    login(user)
    client.get("/dashboard")  # the welcome message
    page, statements = _dashboard(client, count_queries)
    assert "5 of 5" in page and "Certificate valid for every required course." in page
    assert "certificates.expires_at" in statements[0]
    assert not any("FROM courses" in sql for sql in statements[1:])

    def change_certificate(**values: Any) -> None:
        # (Each request ends the session the test's objects were read in: change the row.)
        db.session.execute(
            update(Certificate).where(Certificate.user_id == user.id).values(**values)
        )
        db.session.commit()

    change_certificate(expires_at=utcnow() - timedelta(minutes=1))
    page, statements = _dashboard(client, count_queries)
    assert "4 of 5" in page
    assert f"No valid certificate yet for {required_course.title}." in page
    assert any("FROM courses" in sql for sql in statements[1:])  # which courses: read

    change_certificate(expires_at=utcnow() + timedelta(days=30), revoked_at=utcnow())
    page, _statements = _dashboard(client, count_queries)
    assert "4 of 5" in page and f"No valid certificate yet for {required_course.title}." in page
    assert "Revoked" in page

    change_certificate(revoked_at=None)
    page, statements = _dashboard(client, count_queries)
    assert "5 of 5" in page
    assert not any("FROM courses" in sql for sql in statements[1:])


def test_the_dashboard_training_step_fails_closed_with_no_required_course(
    client, make_certified, login, count_queries, required_course
) -> None:
    user = make_certified()
    login(user)
    client.get("/dashboard")
    db.session.execute(
        update(Course)
        .where(Course.id == required_course.id)
        .values(required_for_certification=False)
    )
    db.session.commit()
    page, _statements = _dashboard(client, count_queries)
    assert "The required training is not published yet." in page and "4 of 5" in page
    assert not certification_status(user).certified


def _sign_attestation(user: User) -> None:
    """An attestation signed with the expected answers (added to the session)."""
    db.session.add(
        Attestation(
            user_id=user.id,
            discipline_history=False,
            license_restrictions=False,
            felony=False,
            impairment=False,
            current_coverage=True,
            signed_name=user.full_name,
            signed_on=utcnow().date(),
        )
    )


def test_the_dashboard_reads_whether_the_attestation_is_signed_with_the_session(
    client, make_certified, login, count_queries
) -> None:
    user = make_certified()
    login(user)
    client.get("/dashboard")
    page, statements = _dashboard(client, count_queries)
    assert "You have not signed the" in page and 'href="/licensure/attestation"' in page
    assert "licensure_attestations" in statements[0]
    assert not any("licensure_attestations" in sql for sql in statements[1:])

    _sign_attestation(user)
    db.session.commit()
    page, statements = _dashboard(client, count_queries)
    assert "You have not signed the" not in page
    assert not any("licensure_attestations" in sql for sql in statements[1:])


def test_the_licensure_overview_without_the_attestation_still_says_whether_one_is_signed(
    app, make_certified
) -> None:
    """Outside the dashboard (nothing read with a session) the answer is asked for."""
    user = make_certified()
    with app.test_request_context("/"):
        assert overview(user).signed is False and overview(user).attestation is None
        assert overview(user, with_attestation=False).signed is False
        _sign_attestation(user)
        db.session.flush()
        full = overview(user)
        assert full.signed is True and full.attestation is not None
        brief = overview(user, with_attestation=False)
        assert brief.signed is True and brief.attestation is None


def test_the_training_rider_answers_only_for_the_time_it_was_read_for(app, make_certified) -> None:
    """The answer read with the session is the rule's only for (about) the request's own
    time: asked for another time, the rule reads the courses and certificates itself."""
    from flask import g

    from lms.certification.services import TRAINING_MET

    user = make_certified(skip=("training",))  # no certificate: the rule says "not met"
    read_at = utcnow()
    with app.test_request_context("/dashboard"):
        # As if the session's statement had said "met" (a certificate since revoked, say).
        g.session_user_id = user.id
        g.session_riders = {TRAINING_MET: True}
        g.session_riders_at = read_at

        def training_met(now: Any) -> bool:
            return certification_status(user, now).get("training").met

        assert training_met(read_at + timedelta(seconds=1))  # the rider's answer
        assert not training_met(read_at + timedelta(days=1))  # asked for later: read
        assert not training_met(read_at - timedelta(seconds=1))  # or earlier
        g.session_riders = {TRAINING_MET: False}
        assert not training_met(read_at + timedelta(seconds=1))  # "not met": read (which)
