"""Two-step verification: required for staff, optional for therapists, codes used once."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select, text

from lms.accounts import mfa
from lms.audit import AuditEvent
from lms.crypto import keyring
from lms.extensions import db
from tests.conftest import PASSWORD, totp_code


def _reload(obj):
    """The row as the database has it now (the requests ran in their own sessions)."""
    return db.session.get(type(obj), obj.id, populate_existing=True)


def _actions(user) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "user", AuditEvent.object_id == str(user.id))
            .order_by(AuditEvent.id)
        )
    )


def _password_step(client, user):
    return client.post("/login", data={"email": user.email, "password": PASSWORD})


def test_staff_without_two_step_are_sent_to_set_it_up_from_every_staff_page(
    app, client, login, make_user
) -> None:
    clinician = make_user("clinician", mfa=False)
    login(clinician)
    staff_rules = [
        r
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/clinical", "/admin")) and "GET" in r.methods
    ]
    assert staff_rules
    for rule in staff_rules:
        path = re.sub(r"<int:\w+>", "1", re.sub(r"<(?:string:)?\w+>", "x", rule.rule))
        response = client.get(path)
        assert response.status_code == 302, rule.rule
        assert response.headers["Location"] == "/account/two-step", rule.rule
    api = client.get("/clinical/referrals", headers={"Accept": "application/json"})
    assert api.status_code == 403 and "two-step" in api.get_json()["error"]
    assert client.get("/account").status_code == 200  # the account page still opens


def test_setting_up_with_the_app_code_turns_it_on_and_shows_recovery_codes(
    client, login, make_user
) -> None:
    clinician = make_user("clinician", mfa=False)
    login(clinician)
    page = client.get("/account/two-step").get_data(as_text=True)
    assert "<svg" in page and 'class="segno"' in page
    secret = re.search(r'<code class="secret-key">([A-Z2-7]+)</code>', page).group(1)

    wrong = client.post("/account/two-step", data={"code": "000000"})
    assert wrong.status_code == 422 and "That code is not right" in wrong.get_data(as_text=True)
    clinician = _reload(clinician)
    assert not clinician.mfa_enabled

    done = client.post("/account/two-step", data={"code": mfa.current_code(secret)})
    body = done.get_data(as_text=True)
    assert done.status_code == 200 and "Save these recovery codes now" in body
    codes = re.findall(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>", body)
    assert len(codes) == 10 and len(set(codes)) == 10
    clinician = _reload(clinician)
    assert clinician.mfa_enabled and clinician.mfa_secret == secret
    # Stored encrypted: the database holds a token, not the seed of the codes.
    stored = db.session.execute(
        text("SELECT mfa_secret FROM users WHERE id = :id"), {"id": clinician.id}
    ).scalar_one()
    assert secret not in stored and keyring().decrypt_text(stored) == secret
    assert "auth.mfa_enabled" in _actions(clinician)
    assert client.get("/clinical/referrals").status_code == 200


def test_log_in_needs_the_second_step_and_a_code_works_once(client, make_user) -> None:
    admin = make_user("admin")
    first = _password_step(client, admin)
    assert first.headers["Location"] == "/login/verify"
    assert client.get("/admin/").status_code == 302  # not logged in yet
    code = totp_code(admin)
    assert client.post("/login/verify", data={"code": "123456"}).status_code == 401
    ok = client.post("/login/verify", data={"code": code})
    assert ok.status_code == 302 and ok.headers["Location"] == "/dashboard"
    assert client.get("/admin/").status_code == 200
    client.post("/logout")

    _password_step(client, admin)
    replay = client.post("/login/verify", data={"code": code})
    assert replay.status_code == 401  # the same code cannot be used twice
    assert "auth.mfa_failed" in _actions(admin)


def test_five_wrong_codes_send_you_back_to_the_password(client, make_user) -> None:
    clinician = make_user("clinician")
    _password_step(client, clinician)
    for _ in range(4):
        assert client.post("/login/verify", data={"code": "999999"}).status_code == 401
    last = client.post("/login/verify", data={"code": "999999"})
    assert last.headers["Location"] == "/login"
    assert client.post("/login/verify", data={"code": totp_code(clinician)}).headers[
        "Location"
    ] == ("/login")


def test_the_second_step_times_out(client, make_user) -> None:
    clinician = make_user("clinician")
    _password_step(client, clinician)
    with client.session_transaction() as session:
        session["mfa_pending"] = {**session["mfa_pending"], "at": time.time() - 301}
    response = client.post("/login/verify", data={"code": totp_code(clinician)})
    assert response.headers["Location"] == "/login"


def test_a_recovery_code_works_once(client, make_user) -> None:
    clinician = make_user("clinician")
    codes = mfa.new_recovery_codes(clinician)
    db.session.commit()
    _password_step(client, clinician)
    used = client.post("/login/verify", data={"code": codes[0].lower()})
    assert used.headers["Location"] == "/dashboard"
    assert mfa.recovery_codes_left(clinician) == 9
    client.post("/logout")
    _password_step(client, clinician)
    assert client.post("/login/verify", data={"code": codes[0]}).status_code == 401
    assert "auth.mfa_recovery_code_used" in _actions(clinician)


def test_therapists_may_turn_it_on_and_off_with_password_and_code(client, login, make_user) -> None:
    therapist = make_user("therapist")
    login(therapist)
    assert client.get("/dashboard").status_code == 200  # optional: nothing forces it
    page = client.get("/account/two-step").get_data(as_text=True)
    secret = re.search(r'<code class="secret-key">([A-Z2-7]+)</code>', page).group(1)
    client.post("/account/two-step", data={"code": mfa.current_code(secret)})
    therapist = _reload(therapist)
    assert therapist.mfa_enabled

    refused = client.post(
        "/account/two-step/disable", data={"password": "wrong password", "code": "000000"}
    )
    assert refused.status_code == 302
    therapist = _reload(therapist)
    assert therapist.mfa_enabled
    client.post(
        "/account/two-step/disable", data={"password": PASSWORD, "code": totp_code(therapist)}
    )
    therapist = _reload(therapist)
    assert not therapist.mfa_enabled
    assert _actions(therapist).count("auth.reauthentication_failed") == 1


def test_staff_cannot_turn_it_off_but_can_renew_recovery_codes(client, login, make_user) -> None:
    admin = make_user("admin")
    login(admin)
    client.post("/account/two-step/disable", data={"password": PASSWORD, "code": totp_code(admin)})
    admin = _reload(admin)
    assert admin.mfa_enabled
    old = mfa.new_recovery_codes(admin)
    db.session.commit()
    renewed = client.post(
        "/account/two-step/recovery-codes", data={"password": PASSWORD, "code": totp_code(admin)}
    )
    codes = re.findall(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>", renewed.get_data(as_text=True))
    assert len(codes) == 10 and not set(codes) & set(old)
    assert not mfa.use_recovery_code(admin, old[0])


def test_an_admin_resets_a_lost_device_and_the_user_must_set_up_again(
    client, login, make_user
) -> None:
    admin = make_user("admin")
    clinician = make_user("clinician")
    login(admin)
    assert "Reset two-step verification" in client.get(f"/admin/users/{clinician.id}").get_data(
        as_text=True
    )
    client.post(f"/admin/users/{clinician.id}/mfa-reset")
    clinician = _reload(clinician)
    assert not clinician.mfa_enabled
    assert "auth.mfa_disabled" in _actions(clinician)
    client.post("/logout")
    response = _password_step(client, clinician)
    assert response.headers["Location"] == "/dashboard"  # no second step to pass any more
    assert client.get("/clinical/referrals").headers["Location"] == "/account/two-step"


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567", "ABCDE-12345-X"])
def test_malformed_codes_are_refused_cleanly(client, make_user, code) -> None:
    clinician = make_user("clinician")
    _password_step(client, clinician)
    response = client.post("/login/verify", data={"code": code})
    assert response.status_code in (401, 422)


def test_codes_follow_rfc_6238_and_accept_the_demo_secret() -> None:
    # RFC 6238 appendix B: the SHA-1 key "12345678901234567890" at T=59 gives 94287082
    # (8 digits); authenticator apps show its last six.
    rfc_key = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert mfa.current_code(rfc_key, at=59) == "287082"
    assert mfa.current_code(rfc_key, at=1111111109) == "081804"
    # The documented demo secret is 80 bits: below pyotp's default floor, accepted here.
    assert re.fullmatch(r"\d{6}", mfa.current_code("JBSWY3DPEHPK3PXP"))
    secret = mfa.new_secret()
    assert len(secret) == 32 and re.fullmatch(r"[A-Z2-7]{32}", secret)  # 160 bits


def test_the_set_up_link_names_the_issuer_and_the_account(make_user) -> None:
    user = make_user("clinician", email="nurse@example.org", mfa=False)
    uri = mfa.provisioning_uri(user, "JBSWY3DPEHPK3PXP")
    assert uri.startswith("otpauth://totp/Partner%20LMS:nurse%40example.org?")
    assert "secret=JBSWY3DPEHPK3PXP" in uri and "issuer=Partner%20LMS" in uri
