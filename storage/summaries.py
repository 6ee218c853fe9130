"""Summaries and votes: submit, edit, delete, approve, reject, vote, and the reading lists.

Every operation takes the acting `User`, checks what they may do, and flushes; the caller's
unit of work commits. Refusals are `storage.errors` with messages fit for a user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, joinedload

from markup import TELEGRAM_HTML_VERSION, to_telegram_html
from storage.db import Database
from storage.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from storage.models import (
    Base,
    Paper,
    Summary,
    SummaryRevision,
    SummaryStatus,
    User,
    utcnow,
)
from storage.publications import (
    Change,
    cancel_publications,
    enqueue_publications,
    request_change,
)
from storage.users import is_moderator

MIN_LENGTH = 200
MAX_LENGTH = 20_000


class AlreadySummarized(Conflict):
    """The author already has a summary of this paper; `summary_id` is it."""

    def __init__(self, summary_id: int) -> None:
        super().__init__(
            f"You already wrote a summary of this paper (#{summary_id}). "
            f"Use /edit {summary_id} to change it."
        )
        self.summary_id = summary_id


def check_body(body: str) -> str:
    """Validate a summary body's length; returns it stripped of outer blank space."""
    text = body.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    if len(text) < MIN_LENGTH:
        raise InvalidInput(
            f"A summary needs at least {MIN_LENGTH} characters; this one has {len(text)}. "
            "Add a few sentences on what the paper does and why it matters."
        )
    if len(text) > MAX_LENGTH:
        raise InvalidInput(
            f"A summary can have at most {MAX_LENGTH:,} characters; this one has {len(text):,}. "
            "Please shorten it: a summary is the short version."
        )
    return text


async def _get(session: AsyncSession, summary_id: int) -> Summary:
    summary = await session.get(Summary, summary_id)
    if summary is None or summary.status is SummaryStatus.DELETED:
        raise NotFound(f"There is no summary #{summary_id}.")
    return summary


def check_can_change(summary: Summary, actor: User, action: str) -> None:
    """Refuse unless `actor` wrote `summary` or moderates; `action` is a verb for the message."""
    if summary.author_id != actor.id and not is_moderator(actor):
        raise PermissionDenied(
            f"Only the author or a moderator can {action} summary #{summary.id}."
        )


async def submit_summary(
    session: AsyncSession,
    author: User,
    paper_id: int,
    body: str,
    *,
    moderated: bool,
    channels: Sequence[str],
) -> Summary:
    """Save a new summary; approved at once (and enqueued) unless a moderator must look.

    Args:
        moderated: whether the deployment has moderators (``SHORTSCI_ADMINS`` set).
        channels: the enabled publishing channels, enqueued on approval.
    """
    if author.banned:
        raise PermissionDenied("You are banned from submitting summaries.")
    text = check_body(body)
    if await session.get(Paper, paper_id) is None:
        raise NotFound("That paper is not in the catalog.")
    existing = await session.scalar(
        select(Summary).where(Summary.paper_id == paper_id, Summary.author_id == author.id)
    )
    now = utcnow()
    if existing is not None and existing.status is not SummaryStatus.DELETED:
        raise AlreadySummarized(existing.id)
    if existing is not None:  # revive a deleted one, keeping its old text in history
        session.add(
            SummaryRevision(summary_id=existing.id, body=existing.body, edited_by=author.id)
        )
        summary = existing
        summary.reject_reason, summary.approved_at = None, None
        summary.created_at = now
    else:
        summary = Summary(paper_id=paper_id, author_id=author.id, score=0)
        session.add(summary)
    set_body(summary, text)
    summary.updated_at = now
    summary.status = SummaryStatus.PENDING
    await session.flush()
    if not moderated or is_moderator(author):
        await _approve(session, summary, author, channels)
    return summary


def set_body(summary: Summary, text: str) -> None:
    """The one way a summary's text changes: its Telegram HTML is rendered with it."""
    summary.body = text
    summary.html, summary.html_version = to_telegram_html(text), TELEGRAM_HTML_VERSION


_STALE = (
    select(Summary.id, Summary.body)
    .where(
        or_(Summary.html_version.is_(None), Summary.html_version != TELEGRAM_HTML_VERSION),
        Summary.status != SummaryStatus.DELETED,
        Summary.id > bindparam("after", type_=Integer),
    )
    .order_by(Summary.id)
    .limit(bindparam("batch", type_=Integer))
)


_RENDERED = (
    update(Summary)
    .where(Summary.id == bindparam("summary_id"), Summary.body == bindparam("rendered_body"))
    .values(html=bindparam("html"), html_version=TELEGRAM_HTML_VERSION)
)


async def render_stale(db: Database, *, batch: int = 100) -> int:
    """Render every summary stored without current Telegram HTML; how many were rendered.

    For rows written before renders were stored, or by an older renderer. Renders happen
    outside any transaction (a writer never waits for them), and a row edited meanwhile is
    left to its own new render. Safe in several processes at once.
    """
    done = after = 0
    while True:
        async with db.sessions() as session:
            rows = (await session.execute(_STALE, {"batch": batch, "after": after})).all()
        if not rows:
            return done
        params = await asyncio.to_thread(_rendered, rows)  # the event loop keeps serving
        async with db.engine.begin() as conn:  # Core executemany: one statement, many rows
            await conn.execute(_RENDERED, params)
        done, after = done + len(rows), rows[-1][0]


def _rendered(rows: Sequence[Row[tuple[int, str]]]) -> list[dict[str, object]]:
    return [{"summary_id": i, "rendered_body": b, "html": to_telegram_html(b)} for i, b in rows]


async def edit_summary(session: AsyncSession, actor: User, summary_id: int, body: str) -> Summary:
    """Replace a summary's text, keeping the old one; a rejected summary goes back to review."""
    summary = await _get(session, summary_id)
    check_can_change(summary, actor, "edit")
    text = check_body(body)
    if text == summary.body:
        return summary
    session.add(SummaryRevision(summary_id=summary.id, body=summary.body, edited_by=actor.id))
    set_body(summary, text)
    summary.updated_at = utcnow()
    if summary.status is SummaryStatus.REJECTED:
        summary.status, summary.reject_reason = SummaryStatus.PENDING, None
    await session.flush()
    if summary.status is SummaryStatus.APPROVED:
        await request_change(session, summary.id, Change.UPDATE)
    return summary


async def delete_summary(session: AsyncSession, actor: User, summary_id: int) -> Summary:
    """Withdraw a summary; posts not yet made are cancelled."""
    summary = await _get(session, summary_id)
    check_can_change(summary, actor, "delete")
    summary.status = SummaryStatus.DELETED
    summary.updated_at = utcnow()
    await cancel_publications(session, summary.id)
    await request_change(session, summary.id, Change.WITHDRAW)
    await session.flush()
    return summary


async def _approve(
    session: AsyncSession, summary: Summary, moderator: User, channels: Sequence[str]
) -> None:
    now = utcnow()
    summary.status = SummaryStatus.APPROVED
    summary.approved_at = now
    summary.decided_by = moderator.id
    summary.reject_reason = None
    await session.flush()
    await enqueue_publications(session, summary.id, channels, now=now)


async def approve_summary(
    session: AsyncSession, moderator: User, summary_id: int, *, channels: Sequence[str]
) -> Summary:
    """Approve a waiting summary and enqueue it on every channel, in this transaction."""
    if not is_moderator(moderator):
        raise PermissionDenied("Only moderators can approve summaries.")
    summary = await _get(session, summary_id)
    if summary.status is SummaryStatus.APPROVED:
        raise Conflict(f"Summary #{summary_id} is already approved.")
    await _approve(session, summary, moderator, channels)
    return summary


async def reject_summary(
    session: AsyncSession, moderator: User, summary_id: int, reason: str
) -> Summary:
    """Reject a waiting summary with a reason the author will read."""
    if not is_moderator(moderator):
        raise PermissionDenied("Only moderators can reject summaries.")
    summary = await _get(session, summary_id)
    if summary.status is not SummaryStatus.PENDING:
        raise Conflict(f"Summary #{summary_id} is not waiting for review.")
    summary.status = SummaryStatus.REJECTED
    summary.reject_reason = reason.replace("\x00", "").strip()[:1000] or "No reason given."
    summary.decided_by = moderator.id
    summary.updated_at = utcnow()
    await session.flush()
    return summary


@dataclass(frozen=True, slots=True)
class VoteResult:
    """The summary's score after a vote, and the voter's standing vote (0 if withdrawn)."""

    score: int
    my_vote: int


_SUMMARIES, _VOTES = Base.metadata.tables["summaries"], Base.metadata.tables["votes"]
# Plain table statements, built once: a vote is three short statements and no ORM unit of work
# (which cost about half of a vote's CPU; bench/bench_sqlite_inline.py measures votes).
_VOTE_STATE = (
    select(_SUMMARIES.c.status, _SUMMARIES.c.author_id, _VOTES.c.value)
    .select_from(
        _SUMMARIES.outerjoin(
            _VOTES,
            (_VOTES.c.summary_id == _SUMMARIES.c.id) & (_VOTES.c.user_id == bindparam("voter")),
        )
    )
    .where(_SUMMARIES.c.id == bindparam("summary"))
    # PostgreSQL: votes on one summary take turns, so each rescore sums the others' committed
    # votes (else two at once may each miss the other's). SQLite serialises writers anyway.
    .with_for_update(of=_SUMMARIES)
)
_THIS_VOTE = (_VOTES.c.summary_id == bindparam("summary")) & (
    _VOTES.c.user_id == bindparam("voter")
)
_ADD_VOTE = _VOTES.insert()
_DROP_VOTE = _VOTES.delete().where(_THIS_VOTE)
_CHANGE_VOTE = (
    _VOTES.update().where(_THIS_VOTE).values(value=bindparam("new"), updated_at=bindparam("at"))
)
_RESCORE = (
    update(_SUMMARIES)
    .where(_SUMMARIES.c.id == bindparam("summary"))
    .values(
        score=select(func.coalesce(func.sum(_VOTES.c.value), 0))
        .where(_VOTES.c.summary_id == bindparam("summary"))
        .scalar_subquery()
    )
    .returning(_SUMMARIES.c.score)
)


async def vote(session: AsyncSession, voter: User, summary_id: int, value: int) -> VoteResult:
    """Vote +1 or -1; voting the same way again withdraws the vote. Not on one's own."""
    if value not in (1, -1):
        raise InvalidInput("A vote is 👍 or 👎.")
    if voter.banned:
        raise PermissionDenied("You are banned from voting.")
    keys = {"summary": summary_id, "voter": voter.id}
    state = (await session.execute(_VOTE_STATE, keys)).first()
    if state is None or state.status == SummaryStatus.DELETED:
        raise NotFound(f"There is no summary #{summary_id}.")
    if state.status != SummaryStatus.APPROVED:
        raise Conflict("Only published summaries can be voted on.")
    if state.author_id == voter.id:
        raise Conflict("You cannot vote on your own summary.")
    if state.value is None:
        row = {"summary_id": summary_id, "user_id": voter.id, "value": value}
        await session.execute(_ADD_VOTE, row)
        mine = value
    elif state.value == value:
        await session.execute(_DROP_VOTE, keys)
        mine = 0
    else:
        await session.execute(_CHANGE_VOTE, {**keys, "new": value, "at": utcnow()})
        mine = value
    score = (await session.execute(_RESCORE, {"summary": summary_id})).scalar()
    return VoteResult(score=int(score or 0), my_vote=mine)


async def get_summary(session: AsyncSession, summary_id: int) -> Summary:
    """A summary with its paper and author loaded; deleted ones are not found."""
    summary = await session.scalar(
        select(Summary)
        .options(joinedload(Summary.paper), joinedload(Summary.author))
        .where(Summary.id == summary_id, Summary.status != SummaryStatus.DELETED)
    )
    if summary is None:
        raise NotFound(f"There is no summary #{summary_id}.")
    return summary


def _listing(*conditions: ColumnElement[bool]) -> Select[tuple[Summary]]:
    return (
        select(Summary)
        .options(joinedload(Summary.paper), joinedload(Summary.author))
        .where(*conditions)
    )


async def latest_summaries(
    session: AsyncSession, *, limit: int = 10, offset: int = 0
) -> list[Summary]:
    """The newest approved summaries."""
    stmt = _listing(Summary.status == SummaryStatus.APPROVED)
    rows = await session.scalars(
        stmt.order_by(Summary.approved_at.desc(), Summary.id.desc()).limit(limit).offset(offset)
    )
    return list(rows)


class PaperPage(NamedTuple):
    """A paper, its summary at some rank (None past the last) and how many it has."""

    paper: Paper
    summary: Summary | None
    total: int


PageKey = Literal["id", "arxiv_id", "doi"]
_RANKED = aliased(Summary)
_APPROVED_OF_PAPER = (
    _RANKED.paper_id == Paper.id,
    _RANKED.status == SummaryStatus.APPROVED,
)


def _page_statement(key: PageKey) -> Select[tuple[Paper, Summary, int]]:
    ranked_id = (
        select(_RANKED.id)
        .where(*_APPROVED_OF_PAPER)
        .order_by(_RANKED.score.desc(), _RANKED.approved_at, _RANKED.id)  # best, then oldest
        .limit(1)
        .offset(bindparam("index", type_=Integer))
        .correlate(Paper)
        .scalar_subquery()
    )
    total = select(func.count()).where(*_APPROVED_OF_PAPER).correlate(Paper).scalar_subquery()
    return (
        select(Paper, Summary, total)
        .outerjoin(Summary, Summary.id == ranked_id)
        .outerjoin(User, User.id == Summary.author_id)
        .options(contains_eager(Summary.author))
        .where(getattr(Paper, key) == bindparam("value"))
    )


# Built once: the hottest read (every /paper and page turn), so SQLAlchemy need not
# rebuild and re-key it. One round trip: the paper, its ranked summary with its author, the count.
_PAGES = {key: _page_statement(key) for key in get_args(PageKey)}


async def read_page(
    session: AsyncSession, key: PageKey, value: int | str, index: int = 0
) -> PaperPage | None:
    """The paper whose `key` is `value`, with its `index`-th best summary; None if no paper."""
    row = (await session.execute(_PAGES[key], {"value": value, "index": index})).first()
    return None if row is None else PaperPage(row[0], row[1], int(row[2]))


async def summary_counts(session: AsyncSession, paper_ids: Sequence[int]) -> dict[int, int]:
    """How many approved summaries each of these papers has (absent: none)."""
    if not paper_ids:
        return {}
    rows = await session.execute(
        select(Summary.paper_id, func.count())
        .where(Summary.paper_id.in_(paper_ids), Summary.status == SummaryStatus.APPROVED)
        .group_by(Summary.paper_id)
    )
    return {paper_id: count for paper_id, count in rows.tuples()}


async def find_own_summary(session: AsyncSession, author_id: int, paper_id: int) -> Summary | None:
    """The author's live summary of this paper, if they wrote one."""
    summary: Summary | None = await session.scalar(
        select(Summary).where(
            Summary.author_id == author_id,
            Summary.paper_id == paper_id,
            Summary.status != SummaryStatus.DELETED,
        )
    )
    return summary


async def user_summaries(session: AsyncSession, author_id: int) -> list[Summary]:
    """Everything a user wrote that is not deleted, newest first, any status."""
    stmt = _listing(Summary.author_id == author_id, Summary.status != SummaryStatus.DELETED)
    return list(await session.scalars(stmt.order_by(Summary.created_at.desc(), Summary.id.desc())))


async def pending_summaries(session: AsyncSession, *, limit: int = 20) -> list[Summary]:
    """The moderation queue, oldest first."""
    stmt = _listing(Summary.status == SummaryStatus.PENDING)
    return list(await session.scalars(stmt.order_by(Summary.created_at, Summary.id).limit(limit)))
