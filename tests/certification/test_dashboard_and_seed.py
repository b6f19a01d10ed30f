"""The therapist's dashboard checklist, and the demo partner is fully certified."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from lms.accounts.models import User
from lms.certification.services import certification_status, is_certified
from lms.config import PROJECT_ROOT
from lms.extensions import db
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
