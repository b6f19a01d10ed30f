"""Demo data: the demo partner accepts the current partner agreement (idempotent)."""

from __future__ import annotations

from lms.accounts.models import User
from lms.certification import agreements, services


def seed_certification(partner: User) -> list[str]:
    """The partner accepts the current agreement; the applicant is left to do it themselves."""
    current = agreements.current()
    if current is None:
        return ["certification: no partner agreement is published"]
    if services.accepted(partner, current.version) is not None:
        return [f"certification: partner has accepted agreement version {current.version}"]
    services.accept_agreement(partner, current.version, partner.full_name, None)
    return [f"certification: partner accepted agreement version {current.version}"]
