"""Demo data: idempotent, the clinician on call, requests in each state, history for metrics."""

from __future__ import annotations

from sqlalchemy import func, select

from lms.extensions import db
from lms.support import services
from lms.support.demo import seed_support
from lms.support.models import Status, SupportRequest, Urgency


def test_seed_support_is_idempotent_and_covers_each_state(client, make_user, login, mail) -> None:
    clinician = make_user("clinician", email="clinician@example.org")
    partner = make_user("therapist", email="partner@example.org")
    lines = seed_support(clinician, partner)
    db.session.commit()
    assert any("one urgent and unclaimed" in line for line in lines)
    assert services.is_on_call(clinician)
    requests = db.session.scalars(select(SupportRequest)).all()
    live = [r for r in requests if r.description != "Demo history."]
    assert len(live) == 3
    urgent = next(r for r in live if r.urgency == Urgency.URGENT)
    assert urgent.status == Status.OPEN and urgent.claimed_by_id is None
    assert {r.status for r in live} == {Status.OPEN, Status.CLAIMED, Status.RESOLVED}
    assert sum(r.first_response_at is not None for r in live) == 2
    history = [r for r in requests if r.description == "Demo history."]
    assert len(history) >= 10
    assert any(r.met_target is False for r in history) and any(r.met_target for r in history)
    # The on-call clinician was told about each live request.
    assert sum(m.to == clinician.email for m in mail) >= 3

    again = seed_support(clinician, partner)
    db.session.commit()
    assert "support: the partner already has requests" in again
    assert db.session.scalar(select(func.count()).select_from(SupportRequest)) == len(requests)

    login(clinician)
    assert client.get("/clinical/support/metrics").status_code == 200
    html = client.get("/clinical/support").get_data(as_text=True)
    assert urgent.subject in html
