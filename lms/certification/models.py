"""Certification records: a therapist's acceptance of a version of the partner agreement.

Certification itself is never stored: :mod:`lms.certification.services` derives it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User
from lms.db import Base, utcnow


class AgreementAcceptance(Base):
    """One row per therapist and agreement version they accepted. Never changed."""

    __tablename__ = "agreement_acceptances"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    version: Mapped[int]
    # The SHA-256 of the agreement file as shown: proves which text was accepted.
    text_sha256: Mapped[str] = mapped_column(String(64))
    full_name_typed: Mapped[str] = mapped_column(String(200))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip_address: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "version"),)
