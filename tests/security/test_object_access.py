"""Another user's objects stay invisible by any URL.

A therapist ("the victim") creates records through the real pages, each carrying a canary
text; then other users try every object route of the URL map with every id that exists.
The canary must never appear, and the victim's documents never download.
"""

from __future__ import annotations

from sqlalchemy import func, select

from lms.db import Base
from lms.extensions import db
from tests.licensure.conftest import pdf_file, submit_license
from tests.security.conftest import audience, methods, rules, url

CANARY = "ZQCANARY"


def _seed_victim(client, as_user, victim) -> None:
    as_user(victim)
    response = client.post(
        "/referrals/new",
        data={
            "patient_name": f"Zebulon {CANARY}",
            "date_of_birth": "1980-01-02",
            "email": "zebulon@example.net",
            "phone": "303-555-0199",
            "state": "CO",
            "primary_concern": "panic",
            "prior_treatments": f"{CANARY} prior",
            "current_medications": f"{CANARY} meds",
            "consent": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    response = submit_license(
        client, files=[pdf_file(f"{CANARY}.pdf")], number=f"{CANARY}-1", state="WA"
    )
    assert response.status_code == 302
    response = client.post(
        "/licensure/insurance/new",
        data={"carrier": f"{CANARY} Mutual", "policy_number": f"{CANARY}-P"},
    )  # incomplete on purpose: a refused form must not leak either
    assert CANARY in response.get_data(as_text=True)  # the victim sees their own input


def _max_id() -> int:
    highest = 0
    for table in Base.metadata.sorted_tables:
        if "id" in table.c:
            highest = max(highest, db.session.scalar(select(func.max(table.c.id))) or 0)
    return min(highest, 60)


def test_nobody_else_sees_a_therapists_records_by_any_url(
    app, users, as_user, client, make_certified
) -> None:
    _seed_victim(client, as_user, users["certified"])
    # Another certified partner (licensed in the same state) and an applicant try.
    intruders = [make_certified(full_name="Ivan Intruder"), users["therapist"]]

    id_rules = [
        r
        for r in rules(app)
        if "GET" in methods(r)
        and any(a for a in r.arguments if a.endswith("id"))
        and audience(app, r) in ("member", "certified")
    ]
    assert len(id_rules) >= 5
    tried = 0
    for who in intruders:
        as_user(who)
        for rule in id_rules:
            for ident in range(1, _max_id() + 1):
                response = client.get(url(app, rule, ident))
                body = response.get_data()
                assert CANARY.encode() not in body, (
                    who.email,
                    rule.rule,
                    ident,
                    response.status_code,
                )
                tried += 1
    assert tried > 50
