"""Admin: user directory, deactivation, roles, invitations, audit log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lms.accounts.models import Invitation, Role, User
from lms.audit import AuditEvent
from lms.extensions import db
from tests.conftest import log_in


@pytest.fixture
def admin(make_user):
    return make_user("admin", full_name="Ada Admin")


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_user_directory_is_searchable_and_paginated(app, client, admin, login, make_user) -> None:
    for i in range(30):
        make_user(full_name=f"Searchable Person {i:02d}", email=f"person{i:02d}@example.org")
    make_user("clinician", full_name="Dr. Unique Name")
    login(admin)
    page1 = client.get("/admin/users?q=searchable").get_data(as_text=True)
    assert "Showing 1–25 of 30" in page1
    page2 = client.get("/admin/users?q=searchable&page=2").get_data(as_text=True)
    assert "Showing 26–30 of 30" in page2
    only_clinicians = client.get("/admin/users?role=clinician").get_data(as_text=True)
    assert "Dr. Unique Name" in only_clinicians and "Searchable Person" not in only_clinicians
    by_email = client.get("/admin/users?q=PERSON07@").get_data(as_text=True)
    assert "Searchable Person 07" in by_email and "Searchable Person 08" not in by_email


def test_deactivate_and_reactivate_are_audited_and_end_sessions(
    app, client, admin, login, make_user
) -> None:
    user = make_user()
    victim = app.test_client()
    log_in(victim, user)
    login(admin)
    response = client.post(
        f"/admin/users/{user.id}/active", data={"active": "0", "reason": "left the network"}
    )
    assert response.status_code == 302
    assert db.session.get(User, user.id).is_active is False
    assert victim.get("/dashboard").status_code == 302
    event = _audit("account.deactivated")[0]
    assert event.actor_id == admin.id and event.object_id == str(user.id)
    assert event.details["reason"] == "left the network"
    client.post(f"/admin/users/{user.id}/active", data={"active": "1"})
    assert db.session.get(User, user.id).is_active is True
    assert len(_audit("account.reactivated")) == 1


def test_admin_cannot_deactivate_or_demote_themselves(client, admin, login) -> None:
    login(admin)
    client.post(f"/admin/users/{admin.id}/active", data={"active": "0"})
    client.post(f"/admin/users/{admin.id}/role", data={"role": "therapist"})
    fresh = db.session.get(User, admin.id)
    assert fresh.is_active and fresh.role == Role.ADMIN


def test_change_role_is_audited(client, admin, login, make_user) -> None:
    user = make_user()
    login(admin)
    client.post(f"/admin/users/{user.id}/role", data={"role": "clinician"})
    assert db.session.get(User, user.id).role == Role.CLINICIAN
    event = _audit("account.role_changed")[0]
    assert event.details == {"old": "therapist", "new": "clinician"}


def test_role_change_refuses_unknown_role(client, admin, login, make_user) -> None:
    user = make_user()
    login(admin)
    client.post(f"/admin/users/{user.id}/role", data={"role": "superuser"})
    assert db.session.get(User, user.id).role == Role.THERAPIST


def test_unknown_user_is_404(client, admin, login) -> None:
    login(admin)
    assert client.get("/admin/users/999999").status_code == 404


def test_resend_verification_from_admin(client, admin, login, make_user, mail) -> None:
    user = make_user(verified=False)
    login(admin)
    client.post(f"/admin/users/{user.id}/resend-verification")
    assert [m.to for m in mail] == [user.email]


def _invite_link(message) -> str:
    link = re.search(r"http://\S+", message.text).group(0)
    return "/" + link.split("/", 3)[3]


def test_invitation_creates_a_staff_account_once(app, client, admin, login, mail) -> None:
    login(admin)
    response = client.post(
        "/admin/invitations", data={"email": "Nurse@Example.org", "role": "clinician"}
    )
    assert response.status_code == 302
    assert mail[-1].to == "nurse@example.org"
    path = _invite_link(mail[-1])
    invitee = app.test_client()
    form = invitee.get(path).get_data(as_text=True)
    assert "clinician" in form and "nurse@example.org" in form
    created = invitee.post(
        path,
        data={
            "full_name": "Nora Nurse",
            "password": "night shift lantern harbor",
            "confirm": "night shift lantern harbor",
            "timezone": "America/Denver",
        },
    )
    assert created.status_code == 302 and created.headers["Location"].endswith("/dashboard")
    nurse = db.session.scalar(select(User).where(User.email == "nurse@example.org"))
    assert nurse.role == Role.CLINICIAN and nurse.email_verified and nurse.invited_by_id == admin.id
    again = app.test_client().get(path)
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    assert _audit("staff.invited") and _audit("staff.invitation_accepted")


def test_invitation_for_therapist_role_is_refused(client, admin, login, mail) -> None:
    login(admin)
    response = client.post(
        "/admin/invitations", data={"email": "x@example.org", "role": "therapist"}
    )
    assert response.status_code == 422
    assert mail == []


def test_invitation_to_existing_account_is_refused(client, admin, login, make_user, mail) -> None:
    user = make_user()
    login(admin)
    response = client.post("/admin/invitations", data={"email": user.email, "role": "admin"})
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_revoked_invitation_cannot_be_used(app, client, admin, login, mail) -> None:
    login(admin)
    client.post("/admin/invitations", data={"email": "doc@example.org", "role": "admin"})
    path = _invite_link(mail[-1])
    invitation = db.session.scalar(select(Invitation).where(Invitation.email == "doc@example.org"))
    client.post(f"/admin/invitations/{invitation.id}/revoke")
    response = app.test_client().get(path)
    assert response.status_code == 400 and "withdrawn" in response.get_data(as_text=True)


def test_audit_log_filters_and_paginates(client, admin, login, make_user) -> None:
    user = make_user()
    for _ in range(3):
        log_in(client, user, "wrong password!!")
    login(admin)
    page = client.get("/admin/audit?action=auth.login_failed").get_data(as_text=True)
    assert page.count("auth.login_failed") >= 3
    assert "auth.login<" not in page  # the successful admin log-in is filtered out
    by_actor = client.get(f"/admin/audit?actor={admin.email}").get_data(as_text=True)
    assert "auth.login" in by_actor and "auth.login_failed" not in by_actor
    by_object = client.get(f"/admin/audit?object_type=user&object_id={user.id}").get_data(
        as_text=True
    )
    assert by_object.count("auth.login_failed") == 3
    bad_date = client.get("/admin/audit?date_from=not-a-date")
    assert bad_date.status_code == 422  # a bad filter is reported, not a crash
    assert "Not a valid date" in bad_date.get_data(as_text=True)


def test_audit_rows_cannot_be_changed(db_session, make_user) -> None:
    from sqlalchemy.exc import DatabaseError

    from lms.audit import AuditLogIsAppendOnly

    make_user()
    event = db.session.scalars(select(AuditEvent)).first() or AuditEvent(action="x")
    if event.id is None:
        db.session.add(event)
        db.session.commit()
    event.action = "tampered"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    # and below the ORM, the database refuses too
    with pytest.raises(DatabaseError), db.session.begin_nested():
        db.session.execute(AuditEvent.__table__.delete())


def test_the_audit_log_shows_times_in_the_admins_zone(client, login, make_user) -> None:
    from datetime import UTC, datetime

    from lms import audit

    admin = make_user("admin", timezone="Asia/Kolkata")
    event = audit.record("test.zone_shown", admin, actor=admin)
    event.created_at = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # 4:30 AM the next day in IST
    db.session.commit()
    login(admin)
    page = client.get("/admin/audit?action=test.zone_shown").get_data(as_text=True)
    assert "Mar 2, 2026 4:30 AM IST" in page
