"""The therapist's licensure overview: licenses and insurance policies read in one statement."""

from __future__ import annotations

from sqlalchemy import select

from lms.extensions import db
from lms.licensure.data import LicenseType
from lms.licensure.models import InsurancePolicy, License, RecordStatus
from lms.licensure.services import overview
from tests.certification.conftest import give_insurance, give_license


def test_the_overview_lists_each_license_and_policy_once_in_order(make_user, count_queries) -> None:
    """Each license beside each policy in one statement: every record comes out once, in
    the order it was added, whether the therapist has both kinds, one, or none; another
    therapist's records never."""
    both = make_user("therapist", full_name="Both Kinds")
    licenses_only = make_user("therapist", full_name="Licenses Only")
    policies_only = make_user("therapist", full_name="Policies Only")
    nothing = make_user("therapist", full_name="Nothing Yet")
    for i, (state, kind) in enumerate(
        [("NY", LicenseType.LCSW), ("CO", LicenseType.LMFT), ("CA", LicenseType.LPC)]
    ):
        give_license(both, state=state, license_type=kind, number=f"B-{i}")
        give_license(licenses_only, state=state, license_type=kind, number=f"L-{i}")
    give_license(both, number="B-rejected", status=RecordStatus.REJECTED)
    for i in range(2):
        give_insurance(both, policy_number=f"BP-{i}", carrier=f"Carrier {i}")
        give_insurance(policies_only, policy_number=f"P-{i}")

    def read_alone(model, user):
        return list(
            db.session.scalars(select(model).where(model.user_id == user.id).order_by(model.id))
        )

    for user in (both, licenses_only, policies_only, nothing):
        with count_queries as q:
            seen = overview(user, with_attestation=False)
        assert q.count == 2  # the records; whether an attestation is signed
        assert seen.licenses == read_alone(License, user), user.full_name
        assert seen.policies == read_alone(InsurancePolicy, user), user.full_name
    assert [lic.number for lic in overview(both).licenses] == ["B-0", "B-1", "B-2", "B-rejected"]
    assert len(overview(both).policies) == 2 and overview(nothing).licenses == []
