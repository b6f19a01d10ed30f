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
