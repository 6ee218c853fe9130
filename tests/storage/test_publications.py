"""The outbox: claims are exclusive across publishers and leases, outcomes move rows on."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import func, select

from storage.channels import channel_reports
from storage.db import Database
from storage.models import (
    Paper,
    Publication,
    PublicationAttempt,
    PublicationState,
    Summary,
    SummaryStatus,
    User,
    utcnow,
)
from storage.publications import (
    AttemptResult,
    Change,
    Outcome,
    begin_attempt,
    claim_due,
    enqueue_publications,
    record_outcome,
    release_claim,
    request_change,
)

CHANNELS = ("x", "facebook", "mastodon", "atom")


async def _approved_summaries(db: Database, count: int) -> list[int]:
    async with db.transaction() as session:
        session.add(User(id=7, display_name="Author"))
        summaries = []
        for n in range(count):
            paper = Paper(title=f"Paper {n}", authors=["A. Author"], source="manual")
            session.add(paper)
            await session.flush()
            summary = Summary(
                paper_id=paper.id,
                author_id=7,
                body="b" * 300,
                status=SummaryStatus.APPROVED,
                score=0,
            )
            session.add(summary)
            await session.flush()
            summaries.append(summary.id)
        for summary_id in summaries:
            await enqueue_publications(session, summary_id, CHANNELS)
            await enqueue_publications(session, summary_id, CHANNELS)  # idempotent
    return summaries


async def _claim(db: Database, worker: str, **kwargs: object) -> list[Publication]:
    async with db.transaction() as session:
        return await claim_due(session, worker, **kwargs)  # type: ignore[arg-type]


async def test_enqueue_is_one_row_per_summary_and_channel(db: Database) -> None:
    await _approved_summaries(db, 3)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Publication)) == 12
        reports = await channel_reports(session, CHANNELS)
    assert {r.channel: r.queued for r in reports} == dict.fromkeys(CHANNELS, 3)


async def test_claim_takes_at_most_the_limit(db: Database) -> None:
    await _approved_summaries(db, 5)
    assert len(await _claim(db, "w", limit=2)) == 2
    assert len(await _claim(db, "w", channels=["x"], limit=2)) == 2
    assert len(await _claim(db, "w", limit=100)) == 20 - 4


async def test_claim_post_and_record(db: Database) -> None:
    await _approved_summaries(db, 1)
    claimed = await _claim(db, "w1", channels=["x"])
    assert [p.channel for p in claimed] == ["x"]
    assert await _claim(db, "w2", channels=["x"]) == [], "a claimed row is not due"
    async with db.transaction() as session:
        attempt = await begin_attempt(session, claimed[0].id, "w1")
        assert attempt is not None
    async with db.transaction() as session:
        state = await record_outcome(
            session,
            claimed[0].id,
            attempt,
            "w1",
            AttemptResult(Outcome.POSTED, external_id="1850", external_url="https://x.com/s/1850"),
        )
    assert state is PublicationState.POSTED
    async with db.sessions() as session:
        row = await session.get(Publication, claimed[0].id)
        assert row is not None
        assert (row.external_id, row.attempts, row.in_flight) == ("1850", 1, False)
        outcomes = (await session.scalars(select(PublicationAttempt.outcome))).all()
        assert outcomes == ["posted"]


async def test_retry_later_and_give_up_after_max_attempts(db: Database) -> None:
    await _approved_summaries(db, 1)
    now = utcnow()
    for attempt_no in range(1, 4):
        [pub] = await _claim(db, "w", channels=["facebook"], now=now)
        async with db.transaction() as session:
            attempt = await begin_attempt(session, pub.id, "w", now=now)
            state = await record_outcome(
                session,
                pub.id,
                attempt,
                "w",
                AttemptResult(
                    Outcome.RETRY, detail="HTTP 503", retry_at=now + timedelta(minutes=1)
                ),
                max_attempts=3,
                now=now,
            )
        if attempt_no < 3:
            assert state is PublicationState.PENDING
            assert await _claim(db, "w", channels=["facebook"], now=now) == [], (
                "not before retry_at"
            )
            now += timedelta(minutes=2)
    assert state is PublicationState.FAILED


async def test_expired_lease_is_claimed_again_and_flags_in_flight(db: Database) -> None:
    await _approved_summaries(db, 1)
    now = utcnow()
    [pub] = await _claim(db, "crashed", channels=["mastodon"], now=now, lease=timedelta(seconds=30))
    async with db.transaction() as session:
        await begin_attempt(session, pub.id, "crashed", now=now)
    # ... the publisher dies here, after the request may have gone out.
    assert await _claim(db, "w2", channels=["mastodon"], now=now + timedelta(seconds=10)) == []
    [again] = await _claim(db, "w2", channels=["mastodon"], now=now + timedelta(seconds=31))
    assert again.id == pub.id
    assert again.in_flight, "the outcome of the first attempt is unknown: reconcile, do not re-post"
    async with db.transaction() as session:  # the dead worker's late answer is refused...
        late = await record_outcome(session, pub.id, None, "crashed", AttemptResult(Outcome.RETRY))
    assert late is None
    async with db.transaction() as session:  # ...except a confirmed post, which is the truth
        posted = await record_outcome(
            session, pub.id, None, "crashed", AttemptResult(Outcome.POSTED, external_id="109")
        )
    assert posted is PublicationState.POSTED


async def test_unknown_outcome_goes_to_review_and_release_returns_untried(db: Database) -> None:
    await _approved_summaries(db, 1)
    [pub, other] = await _claim(db, "w", channels=["x", "facebook"])
    async with db.transaction() as session:
        attempt = await begin_attempt(session, pub.id, "w")
        assert (
            await record_outcome(
                session, pub.id, attempt, "w", AttemptResult(Outcome.UNKNOWN, "timeout")
            )
            is PublicationState.REVIEW
        )
        await release_claim(session, other.id, "w")
    [back] = await _claim(db, "w2", channels=["x", "facebook"])
    assert back.id == other.id


async def test_concurrent_publishers_never_claim_the_same_row(
    database_url: str, db: Database
) -> None:
    await _approved_summaries(db, 25)  # 100 publications
    workers = [Database(database_url) for _ in range(4)]
    seen: list[int] = []

    async def drain(index: int, worker_db: Database) -> None:
        while claimed := await _claim(worker_db, f"w{index}", limit=3):
            assert len(claimed) <= 3
            seen.extend(p.id for p in claimed)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(drain(i, w) for i, w in enumerate(workers)))
    finally:
        for worker_db in workers:
            await worker_db.dispose()
    assert len(seen) == 100
    assert len(set(seen)) == 100, "no publication was claimed twice"


async def test_outcomes_move_the_row_as_the_platform_answered(db: Database) -> None:
    [summary_id] = await _approved_summaries(db, 1)
    now = utcnow()

    async def attempt(channel: str, result: AttemptResult, at: datetime) -> PublicationState | None:
        [pub] = await _claim(db, "w", channels=[channel], now=at)
        async with db.transaction() as session:
            attempt_id = await begin_attempt(session, pub.id, "w", now=at)
            assert await begin_attempt(session, pub.id, "someone else", now=at) is None
            return await record_outcome(session, pub.id, attempt_id, "w", result, now=at)

    thread = AttemptResult(Outcome.POSTED, external_id="t1", external_url="u1", chain=("t1", "t2"))
    assert await attempt("x", thread, now) is PublicationState.POSTED
    async with db.transaction() as session:
        await request_change(session, summary_id, Change.UPDATE)
    later = now + timedelta(hours=1)
    edited = AttemptResult(Outcome.POSTED)  # an edit in place: same post, no new id
    assert await attempt("x", edited, later) is PublicationState.POSTED
    async with db.sessions() as session:
        x = await session.scalar(select(Publication).where(Publication.channel == "x"))
    assert x is not None
    assert (x.external_id, x.external_url, x.thread_ids) == ("t1", "u1", ["t1", "t2"])
    assert (x.posted_at, x.pending_change) == (now, None), "the first posted time is kept"
    async with db.transaction() as session:
        await request_change(session, summary_id, Change.WITHDRAW)
    assert await attempt("x", AttemptResult(Outcome.POSTED), later) is PublicationState.CANCELLED

    refused = AttemptResult(Outcome.BAD_CONTENT, "too long " * 100)
    assert await attempt("facebook", refused, now) is PublicationState.FAILED
    async with db.sessions() as session:
        facebook = await session.scalar(
            select(Publication).where(Publication.channel == "facebook")
        )
        assert facebook is not None
        attempts = (
            await session.scalars(
                select(PublicationAttempt).where(PublicationAttempt.publication_id == facebook.id)
            )
        ).all()
    assert facebook.last_error == ("too long " * 100)[:500]
    assert [(a.outcome, a.detail) for a in attempts] == [("bad_content", facebook.last_error)]
