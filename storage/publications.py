"""The publication outbox: enqueue on approval, claim safely, record every attempt.

A claim is a lease: ``claimed`` rows whose lease expired are due again, so a crashed
publisher's work is picked up. One statement claims rows on both databases: PostgreSQL
locks candidates with ``FOR UPDATE SKIP LOCKED`` so concurrent publishers never take the
same row; SQLite serialises writers, and the repeated due-condition makes the update
conditional. A row whose previous attempt started but never finished comes back with
``in_flight`` set: its outcome is unknown, and the publisher must reconcile, not re-post.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, true, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Publication, PublicationAttempt, PublicationState, utcnow

DETAIL_LIMIT = 500


class Outcome(enum.StrEnum):
    """How one attempt ended, as the publisher judged the platform's answer."""

    POSTED = "posted"
    RETRY = "retry"
    BAD_CONTENT = "bad_content"
    REAUTH = "reauth"
    UNKNOWN = "unknown"


async def enqueue_publications(
    session: AsyncSession, summary_id: int, channels: Sequence[str], *, now: datetime | None = None
) -> None:
    """One pending publication per channel for this summary (existing ones are kept)."""
    if not channels:
        return
    due = now or utcnow()
    rows = [
        {
            "summary_id": summary_id,
            "channel": channel,
            "state": PublicationState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": due,
            "in_flight": False,
            "created_at": due,
        }
        for channel in channels
    ]
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Publication).values(rows).on_conflict_do_nothing()
    await session.execute(stmt)


class Change(enum.StrEnum):
    """What to do to a post that is already out."""

    UPDATE = "update"  # the summary was edited
    WITHDRAW = "withdraw"  # the summary was deleted


async def request_change(session: AsyncSession, summary_id: int, change: Change) -> None:
    """Queue a change to this summary's posts; channels that can edit or delete will."""
    await session.execute(
        update(Publication)
        .where(Publication.summary_id == summary_id, Publication.state == PublicationState.POSTED)
        .values(
            state=PublicationState.PENDING,
            pending_change=change.value,
            next_attempt_at=utcnow(),
            attempts=0,
        )
    )


async def cancel_publications(session: AsyncSession, summary_id: int) -> None:
    """Cancel this summary's publications that were not posted yet."""
    await session.execute(
        update(Publication)
        .where(
            Publication.summary_id == summary_id,
            Publication.state.in_(
                [PublicationState.PENDING, PublicationState.FAILED, PublicationState.REVIEW]
            ),
        )
        .values(state=PublicationState.CANCELLED)
    )


def _due(now: datetime) -> object:
    return or_(
        and_(Publication.state == PublicationState.PENDING, Publication.next_attempt_at <= now),
        and_(Publication.state == PublicationState.CLAIMED, Publication.lease_expires_at < now),
    )


async def claim_due(
    session: AsyncSession,
    worker: str,
    *,
    channels: Sequence[str] | None = None,
    limit: int = 10,
    lease: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> list[Publication]:
    """Claim up to `limit` due publications for `worker`; commit right after to hold them."""
    now = now or utcnow()
    due = _due(now)
    in_channels = Publication.channel.in_(channels) if channels is not None else true()
    if session.bind.dialect.name == "postgresql":
        # A CTE: PostgreSQL materialises it (it locks rows), so LIMIT holds; a plain
        # IN-subquery may be re-run by the planner and claim more rows than asked.
        due_ids = (
            select(Publication.id.label("id"))
            .where(due, in_channels)  # type: ignore[arg-type]
            .order_by(Publication.next_attempt_at, Publication.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due_ids")
        )
        chosen = select(due_ids.c.id)
    else:
        # SQLite plans an OR over two states as a scan of the channel's whole history; as a
        # union, each half is a seek on ix_publications_channel_state_next.
        pending = (
            select(Publication.id.label("id"), Publication.next_attempt_at.label("at"))
            .where(
                in_channels,
                Publication.state == PublicationState.PENDING,
                Publication.next_attempt_at <= now,
            )
            .order_by(Publication.next_attempt_at)
            .limit(limit)
            .subquery()
        )
        expired = (
            select(Publication.id.label("id"), Publication.next_attempt_at.label("at"))
            .where(
                in_channels,
                Publication.state == PublicationState.CLAIMED,
                Publication.lease_expires_at < now,
            )
            .limit(limit)
            .subquery()
        )
        both = union_all(select(pending.c.id, pending.c.at), select(expired.c.id, expired.c.at))
        merged = both.subquery()
        chosen = select(merged.c.id).order_by(merged.c.at, merged.c.id).limit(limit)
    claimed = await session.scalars(
        update(Publication)
        .where(Publication.id.in_(chosen), due)  # type: ignore[arg-type]
        .values(
            state=PublicationState.CLAIMED,
            claimed_by=worker,
            claimed_at=now,
            lease_expires_at=now + lease,
        )
        .returning(Publication.id)
    )
    ids = list(claimed)
    if not ids:
        return []
    rows = await session.scalars(
        select(Publication)
        .where(Publication.id.in_(ids))
        .order_by(Publication.next_attempt_at, Publication.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def begin_attempt(
    session: AsyncSession, publication_id: int, worker: str, *, now: datetime | None = None
) -> int | None:
    """Mark the request as about to go out; None if `worker` no longer holds the claim.

    Commit before calling the platform: if we crash after this, the row is known in flight.
    """
    now = now or utcnow()
    result = await session.execute(
        update(Publication)
        .where(
            Publication.id == publication_id,
            Publication.state == PublicationState.CLAIMED,
            Publication.claimed_by == worker,
        )
        .values(in_flight=True, attempts=Publication.attempts + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    attempt = PublicationAttempt(publication_id=publication_id, worker=worker, started_at=now)
    session.add(attempt)
    await session.flush()
    return attempt.id


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What happened on the platform, as `record_outcome` stores it."""

    outcome: Outcome
    detail: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    retry_at: datetime | None = None
    chain: tuple[str, ...] = ()  # a thread's post ids that went out (all, or before a failure)
    reconcile_first: bool = False  # the request may have gone out: look before posting again


async def record_outcome(
    session: AsyncSession,
    publication_id: int,
    attempt_id: int | None,
    worker: str,
    result: AttemptResult,
    *,
    max_attempts: int = 8,
    now: datetime | None = None,
) -> PublicationState | None:
    """Store an attempt's outcome and move the publication on; None if the claim was lost.

    A post the platform confirmed is stored even if the lease was lost meanwhile: it is
    the truth about the platform, and storing it is what prevents a second post.
    """
    now = now or utcnow()
    publication = await session.get(Publication, publication_id, populate_existing=True)
    if publication is None:
        return None
    holds = publication.state is PublicationState.CLAIMED and publication.claimed_by == worker
    if not holds and result.outcome is not Outcome.POSTED:
        return None
    if attempt_id is not None:
        attempt = await session.get(PublicationAttempt, attempt_id)
        if attempt is not None:
            attempt.finished_at = now
            attempt.outcome = result.outcome.value
            attempt.detail = (result.detail or "")[:DETAIL_LIMIT] or None
    publication.in_flight = result.reconcile_first
    publication.claimed_by = None
    publication.lease_expires_at = None
    if result.chain:
        publication.thread_ids = list(result.chain)
    if result.outcome is Outcome.POSTED:
        withdrawn = publication.pending_change == Change.WITHDRAW
        publication.state = PublicationState.CANCELLED if withdrawn else PublicationState.POSTED
        publication.external_id = result.external_id or publication.external_id
        publication.external_url = result.external_url or publication.external_url
        publication.posted_at = publication.posted_at or now
        publication.last_error = None
        publication.pending_change = None
    elif result.outcome is Outcome.UNKNOWN:
        publication.state = PublicationState.REVIEW
        publication.last_error = (result.detail or "outcome unknown")[:DETAIL_LIMIT]
    elif result.outcome is Outcome.BAD_CONTENT or publication.attempts >= max_attempts:
        publication.state = PublicationState.FAILED
        publication.last_error = (result.detail or result.outcome.value)[:DETAIL_LIMIT]
    else:  # RETRY, REAUTH: due again later
        publication.state = PublicationState.PENDING
        publication.next_attempt_at = result.retry_at or now
        publication.last_error = (result.detail or result.outcome.value)[:DETAIL_LIMIT]
    await session.flush()
    return publication.state


async def release_claim(session: AsyncSession, publication_id: int, worker: str) -> None:
    """Give a claimed publication back untried (for example when its channel is paused)."""
    await session.execute(
        update(Publication)
        .where(
            Publication.id == publication_id,
            Publication.claimed_by == worker,
            Publication.state == PublicationState.CLAIMED,
            Publication.in_flight.is_(False),
        )
        .values(state=PublicationState.PENDING, claimed_by=None, lease_expires_at=None)
    )
