"""Rate limits on the two-step code and on document uploads (log-in, reset and registration
have theirs tested in tests/accounts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD, totp_code
from tests.licensure.conftest import submit_license


@pytest.fixture
def tight(app) -> Iterator[None]:
    saved = app.config["MFA_RATE_LIMIT"], app.config["UPLOAD_RATE_LIMIT"]
    app.config["MFA_RATE_LIMIT"] = "3 per minute"
    app.config["UPLOAD_RATE_LIMIT"] = "2 per minute"
    try:
        yield
    finally:
        app.config["MFA_RATE_LIMIT"], app.config["UPLOAD_RATE_LIMIT"] = saved


@pytest.mark.usefixtures("tight")
def test_two_step_codes_are_rate_limited(client, make_user) -> None:
    clinician = make_user("clinician")
    client.post("/login", data={"email": clinician.email, "password": PASSWORD})
    codes = [client.post("/login/verify", data={"code": "000000"}).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    blocked = client.post("/login/verify", data={"code": totp_code(clinician)})
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)


@pytest.mark.usefixtures("tight")
def test_uploads_are_limited_per_user(app, client, login, make_user) -> None:
    first = make_user()
    login(first)
    assert submit_license(client, number="A-1").status_code == 302
    assert submit_license(client, number="A-2").status_code == 302
    assert submit_license(client, number="A-3").status_code == 429
    client.post("/logout")
    other = app.test_client()  # same address, another person: not blocked by the first
    login_response = other.post("/login", data={"email": make_user().email, "password": PASSWORD})
    assert login_response.status_code == 302
    assert submit_license(other, number="B-1").status_code == 302
