"""Faults: every platform misbehaves on a fifth of all calls, and one has revoked our token.

The platforms' fakes answer 20 % of calls (posts, timeline look-ups, logins) with one fault,
each kind as likely: a 429 with the platform's reset headers, a 5xx, a timeout after acting
(the post exists, the answer comes too late) and a connection reset (acted on or not).
Mastodon's token is revoked. The dispatcher runs cycle after cycle on a settable clock until
everything settles; a moderator settles what it flags for review, by looking at the
platform, as /review asks them to. Then:

- every summary is on each healthy channel exactly once;
- no publication was tried again before the reset time its 429 announced;
- Mastodon is paused, posted nothing, kept its queue, and the moderators were told.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from publisher.channels.atom import AtomChannel
from publisher.channels.base import Channel
from publisher.channels.bluesky import BlueskyChannel
from publisher.channels.facebook import FacebookChannel
from publisher.channels.mastodon import MastodonChannel
from publisher.channels.x import XChannel
from publisher.dispatcher import Dispatcher
from storage.channels import channel_reports, settle_publication
from storage.db import Database
from storage.models import Publication, PublicationState
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.fakes import bluesky_api, facebook_api, mastodon_api, x_api
from tests.fakes._server import FakeServer, Fault, Reply, Request
from tests.publisher.platforms import Platforms
from tests.reliability.conftest import SOAK
from tests.reliability.support import BODY, new_paper, summary_ids_in

TIMEOUT = 0.4  # each channel's per-request timeout
STALL = 0.7  # a timed-out answer comes this late: after the channel gave up
RATE = 0.2
KINDS = ("429", "5xx", "timeout", "reset")
HEALTHY = ("x", "facebook", "bluesky", "atom")
REVOKED = "mastodon"
CHANNELS = (*HEALTHY, REVOKED)
ATOM_ENTRIES = 50  # AtomChannel's max_entries


class Clock:
    """The dispatcher's (and Facebook's) settable clock."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Limited:
    """A 429 we sent: on which platform, for which summaries, until when."""

    platform: str
    summaries: list[int]
    reset: datetime
    index: int  # of the refused post in `Chaos.posts`


@dataclass
class Chaos:
    """The faults' dice and records, shared by every flaky fake."""

    clock: Clock
    rng: random.Random
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    limited: list[Limited] = field(default_factory=list)
    posts: list[tuple[str, datetime, list[int]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Flaky(FakeServer):
    """A platform fake that faults on a fifth of the calls (mixed in before the fake)."""

    platform = ""
    post_route = ""
    chaos: Chaos

    def rate_limit_until(self, reset: datetime) -> None:
        """Queue this platform's 429 with headers for `reset` on the post route."""
        raise NotImplementedError

    def server_error(self) -> None:
        """Queue this platform's 5xx on the post route."""
        raise NotImplementedError

    def _take_fault(self, request: Request) -> Fault | None:
        queued = super()._take_fault(request)
        if queued is not None:
            return queued
        chaos = self.chaos
        with chaos.lock:
            is_post = request.line.startswith(self.post_route)
            if is_post:
                chaos.posts.append((self.platform, chaos.clock(), summary_ids_in(request.body)))
            if chaos.rng.random() >= RATE:
                return None
            kind = chaos.rng.choice(KINDS if is_post else KINDS[1:])
            chaos.injected[kind] += 1
            reset = (chaos.clock() + timedelta(minutes=chaos.rng.randint(1, 30))).replace(
                microsecond=0
            )
        if kind == "timeout":
            return Fault(delay=STALL)
        if kind == "reset":
            return Fault(reset=True, process=chaos.rng.random() < 0.5)
        if not is_post:
            return Fault(reply=Reply(503, {"error": "Service Unavailable"}))
        if kind == "429":
            self.rate_limit_until(reset)
            queued = super()._take_fault(request)
            with chaos.lock:
                carried = summary_ids_in(request.body)
                index = max(i for i, post in enumerate(chaos.posts) if post[2] == carried)
                chaos.limited.append(Limited(self.platform, carried, self._reset(reset), index))
            return queued
        self.server_error()
        return super()._take_fault(request)

    def _reset(self, reset: datetime) -> datetime:
        return reset


class FlakyX(Flaky, x_api.FakeX):
    platform, post_route = "x", "POST /2/tweets"

    def rate_limit_until(self, reset: datetime) -> None:
        self.rate_limit_next(reset)

    def server_error(self) -> None:
        self.fail_next(503)


class FlakyFacebook(Flaky, facebook_api.FakeFacebook):
    platform, post_route = "facebook", f"POST {facebook_api.FEED}"
    minutes = 0

    def rate_limit_until(self, reset: datetime) -> None:
        self.minutes = max(1, round((reset - self.chaos.clock()).total_seconds() / 60))
        self.rate_limit_next(80001, regain_minutes=self.minutes)

    def _reset(self, reset: datetime) -> datetime:
        return self.chaos.clock() + timedelta(minutes=self.minutes)

    def server_error(self) -> None:
        self.fail_next(500)


class FlakyMastodon(Flaky, mastodon_api.FakeMastodon):
    platform, post_route = "mastodon", "POST /api/v1/statuses"

    def rate_limit_until(self, reset: datetime) -> None:
        self.rate_limit_next(reset)

    def server_error(self) -> None:
        self.fail_next(503)


class FlakyBluesky(Flaky, bluesky_api.FakeBluesky):
    platform, post_route = "bluesky", "POST /xrpc/com.atproto.repo.createRecord"

    def rate_limit_until(self, reset: datetime) -> None:
        self.rate_limit_next(reset)

    def server_error(self) -> None:
        self.fail_next(502)


@pytest.fixture
def chaos() -> Chaos:
    seed = int(os.environ.get("SHORTSCI_FAULT_SEED", random.randrange(10**6)))
    print(f"fault seed: SHORTSCI_FAULT_SEED={seed}")
    return Chaos(Clock(), random.Random(seed))


@pytest.fixture
def fakes(tmp_path: Path, chaos: Chaos) -> Iterator[Platforms]:
    servers: list[Flaky] = [FlakyX(), FlakyFacebook(), FlakyMastodon(), FlakyBluesky()]
    for server in servers:
        server.chaos = chaos
        server.__enter__()
    try:
        x, facebook, mastodon, bluesky = servers
        assert isinstance(x, x_api.FakeX) and isinstance(facebook, facebook_api.FakeFacebook)
        assert isinstance(mastodon, mastodon_api.FakeMastodon)
        assert isinstance(bluesky, bluesky_api.FakeBluesky)
        yield Platforms(x, facebook, mastodon, bluesky, tmp_path / "feed.xml")
    finally:
        for server in servers:
            server.__exit__()


def _channels(fakes: Platforms, clock: Clock, timeout: float = TIMEOUT) -> dict[str, Channel]:
    return {
        "x": XChannel(
            consumer_key=x_api.CONSUMER_KEY,
            consumer_secret=x_api.CONSUMER_SECRET,
            access_token=x_api.ACCESS_TOKEN,
            access_token_secret=x_api.ACCESS_TOKEN_SECRET,
            api_url=fakes.x.url,
            timeout=timeout,
        ),
        "facebook": FacebookChannel(
            page_id=facebook_api.PAGE_ID,
            page_token=facebook_api.PAGE_TOKEN,
            api_url=fakes.facebook.url,
            timeout=timeout,
            clock=clock,
        ),
        "mastodon": MastodonChannel(
            api_url=fakes.mastodon.url, access_token=mastodon_api.TOKEN, timeout=timeout
        ),
        "bluesky": BlueskyChannel(
            handle=bluesky_api.HANDLE,
            app_password=bluesky_api.APP_PASSWORD,
            api_url=fakes.bluesky.url,
            timeout=timeout,
            clock=clock,
        ),
        "atom": AtomChannel(
            path=fakes.feed, public_url="https://shortsci.example.org", clock=clock
        ),
    }


def _link(summary_id: int) -> str:
    return f"https://shortsci.example.org/s/{summary_id}"


async def _approve(db: Database, count: int) -> list[int]:
    ids = []
    for n in range(count):
        paper, _ = await new_paper(db, f"Fault tolerance study number {n}")
        async with db.transaction() as session:
            author = await ensure_user(session, 7, display_name="Seed Author")
            summary = await submit_summary(
                session, author, paper.id, f"{BODY} ({n})", moderated=False, channels=CHANNELS
            )
            ids.append(summary.id)
    return ids


async def _moderate(db: Database, fakes: Platforms) -> int:
    """Settle review and failed publications as a moderator would: look at the platform."""
    async with db.transaction() as session:
        moderator = await ensure_user(session, 900, admins=frozenset({900}))
        waiting = (
            await session.scalars(
                select(Publication).where(
                    Publication.state.in_([PublicationState.REVIEW, PublicationState.FAILED])
                )
            )
        ).all()
        for publication in waiting:
            seen = fakes.counts(_link(publication.summary_id))[publication.channel]
            await settle_publication(session, moderator, publication.id, posted=seen > 0)
    return len(waiting)


async def _next_due(db: Database, now: datetime) -> datetime | None:
    async with db.sessions() as session:
        due: datetime | None = await session.scalar(
            select(Publication.next_attempt_at)
            .where(
                Publication.state.in_([PublicationState.PENDING, PublicationState.CLAIMED]),
                Publication.channel.in_(HEALTHY),
            )
            .order_by(Publication.next_attempt_at)
        )
    return due


async def _settled(db: Database) -> bool:
    async with db.sessions() as session:
        states = (
            await session.scalars(select(Publication.state).where(Publication.channel.in_(HEALTHY)))
        ).all()
    return all(s is PublicationState.POSTED for s in states)


async def _run(db: Database, fakes: Platforms, chaos: Chaos, summaries: int) -> None:
    ids = await _approve(db, summaries)
    fakes.mastodon.revoke()
    clock, notes = chaos.clock, []

    async def notify(text: str) -> None:
        notes.append(text)

    channels = _channels(fakes, clock)
    dispatcher = Dispatcher(
        db,
        channels,
        _link,
        worker="w1",
        notify=notify,
        clock=clock,
        lease=timedelta(minutes=5),
    )
    cycles = reviews = 0
    try:
        while not await _settled(db):
            cycles += 1
            assert cycles < 60 * summaries, "the queue never settled"
            await dispatcher.run_once()
            reviews += await _moderate(db, fakes)
            due = await _next_due(db, clock.now)
            clock.now = max(clock.now + timedelta(seconds=1), due or clock.now)
    finally:
        for channel in channels.values():
            await channel.aclose()

    networks = [name for name in HEALTHY if name != "atom"]
    in_feed = 0
    for summary_id in ids:
        counts = fakes.counts(_link(summary_id))
        assert {name: counts[name] for name in networks} == dict.fromkeys(networks, 1), summary_id
        assert counts[REVOKED] == 0 and counts["atom"] <= 1
        in_feed += counts["atom"]
    assert in_feed == min(len(ids), ATOM_ENTRIES), "the feed keeps its newest 50 entries"
    for limited in chaos.limited:
        retries = [
            at
            for platform, at, carried in chaos.posts[limited.index + 1 :]
            if platform == limited.platform and carried == limited.summaries
        ]
        assert retries or limited.platform == REVOKED, f"{limited} was never retried"
        assert all(at >= limited.reset for at in retries), (limited, retries)
    assert any(f"{REVOKED} is paused" in note for note in notes), notes
    async with db.sessions() as session:
        [report] = [r for r in await channel_reports(session, CHANNELS) if r.channel == REVOKED]
    assert report.paused and report.queued == len(ids) and report.posted == 0
    print(
        f"faults: {summaries} summaries x {len(CHANNELS)} channels, {cycles} cycles, "
        f"injected {chaos.injected}, {len(chaos.limited)} rate limits honoured, "
        f"{reviews} settled by a moderator; healthy channels exactly once; "
        f"{REVOKED} paused, moderators told"
    )


async def test_faults_on_a_fifth_of_calls_and_a_revoked_token(
    db: Database, fakes: Platforms, chaos: Chaos
) -> None:
    await _run(db, fakes, chaos, 12)


@pytest.mark.soak
async def test_soak_faults(db: Database, fakes: Platforms, chaos: Chaos) -> None:
    assert SOAK
    await _run(db, fakes, chaos, 60)


@pytest.mark.parametrize("network", ["bluesky", "mastodon", "facebook"])
async def test_fixed_bug_reconcile_matches_a_longer_link(
    db: Database, tmp_path: Path, network: str
) -> None:
    from storage.publications import begin_attempt, claim_due, enqueue_publications
    from tests.publisher.platforms import platforms

    ids = []
    for n in range(10):
        paper, _ = await new_paper(db, f"Prefix study {n}")
        async with db.transaction() as session:
            author = await ensure_user(session, 7, display_name="Seed Author")
            summary = await submit_summary(
                session, author, paper.id, f"{BODY} [{n}]", moderated=False, channels=()
            )
            ids.append(summary.id)
    assert (ids[0], ids[-1]) == (1, 10)
    clock = Clock()
    with platforms(tmp_path) as plain:
        channels = _channels(plain, clock, timeout=10.0)  # no faults here: a slow host is not one
        dispatcher = Dispatcher(db, {network: channels[network]}, _link, worker="w", clock=clock)
        async with db.transaction() as session:
            await enqueue_publications(session, 10, [network], now=clock.now)
        assert (await dispatcher.run_once()).outcomes == {network: {"posted": 1}}
        async with db.transaction() as session:  # summary 1: a publisher dies after "begin"
            await enqueue_publications(session, 1, [network], now=clock.now)
            [claimed] = await claim_due(session, "crashed", now=clock.now)
            await begin_attempt(session, claimed.id, "crashed", now=clock.now)
        clock.now += timedelta(minutes=10)  # its lease runs out
        await dispatcher.run_once()
        for channel in channels.values():
            await channel.aclose()
        assert plain.counts(_link(1))[network] == 1, "summary 1 was never posted"
