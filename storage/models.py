"""Typed SQLAlchemy models: the system of record for papers, people, summaries and posts.

Relationships load ``lazy="raise"``: every query says what it needs. Timestamps are
timezone-aware UTC. The naming convention keeps constraint names stable in migrations.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}  # noqa: RUF012


def _enum(cls: type[enum.Enum]) -> Enum:
    """Enums are stored by value as plain strings with a CHECK, portable across databases."""
    return Enum(
        cls,
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        create_constraint=True,
        name=cls.__name__.lower(),
    )


class Role(enum.StrEnum):
    """What a user may do."""

    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class SummaryStatus(enum.StrEnum):
    """A summary's life: drafted, waiting for a moderator, then approved or rejected."""

    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    DELETED = "deleted"


class PublicationState(enum.StrEnum):
    """Where one (summary, channel) post stands."""

    PENDING = "pending"  # due at next_attempt_at
    CLAIMED = "claimed"  # a publisher holds it until lease_expires_at
    POSTED = "posted"  # the platform confirmed it; external_id is set
    REVIEW = "review"  # outcome unknown: a moderator decides
    FAILED = "failed"  # gave up; a moderator may retry
    CANCELLED = "cancelled"  # the summary was withdrawn before posting


class Paper(Base):
    """A paper, whatever it was found by; `aliases` map every other name to it."""

    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    doi: Mapped[str | None] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    abstract: Mapped[str | None] = mapped_column(Text)
    venue: Mapped[str | None] = mapped_column(String(255))
    year: Mapped[int | None] = mapped_column(SmallInteger)
    published: Mapped[datetime | None]
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    fetched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    aliases: Mapped[list[PaperAlias]] = relationship(back_populates="paper", lazy="raise")

    def __repr__(self) -> str:
        return f"Paper(id={self.id!r}, arxiv_id={self.arxiv_id!r}, doi={self.doi!r})"


class PaperAlias(Base):
    """Another name of a paper: ``arxiv:1611.03530v2``, ``doi:...``, ``dblp:conf/icml/FinnAL17``."""

    __tablename__ = "paper_aliases"

    alias: Mapped[str] = mapped_column(String(255), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)

    paper: Mapped[Paper] = relationship(back_populates="aliases", lazy="raise")


class User(Base):
    """A Telegram user as ShortSci knows them."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.MEMBER)
    banned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Summary(Base):
    """One user's summary of one paper (one per user per paper, as on ShortScience)."""

    __tablename__ = "summaries"
    __table_args__ = (
        UniqueConstraint("paper_id", "author_id", name="uq_summaries_paper_author"),
        Index("ix_summaries_status_approved_at", "status", "approved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    # The body as Telegram HTML, rendered when the body is written (readers far outnumber
    # writers); `html_version` is the renderer's version then. Stale or None: render on read.
    html: Mapped[str | None] = mapped_column(Text)
    html_version: Mapped[int | None] = mapped_column(SmallInteger)
    status: Mapped[SummaryStatus] = mapped_column(_enum(SummaryStatus))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    score: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    paper: Mapped[Paper] = relationship(lazy="raise")
    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="raise")


class SummaryRevision(Base):
    """A former body of a summary, kept on every edit."""

    __tablename__ = "summary_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    summary_id: Mapped[int] = mapped_column(
        ForeignKey("summaries.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    edited_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Vote(Base):
    """One user's +1 or -1 on a summary."""

    __tablename__ = "votes"
    __table_args__ = (CheckConstraint("value IN (-1, 1)", name="value"),)

    summary_id: Mapped[int] = mapped_column(
        ForeignKey("summaries.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    value: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Publication(Base):
    """The outbox: one row per (summary, channel), claimed and completed by publishers."""

    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("summary_id", "channel", name="uq_publications_summary_channel"),
        Index("ix_publications_due", "state", "next_attempt_at"),
        Index("ix_publications_channel_posted_at", "channel", "posted_at"),
        Index("ix_publications_channel_state_next", "channel", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    summary_id: Mapped[int] = mapped_column(ForeignKey("summaries.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[PublicationState] = mapped_column(_enum(PublicationState))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    in_flight: Mapped[bool] = mapped_column(default=False)
    external_id: Mapped[str | None] = mapped_column(String(255))
    external_url: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    posted_at: Mapped[datetime | None]
    thread_ids: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    pending_change: Mapped[str | None] = mapped_column(String(16))  # "update" or "withdraw"

    summary: Mapped[Summary] = relationship(lazy="raise")


class PublicationAttempt(Base):
    """One try at posting a publication, with its outcome and a capped detail snippet."""

    __tablename__ = "publication_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication_id: Mapped[int] = mapped_column(
        ForeignKey("publications.id", ondelete="CASCADE"), index=True
    )
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)


class DraftKind(enum.StrEnum):
    """What the text a user is typing is for."""

    SUMMARY = "summary"  # a new summary of `paper_id`
    EDIT = "edit"  # a new text for summary `target_id`
    REJECT_REASON = "reject_reason"  # a moderator's reason for rejecting `target_id`
    ADD_PAPER = "add_paper"  # a paper a moderator enters by hand; `body` holds the fields


class Draft(Base):
    """What a user is in the middle of writing, kept so a restart loses nothing."""

    __tablename__ = "drafts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[DraftKind] = mapped_column(_enum(DraftKind))
    paper_id: Mapped[int | None] = mapped_column(ForeignKey("papers.id"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("summaries.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text, default="")
    parts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelState(Base):
    """A publishing channel's health: paused (and why), last success, last error."""

    __tablename__ = "channel_states"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    paused: Mapped[bool] = mapped_column(default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None]
