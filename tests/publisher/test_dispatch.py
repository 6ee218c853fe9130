"""The dispatcher against the platforms' fakes: exactly once, through faults and crashes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config import Settings
from markup import restore_blocks
from publisher.channels import build_channels
from publisher.dispatcher import Dispatcher, Policy, backoff
from publisher.service import link_maker
from storage.catalog.arxiv_source import PaperData
from storage.catalog.store import store_paper
from storage.channels import channel_reports
from storage.db import Database
from storage.models import ChannelState, Publication, PublicationState
from storage.publications import begin_attempt, claim_due
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.fakes._server import Fault
from tests.publisher.platforms import Platforms, platforms
from tests.seed import seed_papers

CHANNELS = ("x", "facebook", "mastodon", "bluesky", "atom")


class Clock:
    """A settable clock, so leases and backoff can be stepped through."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[Platforms]:
    with platforms(tmp_path) as running:
        yield running


@pytest.fixture
def settings(fakes: Platforms, db: Database) -> Settings:
    env = {k.removeprefix("SHORTSCI_").lower(): v for k, v in fakes.env().items()}
    return Settings(database_url=db.url, **env)  # type: ignore[arg-type]


async def _approve(db: Database, count: int = 5) -> list[int]:
    ids = []
    async with db.transaction() as session:
        author = await ensure_user(session, 7, display_name="Seed Author")
        for seed in seed_papers()[:count]:
            paper = await store_paper(
                session,
                PaperData(seed.title, seed.authors, "manual", year=seed.year, categories=["cs.LG"]),
            )
            summary = await submit_summary(
                session,
                author,
                paper.id,
                restore_blocks(seed.summary),
                moderated=False,
                channels=CHANNELS,
            )
            ids.append(summary.id)
    return ids


@pytest.fixture
async def make(settings: Settings, db: Database) -> AsyncIterator[object]:
    built: list[Dispatcher] = []
    notes: list[str] = []

    def factory(worker: str = "w1", clock: Clock | None = None, **kwargs: object) -> Dispatcher:
        channels = {c.name: c for c in build_channels(settings, timeout=0.5)}

        async def notify(text: str) -> None:
            notes.append(text)

        dispatcher = Dispatcher(
            db,
            channels,
            link_maker(settings, None),
            worker=worker,
            notify=notify,
            clock=clock or Clock(),
            rand=lambda: 0.5,
            **kwargs,  # type: ignore[arg-type]
        )
        built.append(dispatcher)
        return dispatcher

    factory.notes = notes  # type: ignore[attr-defined]
    yield factory
    for dispatcher in built:
        for channel in dispatcher.channels.values():
            await channel.aclose()


def _link(summary_id: int) -> str:
    return f"https://shortsci.example.org/s/{summary_id}"


async def _states(db: Database) -> dict[str, set[PublicationState]]:
    async with db.sessions() as session:
        rows = (await session.scalars(select(Publication))).all()
    states: dict[str, set[PublicationState]] = {}
    for row in rows:
        states.setdefault(row.channel, set()).add(row.state)
    return states


async def test_two_cycles_post_each_summary_once_everywhere(
    db: Database, fakes: Platforms, make: object
) -> None:
    ids = await _approve(db)
    dispatcher = make()  # type: ignore[operator]
    first = await dispatcher.run_once()
    second = await dispatcher.run_once()
    assert first.outcomes == {name: {"posted": 5} for name in CHANNELS}
    assert second.outcomes == {}
    for summary_id in ids:
        assert fakes.counts(_link(summary_id)) == dict.fromkeys(CHANNELS, 1)
    assert await _states(db) == {name: {PublicationState.POSTED} for name in CHANNELS}


async def test_rate_limit_waits_for_the_platforms_reset(
    db: Database, fakes: Platforms, make: object
) -> None:
    await _approve(db, 1)
    clock = Clock()
    reset = (clock.now + timedelta(minutes=15)).replace(microsecond=0)
    fakes.x.rate_limit_next(reset)
    dispatcher = make(clock=clock)  # type: ignore[operator]
    report = await dispatcher.run_channel("x")
    assert report.outcomes == {"x": {"retry": 1}}
    async with db.sessions() as session:
        row = await session.scalar(select(Publication).where(Publication.channel == "x"))
    assert row is not None and row.next_attempt_at == reset
    assert (await dispatcher.run_channel("x")).outcomes == {}, "not before the reset"
    clock.now = reset + timedelta(seconds=1)
    assert (await dispatcher.run_channel("x")).outcomes == {"x": {"posted": 1}}


async def test_server_errors_back_off_exponentially(
    db: Database, fakes: Platforms, make: object
) -> None:
    await _approve(db, 1)
    clock = Clock()
    fakes.mastodon.fail_next(503, count=2)
    dispatcher = make(clock=clock)  # type: ignore[operator]
    await dispatcher.run_channel("mastodon")
    async with db.sessions() as session:
        row = await session.scalar(select(Publication).where(Publication.channel == "mastodon"))
    assert row is not None and row.next_attempt_at - clock.now == backoff(
        1, lambda: 0.5
    ) == timedelta(seconds=30)
    clock.now += timedelta(seconds=31)
    await dispatcher.run_channel("mastodon")
    async with db.sessions() as session:
        row = await session.scalar(select(Publication).where(Publication.channel == "mastodon"))
    assert row is not None and row.next_attempt_at - clock.now == timedelta(minutes=1)
    clock.now += timedelta(minutes=2)
    assert (await dispatcher.run_channel("mastodon")).outcomes == {"mastodon": {"posted": 1}}


async def test_timeout_after_sending_is_reconciled_not_reposted(
    db: Database, fakes: Platforms, make: object
) -> None:
    [summary_id] = await _approve(db, 1)
    fakes.x.stall_next("POST /2/tweets", 1.5)  # the tweet is made, the answer comes too late
    clock = Clock()
    dispatcher = make(clock=clock)  # type: ignore[operator]
    report = await dispatcher.run_channel("x")
    assert report.outcomes == {"x": {"posted": 1}}, "found on the timeline"
    assert fakes.counts(_link(summary_id))["x"] == 1


async def test_a_crash_between_success_and_commit_posts_nothing_twice(
    db: Database, fakes: Platforms, make: object
) -> None:
    [summary_id] = await _approve(db, 1)
    clock = Clock()
    crashed = make(worker="crashed", clock=clock)  # type: ignore[operator]
    # What the crashed publisher did before it died: claim, begin, post; no commit of the id.
    for name in ("x", "facebook", "mastodon", "bluesky"):
        async with db.transaction() as session:
            [publication] = await claim_due(session, "crashed", channels=[name], now=clock.now)
            await begin_attempt(session, publication.id, "crashed", now=clock.now)
        async with db.sessions() as session:
            from storage.channels import load_for_posting

            [loaded] = await load_for_posting(session, [publication.id])
        channel = crashed.channels[name]
        await channel.publish(crashed.compose(name, channel, loaded))
    clock.now += timedelta(minutes=6)  # the lease expired
    survivor = make(worker="restarted", clock=clock)  # type: ignore[operator]
    report = await survivor.run_once()
    assert {name: report.outcomes[name] for name in ("x", "facebook", "mastodon", "bluesky")} == {
        name: {"posted": 1} for name in ("x", "facebook", "mastodon", "bluesky")
    }
    assert fakes.counts(_link(summary_id)) == dict.fromkeys(CHANNELS, 1)


async def test_revoked_token_pauses_only_that_channel_and_tells_moderators(
    db: Database, fakes: Platforms, make: object
) -> None:
    ids = await _approve(db, 3)
    fakes.facebook.revoke()
    dispatcher = make()  # type: ignore[operator]
    report = await dispatcher.run_once()
    assert report.outcomes["facebook"] == {"reauth": 1}
    assert all(report.outcomes[n] == {"posted": 3} for n in CHANNELS if n != "facebook")
    assert any("facebook is paused" in note for note in make.notes)  # type: ignore[attr-defined]
    again = await dispatcher.run_once()
    assert again.skipped["facebook"].startswith("paused: re-authenticate")
    async with db.sessions() as session:
        [facebook] = [
            r for r in await channel_reports(session, CHANNELS) if r.channel == "facebook"
        ]
        state = await session.get(ChannelState, "facebook")
    assert facebook.paused and facebook.queued == 3 and state is not None
    for summary_id in ids:
        assert fakes.counts(_link(summary_id))["facebook"] == 0


async def test_daily_cap_and_quiet_hours(db: Database, fakes: Platforms, make: object) -> None:
    await _approve(db, 5)
    clock = Clock()
    clock.now = (clock.now + timedelta(days=1)).replace(hour=12, minute=0)  # tomorrow noon UTC
    dispatcher = make(
        clock=clock,
        policies={
            "x": Policy(daily_cap=2),
            "mastodon": Policy(
                quiet_hours=(clock.now.time().replace(hour=11), clock.now.time().replace(hour=13))
            ),
        },
    )  # type: ignore[operator]
    report = await dispatcher.run_once()
    assert report.outcomes["x"] == {"posted": 2}
    assert report.skipped["mastodon"] == "quiet hours"
    again = await dispatcher.run_once()
    assert again.skipped["x"] == "daily cap of 2 reached"


async def test_a_crash_after_an_outcome_leaves_one_post_in_flight_and_none_twice(
    db: Database, fakes: Platforms, settings: Settings
) -> None:
    ids = await _approve(db, 3)
    clock = Clock()
    channels = {c.name: c for c in build_channels(settings, timeout=2)}
    crashed = Dispatcher(db, channels, link_maker(settings, None), worker="crashed", clock=clock)
    fakes.x.inject(Fault("POST /2/tweets", delay=30, skip=1))  # X holds the second tweet
    run = asyncio.create_task(crashed.run_channel("x"))
    while len(fakes.x.tweets) < 2:
        await asyncio.sleep(0.01)
    run.cancel()  # the publisher dies with the second tweet made but not answered
    with suppress(asyncio.CancelledError):
        await run
    async with db.sessions() as session:
        rows = (
            await session.scalars(
                select(Publication).where(Publication.channel == "x").order_by(Publication.id)
            )
        ).all()
    assert [(r.state, r.in_flight) for r in rows] == [
        (PublicationState.POSTED, False),
        (PublicationState.CLAIMED, True),  # begun in the commit of the first one's outcome
        (PublicationState.CLAIMED, False),  # not begun: a crash leaves one attempt open
    ]
    clock.now += timedelta(minutes=6)  # the lease expired
    survivor = Dispatcher(db, channels, link_maker(settings, None), worker="restarted", clock=clock)
    report = await survivor.run_channel("x")
    assert report.outcomes == {"x": {"posted": 2}}, "the second one found on the timeline"
    assert [fakes.counts(_link(summary_id))["x"] for summary_id in ids] == [1, 1, 1]
    for channel in channels.values():
        await channel.aclose()
