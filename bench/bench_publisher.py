"""Publisher: drain 10,000 due publications to a fake channel without limits, and the cost of
one cycle (10 due rows) over a 1,000,000-row history against a 1,000-row history.

Usage: ``python bench/bench_publisher.py [--drain N] [--history N] [--cycles N] [--postgres URL]``

Targets (issue): drain >= 300 posts/s; a cycle over 1,000,000 history rows within 1.2x of
the same over 1,000 (medians of `--cycles` cycles, both databases measured in this run).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from _common import (
    Stopwatch,
    percentile,
    postgres_url,
    postgres_version,
    print_machine,
    table,
    verdict,
)
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from publisher.channels.base import Limits, Post, Published
from publisher.dispatcher import Dispatcher
from storage.db import Database
from storage.models import (
    Base,
    Paper,
    Publication,
    PublicationAttempt,
    PublicationState,
    Summary,
    SummaryStatus,
    User,
)

CHANNEL = "fake"
HISTORY_CHANNELS = ("x", "facebook", "mastodon", CHANNEL)
PAPERS = 1000
BODY = (
    "**Idea.** Learn a residual $F(x) = H(x) - x$ instead of $H(x)$. Identity shortcuts add "
    "no parameters, and very deep networks train as easily as shallow ones. " * 3
)


class FakeChannel:
    """A channel without limits or latency: every post is published at once."""

    name: ClassVar[str] = CHANNEL
    limits = Limits(max_length=500)

    def __init__(self) -> None:
        self.posted = 0

    async def publish(self, post: Post) -> Published:
        """Post it (count it)."""
        self.posted += 1
        return Published(str(post.publication_id), f"https://fake.example/{post.publication_id}")

    async def find_existing(self, post: Post) -> Published | None:
        """Nothing is ever lost here."""
        return None

    async def aclose(self) -> None:
        """Nothing to close."""


@dataclass
class Fixture:
    """A prepared database and the summaries still free for due publications."""

    db: Database
    free: list[int]


async def _bulk(db: Database, model: type[Base], rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), 20_000):
        async with db.engine.begin() as conn:
            await conn.execute(insert(model), rows[start : start + 20_000])


@dataclass(frozen=True)
class Target:
    """Where one fixture lives: a database URL, and on PostgreSQL a schema of its own."""

    url: str
    schema: str = ""

    def database(self) -> Database:
        """A `Database` on this target (its schema first on the search path)."""
        if not self.schema:
            return Database(self.url)
        return Database(self.url, connect_args={"server_settings": {"search_path": self.schema}})


async def reset_postgres(url: str, schemas: tuple[str, ...], *, create: bool = True) -> None:
    """Empty the public schema and drop `schemas`, then create them anew if `create`.

    The database is one the caller may wipe.
    """
    db = Database(url)
    async with db.engine.begin() as conn:
        for schema in ("public", *schemas):
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            if create or schema == "public":
                await conn.execute(text(f"CREATE SCHEMA {schema}"))
    await db.dispose()


async def prepare(target: Target, *, history: int, free: int) -> Fixture:
    """Papers, users, `history` posted publications (with attempts), `free` fresh summaries.

    On PostgreSQL the tables are then vacuumed and analysed, as autovacuum would soon after a
    bulk load (else it may do so in the middle of the measurement).
    """
    db = target.database()
    await db.upgrade()
    now = datetime.now(UTC)
    await _bulk(
        db,
        Paper,
        [
            {
                "arxiv_id": f"2101.{i:05d}",
                "title": f"Deep residual learning, variant {i}",
                "authors": ["Kaiming He", "Xiangyu Zhang"],
                "categories": ["cs.CV"],
                "year": 2021,
                "source": "arxiv",
                "created_at": now,
            }
            for i in range(1, PAPERS + 1)
        ],
    )
    history_summaries = -(-history // len(HISTORY_CHANNELS))
    total = history_summaries + free
    authors = -(-total // PAPERS)
    await _bulk(
        db,
        User,
        [
            {"id": u, "display_name": f"Reader {u}", "role": "member", "banned": False}
            for u in range(1, authors + 1)
        ],
    )
    summaries = []
    for i in range(total):
        when = now - timedelta(minutes=total - i)
        summaries.append(
            {
                "id": i + 1,
                "paper_id": i % PAPERS + 1,
                "author_id": i // PAPERS + 1,
                "body": f"{BODY}(Summary {i + 1}.)",  # each its own: no render is reused
                "status": SummaryStatus.APPROVED,
                "score": 0,
                "created_at": when,
                "updated_at": when,
                "approved_at": when,
            }
        )
    await _bulk(db, Summary, summaries)
    publications = []
    attempts = []
    for n in range(history):
        summary_id = n // len(HISTORY_CHANNELS) + 1
        when = now - timedelta(minutes=history - n)
        publications.append(
            {
                "id": n + 1,
                "summary_id": summary_id,
                "channel": HISTORY_CHANNELS[n % len(HISTORY_CHANNELS)],
                "state": PublicationState.POSTED,
                "attempts": 1,
                "next_attempt_at": when,
                "in_flight": False,
                "external_id": f"ext-{n}",
                "external_url": f"https://fake.example/{n}",
                "created_at": when,
                "posted_at": when,
                "thread_ids": [],
            }
        )
        attempts.append(
            {
                "publication_id": n + 1,
                "worker": "bench",
                "started_at": when,
                "finished_at": when,
                "outcome": "posted",
            }
        )
    await _bulk(db, Publication, publications)
    await _bulk(db, PublicationAttempt, attempts)
    if db.dialect == "postgresql":  # explicit ids: move the sequences past them
        async with db.engine.begin() as conn:
            for table_name in ("summaries", "publications"):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table_name}), false)"
                    )
                )
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    return Fixture(db, list(range(history_summaries + 1, total + 1)))


async def make_due(fixture: Fixture, count: int) -> None:
    """`count` publications due now on the fake channel."""
    ids, fixture.free = fixture.free[:count], fixture.free[count:]
    now = datetime.now(UTC) - timedelta(seconds=1)
    await _bulk(
        fixture.db,
        Publication,
        [
            {
                "summary_id": s,
                "channel": CHANNEL,
                "state": PublicationState.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "in_flight": False,
                "created_at": now,
                "thread_ids": [],
            }
            for s in ids
        ],
    )


def dispatcher(db: Database, channel: FakeChannel) -> Dispatcher:
    """The real dispatcher over the fake channel (the production batch size)."""
    return Dispatcher(
        db, {CHANNEL: channel}, lambda s: f"https://shortsci.example/s/{s}", worker="bench"
    )


class Wire:
    """What reached the database, counted by the driver itself (whatever layer sent it).

    SQLite: statements and commits, from sqlite3's trace callback. PostgreSQL: statements
    as SQLAlchemy sends them (the extended protocol, which asyncpg does not log), commits
    and round trips: those plus what asyncpg sends as simple queries (BEGIN, COMMIT, ROLLBACK,
    the pool's pings).
    """

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.round_trips = 0

    def seen(self, sql: str) -> None:
        """Count one statement or transaction command as the driver sent it."""
        self.round_trips += 1
        word = sql.split(None, 1)[0].upper().rstrip(";") if sql.strip() else ""
        if word == "COMMIT":
            self.commits += 1
        elif word not in {"", "BEGIN", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
            self.statements += 1

    def attach(self, engine: AsyncEngine) -> None:
        """Count on every connection `engine` opens from now on."""

        def on_connect(_dbapi: object, record: Any) -> None:
            driver = record.driver_connection
            if engine.dialect.name == "sqlite":
                await_only(driver.set_trace_callback(self.seen))
            else:
                driver.add_query_logger(lambda logged: self.seen(logged.query))

        def on_statement(*_: object) -> None:
            self.seen("statement")

        event.listen(engine.sync_engine, "connect", on_connect)
        if engine.dialect.name == "postgresql":
            event.listen(engine.sync_engine, "before_cursor_execute", on_statement)


@dataclass
class Drained:
    """A drain: its wall time, the posts made, and the database work they took."""

    seconds: float
    cpu_seconds: float
    posted: int
    wire: Wire
    postgres: bool

    def row(self, label: str, wanted: int) -> list[object]:
        """The table row: rate, CPU, and statements, commits (round trips) per post."""
        rate = self.posted / self.seconds
        per_post = max(self.posted, 1)
        trips = f", {self.wire.round_trips / per_post:.1f} round trips" if self.postgres else ""
        return [
            label,
            f"drain {wanted:,} due publications",
            f"{rate:,.0f} posts/s ({self.posted:,} in {self.seconds:.1f} s; per post "
            f"{1000 * self.cpu_seconds / per_post:.2f} ms CPU here, "
            f"{self.wire.statements / per_post:.1f} statements, "
            f"{self.wire.commits / per_post:.2f} commits{trips})",
            ">= 300/s",
            verdict(rate >= 300 and self.posted == wanted),
        ]


async def drain(target: Target, count: int) -> Drained:
    """Post `count` due publications, cycle after cycle, counting the database work."""
    fixture = await prepare(target, history=0, free=count)
    wire = Wire()
    try:
        await make_due(fixture, count)
        await fixture.db.engine.dispose()  # the drain's connections are new, so counted
        wire.attach(fixture.db.engine)
        channel = FakeChannel()
        run = dispatcher(fixture.db, channel)
        watch, cpu = Stopwatch(), time.process_time()
        while True:
            report = await run.run_channel(CHANNEL)
            if not report.outcomes.get(CHANNEL):
                break
        cpu = time.process_time() - cpu
        postgres = fixture.db.dialect == "postgresql"
        return Drained(watch.seconds, cpu, channel.posted, wire, postgres)
    finally:
        await fixture.db.dispose()


async def cycles(fixture: Fixture, count: int) -> list[float]:
    """Wall time in ms of `count` cycles, each with 10 fresh due rows."""
    channel = FakeChannel()
    run = dispatcher(fixture.db, channel)
    samples = []
    for _ in range(count):
        await make_due(fixture, 10)
        watch = Stopwatch()
        report = await run.run_channel(CHANNEL)
        samples.append(watch.seconds * 1000)
        assert report.outcomes.get(CHANNEL) == {"posted": 10}, report
    return samples


async def measure_backend(
    label: str, targets: tuple[Target, Target, Target], args: argparse.Namespace
) -> list[list[object]]:
    """The three measurements on one backend; `targets` are fresh and empty, one for each."""
    watch = Stopwatch()
    drained = await drain(targets[0], args.drain)
    rows = [drained.row(label, args.drain)]
    small = await prepare(targets[1], history=1000, free=10 * (args.cycles + 2))
    large = await prepare(targets[2], history=args.history, free=10 * (args.cycles + 2))
    setup = watch.seconds - drained.seconds
    try:
        await cycles(small, 2)  # warm-up
        await cycles(large, 2)
        small_ms: list[float] = []
        large_ms: list[float] = []
        for _ in range(args.cycles):  # interleaved, so noise hits both alike
            small_ms += await cycles(small, 1)
            large_ms += await cycles(large, 1)
    finally:
        await small.db.dispose()
        await large.db.dispose()
    ratio = statistics.median(large_ms) / statistics.median(small_ms)
    for history, samples in ((1000, small_ms), (args.history, large_ms)):
        rows.append(
            [
                label,
                f"one cycle, 10 due, {history:,}-row history",
                f"median {statistics.median(samples):.1f} ms, p90 {percentile(samples, 90):.1f} ms",
                "",
                "",
            ]
        )
    rows.append(
        [
            label,
            f"cycle {args.history:,} vs 1,000 history (median ratio)",
            f"{ratio:.2f}x",
            "<= 1.2x",
            verdict(ratio <= 1.2),
        ]
    )
    print(f"{label}: setup of the history databases took {setup:.0f} s", file=sys.stderr)
    return rows


async def measure(args: argparse.Namespace) -> int:
    """Run on SQLite (and PostgreSQL if given), print the table."""
    pg = postgres_url(args.postgres)
    print_machine({"postgresql": postgres_version(pg)} if pg else None)
    watch = Stopwatch()
    workdir = Path(tempfile.mkdtemp(prefix="shortsci-bench-"))
    headers = ["database", "measure", "result", "target", "verdict"]
    try:
        files = [Target(f"sqlite+aiosqlite:///{workdir / name}.db") for name in ("d", "s", "l")]
        rows = await measure_backend("SQLite", (files[0], files[1], files[2]), args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(table(headers, rows), flush=True)
    if pg:  # one database, so each fixture in a schema of its own
        schemas = ("bench_drain", "bench_small", "bench_large")
        await reset_postgres(pg, schemas)
        try:
            fixtures = (Target(pg, schemas[0]), Target(pg, schemas[1]), Target(pg, schemas[2]))
            print(table(headers, await measure_backend("PostgreSQL", fixtures, args)))
        finally:
            await reset_postgres(pg, schemas, create=False)
    print(f"bench wall time {watch.seconds:.0f} s")
    return 0


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drain", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL URL the bench may wipe")
    args = parser.parse_args()
    return asyncio.run(measure(args))


if __name__ == "__main__":
    sys.exit(main())
