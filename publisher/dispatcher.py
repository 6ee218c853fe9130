"""The outbox dispatcher: one cycle claims due publications and posts each exactly once.

Per publication: mark the attempt begun (commit) → call the platform → store the outcome
(commit). The platform's id is stored the moment it confirms. Commits are shared, so a post
costs one: the claim's commit begins the batch's first attempt, and each outcome's commit
begins the next one. Nothing reaches a platform between an outcome and that commit, and a
crash leaves at most one attempt per channel open, its row flagged in flight. If a previous
attempt's outcome is unknown (a timeout after sending, or a crash before our commit), the
channel's recent posts are searched for the summary's link first: found means posted; surely
absent means post; cannot tell means review by a moderator.

Failures: `RetryLater` backs off exponentially with jitter, or until the platform's reset
time; `Reauthenticate` pauses the channel and tells the moderators; after `max_attempts` a
publication is failed (moderators can retry it).
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from publisher.channels.base import (
    BadContent,
    Channel,
    ChannelError,
    DuplicateContent,
    Editable,
    Post,
    Published,
    Reauthenticate,
    RetryLater,
    UnknownOutcome,
)
from publisher.compose import Source, composer_for
from storage.channels import (
    channel_state,
    note_channel_result,
    pause_channel,
    posted_since,
)
from storage.db import Database, Executor, on_postgres
from storage.models import Publication
from storage.publications import (
    AttemptResult,
    Change,
    Outcome,
    begin_attempt,
    claim_due,
    record_outcome,
    release_claim,
    settle_and_begin,
)

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)
RECONCILE_DELAY = timedelta(minutes=2)


class Notifier(Protocol):
    """Tells the moderators something needs them (a paused channel, a post to review)."""

    async def __call__(self, text: str) -> None:
        """Deliver `text` to every moderator."""
        ...


@dataclass(frozen=True, slots=True)
class Policy:
    """A channel's schedule rules: quiet hours (UTC, start to end) and a daily cap."""

    quiet_hours: tuple[time, time] | None = None
    daily_cap: int | None = None

    def quiet(self, now: datetime) -> bool:
        """Whether `now` falls in the quiet hours."""
        if self.quiet_hours is None:
            return False
        start, end = self.quiet_hours
        moment = now.astimezone(UTC).time()
        return start <= moment < end if start <= end else moment >= start or moment < end


@dataclass
class CycleReport:
    """What one cycle did, per channel: counts by outcome, and why a channel was skipped."""

    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def count(self, channel: str, outcome: str) -> None:
        """Add one outcome."""
        per_channel = self.outcomes.setdefault(channel, {})
        per_channel[outcome] = per_channel.get(outcome, 0) + 1


@dataclass
class _Cycle:
    """One channel's cycle in progress: how it went, and the next post's attempt begun ahead."""

    last: int | None = None  # the last publication: its outcome's commit notes the health
    succeeded: bool = False
    errors: list[str] = field(default_factory=list)
    noted: bool = False  # the channel's health is stored
    ahead: int | None = None  # the next post: its attempt begins in this one's outcome commit
    begun: tuple[int, int | None] | None = None  # (publication, attempt or None if lost)


@asynccontextmanager
async def _unit(db: Database, *, single: bool = True) -> AsyncIterator[AsyncConnection]:
    """A unit of work of Core statements: commits on success, rolls back on error.

    The connection goes back to the pool at its end, so none is held while a platform
    answers (the bot shares the pool). On PostgreSQL each step of a post is one statement
    (data-modifying CTEs), atomic on its own: a `single`-statement unit runs in autocommit,
    one round trip, no BEGIN or COMMIT.
    """
    async with db.engine.connect() as connection:
        if single and on_postgres(connection):
            await connection.execution_options(isolation_level="AUTOCOMMIT")
        async with connection.begin():
            yield connection


def backoff(attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with ±20 % jitter: 30 s, 1 min, 2 min, … at most 6 h."""
    seconds = min(
        BACKOFF_BASE.total_seconds() * 2 ** max(attempts - 1, 0), BACKOFF_MAX.total_seconds()
    )
    return timedelta(seconds=seconds * (0.8 + 0.4 * rand()))


class Dispatcher:
    """Posts due publications on every channel, each exactly once."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        link_for: Callable[[int], str],
        *,
        worker: str,
        notify: Notifier | None = None,
        policies: Mapping[str, Policy] | None = None,
        batch: int = 10,
        max_attempts: int = 8,
        lease: timedelta = timedelta(minutes=5),
        x_thread: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        self.link_for = link_for
        self.worker = worker
        self.notify = notify
        self.policies = dict(policies or {})
        self.batch = batch
        self.max_attempts = max_attempts
        self.lease = lease
        self.x_thread = x_thread
        self.clock = clock
        self.rand = rand
        self._cycles: dict[str, _Cycle] = {}  # the cycle in progress, per channel

    async def run_once(self) -> CycleReport:
        """One cycle over every channel."""
        report = CycleReport()
        for name in self.channels:
            await self.run_channel(name, report)
        return report

    async def run_channel(self, name: str, report: CycleReport | None = None) -> CycleReport:
        """Post what is due on one channel, within its policy."""
        report, cycle = report or CycleReport(), _Cycle()
        channel, policy, now = self.channels[name], self.policies.get(name, Policy()), self.clock()
        async with self.db.transaction() as session:
            state = await channel_state(session, name)
            midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            cap = policy.daily_cap or channel.limits.daily_cap
            limit = self.batch if cap is None else cap - await posted_since(session, name, midnight)
            if state.paused:
                report.skipped[name] = f"paused: {state.paused_reason}"
            elif policy.quiet(now):
                report.skipped[name] = "quiet hours"
            elif limit <= 0:
                report.skipped[name] = f"daily cap of {cap} reached"
            if name in report.skipped:
                return report
            loaded = await claim_due(
                session,
                self.worker,
                channels=[name],
                limit=min(self.batch, limit),
                lease=self.lease,
                now=now,
            )
            cycle.last = loaded[-1].id if loaded else None
            if loaded and _plain(loaded[0]):  # the first attempt begins with the claim
                await self._begin_ahead(session, cycle, loaded[0].id)
        if not loaded:
            return report
        self._cycles[name] = cycle
        try:
            for index, publication in enumerate(loaded):
                following = loaded[index + 1] if index + 1 < len(loaded) else None
                cycle.ahead = following.id if following is not None and _plain(following) else None
                outcome = await self._post_one(name, channel, publication)
                report.count(name, outcome)
                if outcome == Outcome.REAUTH:  # the channel is paused: give the rest back
                    async with self.db.transaction() as session:
                        for rest in loaded[index + 1 :]:
                            await release_claim(session, rest.id, self.worker)
                    break
        finally:
            self._cycles.pop(name)
        if not cycle.noted and (cycle.succeeded or cycle.errors):
            async with _unit(self.db, single=False) as connection:
                await self._note_health(connection, name, cycle)
        return report

    def compose(self, name: str, channel: Channel, publication: Publication) -> Post:
        """The post for one publication on one channel."""
        summary = publication.summary
        paper = summary.paper
        source = Source(
            publication_id=publication.id,
            summary_id=summary.id,
            title=paper.title,
            authors=paper.authors,
            year=paper.year,
            categories=paper.categories,
            body=summary.body,
            updated=summary.updated_at,
        )
        composer = composer_for(name, x_thread=self.x_thread)
        post = composer(source, self.link_for(summary.id), channel.limits)
        if publication.thread_ids:
            post = replace(post, resume_from=tuple(publication.thread_ids))
        return post

    async def _post_one(self, name: str, channel: Channel, publication: Publication) -> str:
        publication_id = publication.id
        post = self.compose(name, channel, publication)
        if publication.pending_change:
            return await self._change(name, channel, post, publication)
        if publication.in_flight:
            settled = await self._reconcile(name, channel, post, publication_id, attempt_id=None)
            if settled is not None:
                return settled
        attempt_id = await self._begin(name, publication_id)
        if attempt_id is None:
            log.warning("%s: lost the claim on publication %s", name, publication_id)
            return "lost"
        try:
            published = await channel.publish(post)
        except DuplicateContent as exc:
            log.info(
                "%s: publication %s refused as duplicate; looking for it", name, publication_id
            )
            settled = await self._reconcile(name, channel, post, publication_id, attempt_id)
            return settled or await self._finish(
                name, publication_id, attempt_id, AttemptResult(Outcome.BAD_CONTENT, str(exc))
            )
        except UnknownOutcome as exc:
            log.warning("%s: publication %s outcome unknown: %s", name, publication_id, exc)
            return await self._after_unknown(name, channel, post, publication_id, attempt_id, exc)
        except ChannelError as exc:
            return await self._failed(name, publication_id, attempt_id, exc)
        except (
            Exception
        ) as exc:  # a bug or an unmapped failure: maybe sent, so never re-post blindly
            log.exception("%s: publication %s failed unexpectedly", name, publication_id)
            return await self._after_unknown(
                name, channel, post, publication_id, attempt_id, UnknownOutcome(type(exc).__name__)
            )
        return await self._posted(name, publication_id, attempt_id, published)

    async def _change(
        self, name: str, channel: Channel, post: Post, publication: Publication
    ) -> str:
        """Carry an edit or a deletion to a post that is out (where the platform allows)."""
        external_id = publication.external_id or ""
        if not isinstance(channel, Editable) or not external_id:
            result = AttemptResult(Outcome.POSTED, f"{name} cannot change a post once made")
            await self._finish(name, publication.id, None, result)
            return "unchanged"
        attempt_id = await self._begin(name, publication.id)
        if attempt_id is None:
            return "lost"
        try:
            if publication.pending_change == Change.WITHDRAW:
                await channel.withdraw(post, external_id)
                changed = Published(external_id, publication.external_url)
            else:
                changed = await channel.update(post, external_id)
        except UnknownOutcome as exc:  # edits and deletions are safe to repeat
            retry = AttemptResult(Outcome.RETRY, str(exc), retry_at=self.clock() + RECONCILE_DELAY)
            return await self._finish(name, publication.id, attempt_id, retry)
        except ChannelError as exc:
            return await self._failed(name, publication.id, attempt_id, exc)
        log.info("%s: publication %s: %s done", name, publication.id, publication.pending_change)
        await self._finish(
            name,
            publication.id,
            attempt_id,
            AttemptResult(
                Outcome.POSTED, external_id=changed.external_id, external_url=changed.url
            ),
        )
        return str(publication.pending_change)

    async def _posted(
        self, name: str, publication_id: int, attempt_id: int | None, published: Published
    ) -> str:
        result = AttemptResult(
            Outcome.POSTED,
            external_id=published.external_id,
            external_url=published.url,
            chain=published.chain,
        )
        log.info("%s: publication %s posted as %s", name, publication_id, published.external_id)
        return await self._finish(name, publication_id, attempt_id, result)

    async def _reconcile(
        self, name: str, channel: Channel, post: Post, publication_id: int, attempt_id: int | None
    ) -> str | None:
        """Look for the post on the platform: the outcome if settled, None if surely absent."""
        try:
            found = await channel.find_existing(post)
        except ChannelError as exc:
            detail = f"cannot tell whether it was posted: {exc}"
            await self._tell(
                f"⚠️ {name}: publication #{publication_id} (summary #{post.summary_id}) "
                f"may or may not be posted ({exc}). Open /review to settle it."
            )
            return await self._finish(
                name, publication_id, attempt_id, AttemptResult(Outcome.UNKNOWN, detail)
            )
        if found is None:
            return None
        log.info(
            "%s: publication %s was already posted as %s", name, publication_id, found.external_id
        )
        return await self._posted(name, publication_id, attempt_id, found)

    async def _after_unknown(
        self,
        name: str,
        channel: Channel,
        post: Post,
        publication_id: int,
        attempt_id: int,
        exc: ChannelError,
    ) -> str:
        settled = await self._reconcile(name, channel, post, publication_id, attempt_id)
        if settled is not None:
            return settled
        retry = AttemptResult(
            Outcome.RETRY,
            f"outcome unknown ({exc}); not found yet, will look again before posting",
            retry_at=self.clock() + RECONCILE_DELAY,
            chain=exc.posted,
            reconcile_first=True,
        )
        return await self._finish(name, publication_id, attempt_id, retry)

    async def _failed(
        self, name: str, publication_id: int, attempt_id: int, exc: ChannelError
    ) -> str:
        now = self.clock()
        if isinstance(exc, Reauthenticate):
            async with self.db.transaction() as session:
                first = await pause_channel(session, name, f"re-authenticate: {exc}")
            if first:
                await self._tell(
                    f"⛔ {name} is paused: its credentials were refused ({exc}). "
                    "Renew them, then resume the channel; the other channels go on."
                )
            result = AttemptResult(Outcome.REAUTH, str(exc), retry_at=now, chain=exc.posted)
        elif isinstance(exc, RetryLater):
            async with self.db.sessions() as session:
                row = await session.get(Publication, publication_id)
                attempts = row.attempts if row else 1
            wait_until = now + backoff(attempts, self.rand)
            if exc.retry_at is not None:
                wait_until = max(exc.retry_at, now)
            result = AttemptResult(Outcome.RETRY, str(exc), retry_at=wait_until, chain=exc.posted)
        elif isinstance(exc, BadContent):
            result = AttemptResult(Outcome.BAD_CONTENT, str(exc), chain=exc.posted)
        else:
            result = AttemptResult(Outcome.UNKNOWN, str(exc), chain=exc.posted)
        log.warning("%s: publication %s: %s (%s)", name, publication_id, result.outcome, exc)
        return await self._finish(name, publication_id, attempt_id, result)

    async def _begin(self, name: str, publication_id: int) -> int | None:
        """Mark the attempt in flight (committed), unless the last commit did; None if lost."""
        cycle = self._cycles[name]
        begun, cycle.begun = cycle.begun, None
        if begun is not None and begun[0] == publication_id:
            return begun[1]
        async with _unit(self.db) as connection:
            return await begin_attempt(connection, publication_id, self.worker, now=self.clock())

    async def _begin_ahead(self, session: Executor, cycle: _Cycle, publication_id: int) -> None:
        """Begin the next post's attempt in this unit of work, so one commit serves both."""
        attempt_id = await begin_attempt(session, publication_id, self.worker, now=self.clock())
        cycle.begun = (publication_id, attempt_id)

    async def _finish(
        self, name: str, publication_id: int, attempt_id: int | None, result: AttemptResult
    ) -> str:
        # The outcome is committed right after the platform answered; the same commit begins
        # the next post's attempt (unless the channel is paused now), one commit per post.
        cycle = self._cycles[name]
        ahead, cycle.ahead = cycle.ahead, None
        if result.outcome is Outcome.REAUTH:  # the channel is paused: nothing more goes out
            ahead = None
        if result.outcome is Outcome.POSTED:
            cycle.succeeded = True
        else:
            cycle.errors.append(result.detail or result.outcome.value)
        # Core statements on a pooled connection: no ORM session in the hot path.
        async with _unit(self.db, single=publication_id != cycle.last) as session:
            if ahead is None:
                state = await record_outcome(
                    session,
                    publication_id,
                    attempt_id,
                    self.worker,
                    result,
                    max_attempts=self.max_attempts,
                    now=self.clock(),
                )
            else:  # on PostgreSQL, one statement
                state, begun = await settle_and_begin(
                    session,
                    publication_id,
                    attempt_id,
                    self.worker,
                    result,
                    next_id=ahead,
                    max_attempts=self.max_attempts,
                    now=self.clock(),
                )
                cycle.begun = (ahead, begun)
            if publication_id == cycle.last:
                await self._note_health(session, name, cycle)
        if state is not None and state.value == "failed":
            await self._tell(
                f"❌ {name}: publication #{publication_id} failed for good ({result.detail}). "
                "Open /review to retry it."
            )
        return result.outcome.value

    async def _note_health(self, session: Executor, name: str, cycle: _Cycle) -> None:
        """The channel's health, once a cycle: its last success and its last error."""
        if cycle.succeeded:
            await note_channel_result(session, name, error=None, now=self.clock())
        if cycle.errors:
            await note_channel_result(session, name, error=cycle.errors[-1], now=self.clock())
        cycle.noted = True

    async def _tell(self, text: str) -> None:
        if self.notify is None:
            log.warning("no way to tell the moderators: %s", text)
            return
        try:
            await self.notify(text)
        except Exception:
            log.exception("could not tell the moderators: %s", text)


def _plain(publication: Publication) -> bool:
    """A first post with nothing to reconcile or change first: its attempt can begin ahead."""
    return not publication.pending_change and not publication.in_flight
