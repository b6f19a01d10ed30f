"""Accounts: users, their roles, and staff invitations."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.crypto import EncryptedText
from lms.db import Base, utcnow


class Role(enum.StrEnum):
    THERAPIST = "therapist"
    CLINICIAN = "clinician"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.capitalize()


STAFF_ROLES = (Role.CLINICIAN, Role.ADMIN)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def role_enum() -> Enum:
    return Enum(
        Role,
        name="user_role",
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        create_constraint=True,
    )


class User(Base):
    """A person who can log in: therapist, clinician or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: unique case-insensitively on every database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Indexed by ix_users_role_created_at (role first): the directories filter by role and
    # sort by joining date; a role-only index would be redundant, and the planner's coin.
    role: Mapped[Role] = mapped_column(role_enum(), default=Role.THERAPIST)
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    is_active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None]
    # Changing it ends every open session of this user (log-out everywhere).
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Two-step verification (TOTP, RFC 6238). The secret is set once confirmed with a code;
    # the last accepted time step stops a code from being used twice.
    # The seed of the authenticator codes: encrypted at rest (whoever has it makes the codes).
    mfa_secret: Mapped[str | None] = mapped_column(EncryptedText())
    mfa_enabled_at: Mapped[datetime | None]
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger)

    invited_by: Mapped[User | None] = relationship(remote_side=[id])

    __table_args__ = (
        # The admin therapist directory: role = therapist, newest first by default.
        Index("ix_users_role_created_at", "role", "created_at"),
        # The admin searches ("contains", case-insensitive, on name and e-mail): trigram
        # indexes on PostgreSQL, where a LIKE '%term%' can use them; SQLite has none.
        *(
            Index(
                f"ix_users_{column}_trgm",
                func.lower(column).label(f"{column}_lower"),
                postgresql_using="gin",
                postgresql_ops={f"{column}_lower": "gin_trgm_ops"},
            ).ddl_if(dialect="postgresql")
            for column in ("full_name", "email")
        ),
    )

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.session_token

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_enabled_at is not None and bool(self.mfa_secret)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @classmethod
    def name_of(cls, user_id: Any) -> Any:
        """The full name of the user ``user_id`` (a column of the row being read), as a
        column: lists read the names of the people they show in their own statement (the
        database runs the subquery by primary key for the rows shown), not as objects."""
        return select(cls.full_name).where(cls.id == user_id).scalar_subquery()

    def has_role(self, *roles: Role | str) -> bool:
        return self.role in {Role(r) for r in roles}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class Invitation(Base):
    """An admin's invitation to create a staff account; the link carries the token."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[Role] = mapped_column(role_enum())
    # Only a hash of the token is stored; the token itself is in the e-mailed link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    def status(self, now: datetime) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"


class UserSession(Base):
    """One log-in on one device. The cookie holds a random key; only its hash is stored.

    A session ends at log-out, after the idle timeout, at its absolute lifetime, or when
    the account's password, role or status changes (all of that user's sessions end).
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(40))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """A single-use code that stands in for the authenticator app; stored hashed."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]
