"""Channel health and the publisher's questions about the outbox.

Pausing is per channel (an auth failure pauses only its own channel); moderators resume it.
Review and failed publications are settled by a moderator: marked posted, or posted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Executable, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.db import Executor, insert_for
from storage.errors import Conflict, NotFound, PermissionDenied
from storage.models import ChannelState, Publication, PublicationState, Summary, User, utcnow
from storage.publications import FOR_POSTING
from storage.users import is_moderator

ERROR_LIMIT = 500


async def channel_state(session: AsyncSession, channel: str) -> ChannelState:
    """The channel's state row, created on first use."""
    state = await session.get(ChannelState, channel)
    if state is None:  # several publishers may start at once: insert unless one did
        await session.execute(_create_state(session, channel))
        state = await session.get(ChannelState, channel, populate_existing=True)
        assert state is not None
    return state


def _create_state(session: Executor, channel: str) -> Executable:
    """Insert the channel's state row unless it exists (several publishers may start at once)."""
    stmt = insert_for(session, ChannelState).values(channel=channel, paused=False)
    return stmt.on_conflict_do_nothing()


async def pause_channel(session: AsyncSession, channel: str, reason: str) -> bool:
    """Pause a channel; True if it was running (so the moderators should be told)."""
    state = await channel_state(session, channel)
    was_running = not state.paused
    state.paused, state.paused_reason = True, reason[:ERROR_LIMIT]
    state.paused_at = state.paused_at if not was_running else utcnow()
    await session.flush()
    return was_running


async def resume_channel(session: AsyncSession, actor: User, channel: str) -> None:
    """Let a paused channel post again (moderators, after renewing its credentials)."""
    if not is_moderator(actor):
        raise PermissionDenied("Only moderators can resume a channel.")
    state = await channel_state(session, channel)
    state.paused, state.paused_reason, state.paused_at = False, None, None
    await session.flush()


async def note_channel_result(
    session: Executor, channel: str, *, error: str | None, now: datetime | None = None
) -> None:
    """Remember a channel's last success or last error (on a session or a connection)."""
    moment = now or utcnow()
    values: dict[str, object] = {"last_run_at": moment}
    if error is None:
        values["last_success_at"] = moment
    else:
        values |= {"last_error": error[:ERROR_LIMIT], "last_error_at": moment}
    note = update(ChannelState).where(ChannelState.channel == channel).values(values)
    noted = await session.execute(note)
    if noted.rowcount == 0:  # type: ignore[attr-defined]  # its first run: create the row
        await session.execute(_create_state(session, channel))
        await session.execute(note)


async def all_channel_states(session: AsyncSession) -> dict[str, ChannelState]:
    """Every channel's state row, by name."""
    return {s.channel: s for s in await session.scalars(select(ChannelState))}


async def posted_since(session: AsyncSession, channel: str, since: datetime) -> int:
    """How many posts a channel made since `since` (for daily caps)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Publication)
        .where(Publication.channel == channel, Publication.posted_at >= since)
    )
    return int(count or 0)


async def load_for_posting(session: AsyncSession, publication_ids: list[int]) -> list[Publication]:
    """Publications with their summary and paper loaded (to compose), in the given order."""
    rows = await session.scalars(
        select(Publication).options(*FOR_POSTING).where(Publication.id.in_(publication_ids))
    )
    by_id = {p.id: p for p in rows}
    return [by_id[i] for i in publication_ids if i in by_id]


@dataclass(frozen=True, slots=True)
class Settled:
    """What a moderator's decision on a publication did."""

    publication_id: int
    state: PublicationState


async def settle_publication(
    session: AsyncSession,
    moderator: User,
    publication_id: int,
    *,
    posted: bool,
    external_url: str | None = None,
) -> Settled:
    """A moderator settles a review or failed publication: it was posted, or post it again."""
    if not is_moderator(moderator):
        raise PermissionDenied("Only moderators can settle publications.")
    publication = await session.get(Publication, publication_id)
    if publication is None:
        raise NotFound(f"There is no publication #{publication_id}.")
    if publication.state not in (PublicationState.REVIEW, PublicationState.FAILED):
        raise Conflict(
            f"Publication #{publication_id} is {publication.state.value}, "
            "not waiting for a decision."
        )
    now = utcnow()
    if posted:
        publication.state, publication.posted_at = PublicationState.POSTED, now
        publication.external_url = external_url or publication.external_url
        publication.external_id = publication.external_id or "marked-by-moderator"
    else:
        publication.state, publication.next_attempt_at = PublicationState.PENDING, now
        publication.attempts, publication.in_flight = 0, False
    publication.last_error = None
    await session.flush()
    return Settled(publication.id, publication.state)


async def publications_needing_review(session: AsyncSession) -> list[Publication]:
    """Publications whose outcome a moderator must settle, oldest first."""
    rows = await session.scalars(
        select(Publication)
        .options(joinedload(Publication.summary).joinedload(Summary.paper))
        .where(Publication.state.in_([PublicationState.REVIEW, PublicationState.FAILED]))
        .order_by(Publication.id)
    )
    return list(rows)


@dataclass(frozen=True, slots=True)
class ChannelReport:
    """One channel's line in ``shortsci status`` and the bot's /status."""

    channel: str
    enabled: bool
    queued: int
    posted: int
    review: int
    failed: int
    paused: bool
    paused_reason: str | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    next_run_at: datetime | None


async def channel_reports(session: AsyncSession, enabled: tuple[str, ...]) -> list[ChannelReport]:
    """Queue depth and health of every enabled channel (and any with rows left)."""
    rows = await session.execute(
        select(Publication.channel, Publication.state, func.count()).group_by(
            Publication.channel, Publication.state
        )
    )
    depth: dict[str, dict[PublicationState, int]] = {}
    for channel, publication_state, count in rows.tuples():
        depth.setdefault(channel, {})[publication_state] = count
    states = await all_channel_states(session)
    reports = []
    for channel in sorted(set(enabled) | set(depth)):
        counts = depth.get(channel, {})
        state = states.get(channel)
        reports.append(
            ChannelReport(
                channel=channel,
                enabled=channel in enabled,
                queued=counts.get(PublicationState.PENDING, 0)
                + counts.get(PublicationState.CLAIMED, 0),
                posted=counts.get(PublicationState.POSTED, 0),
                review=counts.get(PublicationState.REVIEW, 0),
                failed=counts.get(PublicationState.FAILED, 0),
                paused=bool(state and state.paused),
                paused_reason=state.paused_reason if state else None,
                last_success_at=state.last_success_at if state else None,
                last_error=state.last_error if state else None,
                last_error_at=state.last_error_at if state else None,
                next_run_at=state.next_run_at if state else None,
            )
        )
    return reports


async def note_next_run(session: AsyncSession, channel: str, when: datetime | None) -> None:
    """Remember when the scheduler will next run this channel (shown by /status)."""
    state = await channel_state(session, channel)
    state.next_run_at = when
    await session.flush()


async def due_publications(session: AsyncSession, channels: list[str], now: datetime) -> list[int]:
    """Ids of the publications due on these channels now, in the order they would go."""
    ids = await session.scalars(
        select(Publication.id)
        .where(
            Publication.state == PublicationState.PENDING,
            Publication.next_attempt_at <= now,
            Publication.channel.in_(channels),
        )
        .order_by(Publication.channel, Publication.next_attempt_at, Publication.id)
    )
    return list(ids)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def format_reports(reports: list[ChannelReport]) -> str:
    """Channel health as plain text, one block per channel (for the CLI and /status)."""
    if not reports:
        return "No publishing channel is configured."
    blocks = []
    for r in reports:
        head = f"{r.channel}: " + ("PAUSED" if r.paused else "on" if r.enabled else "off")
        lines = [
            head + (f" ({r.paused_reason})" if r.paused and r.paused_reason else ""),
            f"  queued {r.queued} · posted {r.posted} · review {r.review} · failed {r.failed}",
            f"  last success: {_when(r.last_success_at)} · next run: {_when(r.next_run_at)}",
        ]
        if r.last_error:
            lines.append(f"  last error ({_when(r.last_error_at)}): {r.last_error}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
