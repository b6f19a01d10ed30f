"""The forms that matter most, each sent valid except for one field holding an odd value:
refused in the page (or taken, where the value is acceptable), never a server error.

The walks of every route (``test_hostile_query_values.py``) put the odd value in every field
at once, so a form stops at its first field in error; here the other fields are valid, so
the odd value reaches the view's and the service's own work. Each form's valid submission is
checked first: a baseline that the form refused would prove nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from lms.extensions import limiter
from lms.outcomes.services import local_today
from lms.support import services as support
from tests.licensure.conftest import license_form, pdf_file
from tests.support.conftest import request_data

ODD_VALUES = [
    "-1",
    "0",
    "2147483648",
    "99999999999999999999",
    "1e400",
    "nan",
    "9999-12-31",
    "0001-01-01",
    "%_",
    "'; --\\\"",
    "é 漢字 🙂",
    "x" * 6000,
    " ",
    "",
]


@pytest.fixture
def cases(users, make_user, make_referral, make_request) -> list[tuple[str, str, Callable, int]]:
    """(who, path, the valid form's fields, the status a valid submission gets)."""
    partner = users["certified"]
    referral = make_referral(partner)
    req = make_request(partner)
    other = make_user("clinician", full_name="Other Clinician")
    support.claim(req.id, users["clinician"].id)
    from lms.extensions import db

    db.session.commit()
    yesterday = (local_today(partner) - timedelta(days=1)).isoformat()

    def reassign() -> dict[str, str]:
        """To whichever clinician does not have the request now, from its current version."""
        db.session.expire_all()
        current = db.session.get(type(req), req.id)
        to = users["clinician"] if current.claimed_by_id == other.id else other
        return {"assignee_id": str(to.id), "version": str(current.version)}

    return [
        (
            "certified",
            "/support/new",
            lambda: {**request_data(), "referral_id": str(referral.id)},
            302,
        ),
        (
            "certified",
            f"/support/{req.id}/reply",
            lambda: {"body": "Thank you, she is resting."},
            302,
        ),
        (
            "clinician",
            f"/clinical/support/{req.id}/reply",
            lambda: {"body": "Check her BP again."},
            302,
        ),
        (
            "clinician",
            f"/clinical/support/{req.id}/note",
            lambda: {"note-body": "Paged Dr A."},
            302,
        ),
        (
            "admin",
            f"/clinical/support/{req.id}/reassign",
            reassign,
            302,
        ),
        (
            "certified",
            f"/outcomes/patients/{referral.id}/new?instrument=gad7",
            lambda: {"administered_on": yesterday, **{f"item{n}": "1" for n in range(1, 8)}},
            302,
        ),
        (
            "certified",
            "/referrals/new",
            lambda: {
                "patient_name": "Zebulon Quill",
                "date_of_birth": "1980-01-02",
                "email": "zebulon@example.net",
                "phone": "303-555-0199",
                "state": "CO",
                "primary_concern": "panic",
                "prior_treatments": "Two years of CBT",
                "current_medications": "Sertraline 50 mg",
                "gad7": "12",
                "phq9": "8",
                "consent": "y",
            },
            302,
        ),
        (
            "clinician",
            f"/clinical/referrals/{referral.id}/notes",
            lambda: {"body": "Called the patient."},
            302,
        ),
        (
            "certified",
            "/account",
            lambda: {
                "profile-full_name": "Cera Certified",
                "profile-timezone": "America/Denver",
                "profile-submit": "Save profile",
            },
            302,
        ),
        (
            "certified",
            "/licensure/licenses/new",
            lambda: {**license_form(state="WA", number="WA-9"), "documents": [pdf_file()]},
            302,
        ),
    ]


def _send(client, path: str, data: dict[str, Any]):
    limiter.reset()  # the filing's and the uploads' rate limits are not what is tried here
    if any(isinstance(v, list) for v in data.values()):
        return client.post(path, data=data, content_type="multipart/form-data")
    return client.post(path, data=data)


def test_one_odd_field_in_a_valid_form_is_never_a_server_error(users, as_user, cases) -> None:
    tried = 0
    for who, path, valid, ok_status in cases:
        client = as_user(users[who])
        baseline = _send(client, path, valid())
        assert baseline.status_code == ok_status, (path, baseline.get_data(as_text=True)[:400])
        for field in valid():
            if isinstance(valid()[field], list):
                continue  # files: tried in tests/licensure
            for value in ODD_VALUES:
                response = _send(client, path, {**valid(), field: value})
                assert response.status_code < 500, (who, path, field, value)
                tried += 1
    assert tried > 300
