"""The partner agreement: versioned files, accepted by typed name, recorded and audited."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import func, select

from lms.audit import AuditEvent
from lms.certification import agreements
from lms.certification.models import AgreementAcceptance
from lms.certification.services import certification_status, is_certified
from lms.config import PROJECT_ROOT
from lms.extensions import db
from tests.certification.conftest import publish_version


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(AgreementAcceptance)) or 0


def test_the_repository_agreement_is_a_marked_draft_with_baa_terms(app) -> None:
    current = agreements.current(PROJECT_ROOT / "agreements" / "partner-agreement")
    assert current is not None and current.version >= 1
    text = current.body
    assert "Draft pending legal review" in text
    assert "Business Associate Agreement" in text and "45 C.F.R." in text
    assert "911" in text


def test_accepting_records_version_time_ip_and_name(
    client, make_certified, login, agreements_dir
) -> None:
    user = make_certified(skip=("agreement",), full_name="Jo  Ann Rivera")
    login(user)
    page = client.get("/agreement")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Business Associate Agreement" in html and ">I agree</button>" in html
    response = client.post(
        "/agreement",
        data={"version": "1", "full_name": "jo ann RIVERA"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 302
    row = db.session.scalar(
        select(AgreementAcceptance).where(AgreementAcceptance.user_id == user.id)
    )
    assert row.version == 1 and row.ip_address == "203.0.113.9"
    assert row.full_name_typed == "jo ann RIVERA"
    assert row.text_sha256 == agreements.current().sha256
    assert row.accepted_at is not None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "agreement.accepted"))
    assert event.actor_id == user.id and event.details["version"] == 1
    assert is_certified(user)
    again = client.get("/agreement").get_data(as_text=True)
    assert "You accepted this version on" in again and ">I agree</button>" not in again


def test_a_name_that_does_not_match_is_refused_and_nothing_is_saved(
    client, make_certified, login, agreements_dir
) -> None:
    user = make_certified(skip=("agreement",), full_name="Jo Rivera")
    login(user)
    response = client.post("/agreement", data={"version": "1", "full_name": "Joe Rivera"})
    assert response.status_code == 422
    assert "does not match your account" in response.get_data(as_text=True)
    empty = client.post("/agreement", data={"version": "1", "full_name": ""})
    assert empty.status_code == 422
    assert "Type your full name to accept." in empty.get_data(as_text=True)
    assert _count() == 0
    assert not is_certified(user)


def test_a_new_version_requires_acceptance_again(
    client, make_certified, login, agreements_dir
) -> None:
    user = make_certified()
    login(user)
    assert client.get("/tools").status_code == 200
    publish_version(agreements_dir, 2)
    status = certification_status(user)
    assert [r.key for r in status.missing] == ["agreement"]
    assert "new version (2)" in status.get("agreement").detail
    assert client.get("/tools").status_code == 302
    page = client.get("/agreement").get_data(as_text=True)
    assert "has changed since you accepted version 1" in page and "Revised terms." in page
    # An acceptance of the version read before the change is refused.
    stale = client.post("/agreement", data={"version": "1", "full_name": user.full_name})
    assert stale.status_code == 422 and "changed while you were reading" in stale.get_data(
        as_text=True
    )
    response = client.post("/agreement", data={"version": "2", "full_name": user.full_name})
    assert response.status_code == 302
    assert client.get("/tools").status_code == 200
    assert sorted(
        db.session.scalars(
            select(AgreementAcceptance.version).where(AgreementAcceptance.user_id == user.id)
        )
    ) == [1, 2]


def test_accepting_twice_keeps_one_row(client, make_certified, login, agreements_dir) -> None:
    user = make_certified()
    login(user)
    client.post("/agreement", data={"version": "1", "full_name": user.full_name})
    assert _count() == 1


def test_agreement_page_is_for_therapists_only(app, client, make_user, login) -> None:
    assert "/login" in client.get("/agreement").headers["Location"]
    for role in ("clinician", "admin"):
        login(make_user(role))
        assert client.get("/agreement").status_code == 403
        assert client.post("/agreement", data={"version": "1", "full_name": "x"}).status_code == 403
        client.post("/logout")


def test_the_folder_is_listed_again_only_when_it_changed(app, agreements_dir, monkeypatch) -> None:
    """Every partner-tool request asks for the current version: an unchanged folder is not
    listed again (one ``stat``), a version published is seen at once, also within the file
    system's clock tick (a folder changed in the last seconds is listed every time)."""
    listed: list[str] = []
    real_iterdir = Path.iterdir

    def iterdir(self: Path):  # type: ignore[no-untyped-def]
        listed.append(str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    hour_ago = time.time() - 3600
    os.utime(agreements_dir, (hour_ago, hour_ago))
    with app.app_context():
        first = agreements.current()
        again = agreements.current()
        assert first is not None and again is not None and first.version == again.version == 1
        assert len(listed) == 1
        listed.clear()
        assert agreements.current() is not None
        assert listed == []
        publish_version(agreements_dir, 2)  # the folder's time is now: listed every time
        assert agreements.current().version == 2  # type: ignore[union-attr]
        assert agreements.current().version == 2  # type: ignore[union-attr]
        assert len(listed) == 2
        (agreements_dir / "v2.md").unlink()  # withdrawn
        os.utime(agreements_dir, (hour_ago + 60, hour_ago + 60))
        assert agreements.current().version == 1  # type: ignore[union-attr]
        listed.clear()
        assert agreements.current().version == 1  # type: ignore[union-attr]
        assert listed == []
