"""Outcomes stored on the dispatcher's fast path read back exactly as through a session.

The dispatcher runs a post's statements straight on its connection (on SQLite, on
aiosqlite's own connection, with values converted by the columns' types; on PostgreSQL,
settling one post and beginning the next in one statement). Whatever the outcome, the rows
it leaves must be the rows the session path leaves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from markup import restore_blocks
from storage.catalog.arxiv_source import PaperData
from storage.catalog.store import store_paper
from storage.db import Database
from storage.models import Publication, PublicationAttempt
from storage.publications import (
    AttemptResult,
    Outcome,
    begin_attempt,
    claim_due,
    record_outcome,
    settle_and_begin,
)
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.seed import seed_papers

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
RESULTS = [
    AttemptResult(Outcome.POSTED, external_id="1890", external_url="https://x.example/1890"),
    AttemptResult(Outcome.POSTED, external_id="7", chain=("7", "8", "9")),
    AttemptResult(
        Outcome.RETRY,
        "429: slow down, übermäßig",
        retry_at=NOW + timedelta(minutes=3),
        chain=("7",),
        reconcile_first=True,
    ),
    AttemptResult(Outcome.BAD_CONTENT, "too long"),
    AttemptResult(Outcome.REAUTH, "token revoked", retry_at=NOW),
    AttemptResult(Outcome.UNKNOWN, "timeout after sending"),
]
# Two posts settled and two begun per path, one pair per path.
CHANNELS = ("x", "bluesky", "mastodon", "facebook")


async def _claimed(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        author = await ensure_user(session, 7, display_name="Seed Author")
        paper = await store_paper(
            session, PaperData("Deep residual learning", ["Kaiming He"], "manual", year=2016)
        )
        seed = seed_papers()[0]
        await submit_summary(
            session,
            author,
            paper.id,
            restore_blocks(seed.summary),
            moderated=False,
            channels=CHANNELS,
        )
    async with db.transaction() as session:
        claimed = await claim_due(session, "w", limit=len(CHANNELS))
    return {p.channel: p.id for p in claimed}


def _row(publication: Publication) -> dict[str, Any]:
    return {
        column: getattr(publication, column)
        for column in (
            "state",
            "attempts",
            "next_attempt_at",
            "claimed_by",
            "lease_expires_at",
            "in_flight",
            "external_id",
            "external_url",
            "last_error",
            "posted_at",
            "thread_ids",
            "pending_change",
        )
    }


def _attempt(attempt: PublicationAttempt) -> dict[str, Any]:
    return {
        "worker": attempt.worker,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "outcome": attempt.outcome,
        "detail": attempt.detail,
    }


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: r.outcome.value + str(len(r.chain)))
async def test_the_fast_path_stores_what_the_session_path_stores(
    db: Database, result: AttemptResult
) -> None:
    ids = await _claimed(db)
    async with db.transaction() as session:
        slow = await begin_attempt(session, ids["x"], "w", now=NOW)
        slow_state = await record_outcome(session, ids["x"], slow, "w", result, now=NOW)
        slow_next = await begin_attempt(session, ids["bluesky"], "w", now=NOW)
    async with db.engine.connect() as connection:
        async with connection.begin():
            fast = await begin_attempt(connection, ids["mastodon"], "w", now=NOW)
        async with connection.begin():
            fast_state, fast_next = await settle_and_begin(
                connection, ids["mastodon"], fast, "w", result, next_id=ids["facebook"], now=NOW
            )
    assert slow is not None and fast is not None
    assert slow_next is not None and fast_next is not None
    assert fast_state is slow_state is not None
    async with db.sessions() as session:
        rows = {p.channel: p for p in await session.scalars(select(Publication))}
        attempts = {a.id: a for a in await session.scalars(select(PublicationAttempt))}
    assert _row(rows["mastodon"]) == _row(rows["x"])
    assert _row(rows["facebook"]) == _row(rows["bluesky"])
    assert rows["mastodon"].state is fast_state
    for slow_id, fast_id in ((slow, fast), (slow_next, fast_next)):
        assert _attempt(attempts[fast_id]) == _attempt(attempts[slow_id])
    assert attempts[fast].outcome == result.outcome.value
    assert attempts[fast_next].finished_at is None


async def test_a_lost_claim_is_told_on_the_fast_path(db: Database) -> None:
    ids = await _claimed(db)
    posted = AttemptResult(Outcome.POSTED, external_id="1")
    retry = AttemptResult(Outcome.RETRY, "later", retry_at=NOW)
    async with db.engine.connect() as connection:
        async with connection.begin():
            first = await begin_attempt(connection, ids["x"], "w", now=NOW)
            assert await begin_attempt(connection, ids["bluesky"], "other", now=NOW) is None
        async with connection.begin():
            # Someone else's claim: the retry is not stored, nor the next attempt begun.
            state, begun = await settle_and_begin(
                connection, ids["x"], first, "other", retry, next_id=ids["mastodon"], now=NOW
            )
        assert (state, begun) == (None, None)
        async with connection.begin():
            # A confirmed post is stored all the same: it is the truth about the platform.
            state, begun = await settle_and_begin(
                connection, ids["x"], first, "other", posted, next_id=ids["mastodon"], now=NOW
            )
        assert state is not None and state.value == "posted" and begun is None
