"""SQLite statements on the loop: CPU time per database operation of ShortSci's `Database` on
SQLite, its statements run on the event loop's thread (`storage.sqlite_inline`), against the
same `Database` on aiosqlite's own worker thread, as `storage.db` had it before.

Operations, each as the bot's handler does it:

- lookup: ``/paper`` for a paper with five summaries, `bot.handlers.reading.paper_message`
  (one query, then the card and the best summary rendered);
- vote: a 👍/👎 press, `storage.summaries.vote` in `db.transaction()` as
  `bot.handlers.votes.on_vote` does (two reads, the vote written, the score updated);
- draft: a message added to a summary being written, `get_draft` and `append_to_draft` in one
  transaction as `bot.handlers.submitting.on_text` does (one read, one update).

Engines:

- inline: `Database(url)`, what the bot uses;
- thread (the baseline): the same `Database` with its engine and session factory replaced by
  the engine `storage.db.create_engine` built before `storage.sqlite_inline`:
  ``create_async_engine(url, connect_args={"timeout": 30}, pool_size=5, max_overflow=0,
  pool_reset_on_return=None)``, with `storage.db`'s JSON serializer, its connect and reset
  listeners (`_sqlite_pragmas`, `_reset_if_open`) and ``PRAGMA busy_timeout=30000``. Every
  driver call goes to aiosqlite's thread and back; SQLite's busy handler waits there.

The database is `bench_bot.py`'s (`prepare_database`: 20,000 imported papers, 300 of them with
five approved summaries), built once and kept in ``bench/.cache``; each run works on a copy, to
which it adds the voters and the drafts. Users vote and write one message at a time: each
caller has its own users.

Each operation is measured with 1 caller and with 64 concurrent callers (the bot handles up to
64 updates at once), on a fresh `Database` warmed first (its pool opened), `--lookups` or
`--writes` operations per measurement, in `--rounds` rounds that alternate the order of the
two engines. The figure is the CPU time of this process (`time.process_time`: every thread,
aiosqlite's included) divided by the operations, median of the rounds; ops/s is wall-clock.

Usage: ``python bench/bench_sqlite_inline.py [--lookups N] [--writes N] [--rounds N]
[--callers N [N ...]] [--operations lookup vote draft]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from _catalog import checkpoint, sqlite_url
from _common import CACHE, Stopwatch, print_machine, table
from bench_bot import CATALOG, DRAFT_PART, POPULAR, prepare_database
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.handlers.reading import paper_message
from storage.catalog.arxiv_source import ArxivSource
from storage.catalog.refs import PaperRef, parse_reference
from storage.catalog.service import Catalog
from storage.db import SQLITE_POOL_SIZE, Database, _reset_if_open, _sqlite_pragmas, json_text
from storage.drafts import append_to_draft, get_draft
from storage.models import Draft, DraftKind, Paper, Role, Summary, SummaryStatus, User
from storage.sqlite_inline import InlineConnection
from storage.summaries import vote

ENGINES = ("thread", "inline")
OPERATIONS = ("lookup", "vote", "draft")
DATABASE_FORMAT = 1  # bump when what the cached database holds changes
BUSY_TIMEOUT_MS = 30_000  # what storage.db set before storage.sqlite_inline
FIRST_USER = 1_000_000  # voters and writers added to the copy; bench_bot's authors are 50-54
WARMUP = 100  # operations run on a fresh Database before the measured ones


# -- the database -----------------------------------------------------------------------------


def cached_database_path() -> Path:
    """Where bench_bot's database is kept."""
    return CACHE / f"bot-{CATALOG}-{POPULAR}-v{DATABASE_FORMAT}.db"


async def cached_database() -> Path:
    """bench_bot's database (`prepare_database`), built if missing."""
    target = cached_database_path()
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f"build-{target.name}")
    for old in CACHE.glob(work.name + "*"):
        old.unlink()
    await prepare_database(sqlite_url(work), False)
    db = Database(sqlite_url(work))
    try:
        await checkpoint(db)
    finally:
        await db.dispose()
    partial = target.with_suffix(".partial")
    shutil.copyfile(work, partial)
    partial.replace(target)
    for old in CACHE.glob(work.name + "*"):
        old.unlink()
    return target


@dataclass
class World:
    """What the operations ask for, on this run's copy of the database."""

    url: str
    refs: list[PaperRef]  # papers with five summaries
    summaries: list[int]  # their summaries' ids
    voters: list[User]
    writers: list[int]  # users with a summary draft open


async def prepare(path: Path, users: int) -> World:
    """Add `users` voters and `users` writers (each with an empty draft) to the copy at `path`."""
    url = sqlite_url(path)
    db = Database(url)
    voters = [FIRST_USER + i for i in range(users)]
    writers = [FIRST_USER + users + i for i in range(users)]
    try:
        async with db.engine.begin() as conn:
            popular = list(
                await conn.execute(
                    select(Paper.id, Paper.arxiv_id)
                    .where(Paper.id.in_(select(Summary.paper_id)))
                    .order_by(Paper.id)
                )
            )
            summaries = list(
                await conn.scalars(
                    select(Summary.id)
                    .where(Summary.status == SummaryStatus.APPROVED)
                    .order_by(Summary.id)
                )
            )
            await conn.execute(
                insert(User),
                [
                    {"id": uid, "display_name": f"Bench {uid}", "role": Role.MEMBER}
                    for uid in voters + writers
                ],
            )
            await conn.execute(
                insert(Draft),
                [
                    {"user_id": uid, "kind": DraftKind.SUMMARY, "paper_id": popular[i][0]}
                    for i, uid in enumerate(writers)
                ],
            )
    finally:
        await db.dispose()
    if len(popular) != POPULAR:
        raise AssertionError(f"{len(popular)} papers with summaries, expected {POPULAR}")
    return World(
        url=url,
        refs=[parse_reference(arxiv_id) for _, arxiv_id in popular],
        summaries=summaries,
        # outside any session, as `bot.actors` hands the bot's users to its handlers
        voters=[User(id=uid, role=Role.MEMBER, banned=False) for uid in voters],
        writers=writers,
    )


# -- the two engines --------------------------------------------------------------------------


def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def thread_engine(url: str) -> AsyncEngine:
    """The engine `storage.db.create_engine` built for an SQLite file before
    `storage.sqlite_inline`: aiosqlite's own thread runs every driver call."""
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30},
        json_serializer=json_text,
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=0,
        pool_reset_on_return=None,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "connect", _busy_timeout)
    event.listen(engine.sync_engine, "reset", _reset_if_open)
    return engine


def open_database(engine: str, url: str) -> Database:
    """The project's `Database` on `url`; for ``thread``, on the baseline engine instead.

    `Database.__init__` builds the inline engine, which connects only when first used; it is
    dropped unused, and the session factory is rebuilt as `Database` builds it.
    """
    db = Database(url)
    if engine == "thread":
        db.engine = thread_engine(url)
        db.sessions = async_sessionmaker(db.engine, expire_on_commit=False)
    return db


async def check_engine(db: Database, engine: str) -> None:
    """Fail unless `db`'s connections are the kind `engine` names."""
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
    inline = isinstance(driver, InlineConnection)
    if not isinstance(driver, aiosqlite.Connection) or inline != (engine == "inline"):
        raise AssertionError(f"{engine}: the engine opened a {type(driver).__name__}")


# -- the operations ---------------------------------------------------------------------------

# One operation: (the caller's number, its own count of operations so far, the operation's index).
Operation = Callable[[int, int, int], Awaitable[None]]


def operation(kind: str, db: Database, world: World, callers: int, seed: int) -> Operation:
    """The operation `kind` on `db`; each caller acts for its own users, one at a time."""
    rng = random.Random(seed)
    picks = [rng.randrange(1 << 30) for _ in range(1 << 14)]
    catalog = Catalog(db, ArxivSource("http://127.0.0.1:9/api/query", timeout=0.5))

    def mine(users: list[Any], caller: int, turn: int) -> Any:
        own = users[caller::callers]
        return own[turn % len(own)]

    async def lookup(_caller: int, _turn: int, index: int) -> None:
        ref = world.refs[picks[index % len(picks)] % len(world.refs)]
        view = await paper_message(db, catalog, ref)
        if view is None or "summaries" not in view[0]:
            raise AssertionError(f"no card for {ref.value}")

    async def voting(caller: int, turn: int, index: int) -> None:
        pick = picks[index % len(picks)]
        summary_id = world.summaries[pick % len(world.summaries)]
        async with db.transaction() as session:
            await vote(session, mine(world.voters, caller, turn), summary_id, 1 if pick & 1 else -1)

    async def drafting(caller: int, turn: int, _index: int) -> None:
        user_id = mine(world.writers, caller, turn)
        async with db.transaction() as session:
            draft = await get_draft(session, user_id)
            if draft is None or draft.kind is not DraftKind.SUMMARY:
                raise AssertionError(f"user {user_id} has no summary draft")
            await append_to_draft(session, user_id, DRAFT_PART)

    return {"lookup": lookup, "vote": voting, "draft": drafting}[kind]


async def draft_parts(db: Database) -> int:
    """Messages in the writers' drafts."""
    async with db.sessions() as session:
        return int(await session.scalar(select(func.sum(Draft.parts))) or 0)


async def empty_drafts(db: Database) -> None:
    """Every draft back to empty (so they do not grow round after round)."""
    async with db.transaction() as session:
        await session.execute(update(Draft).values(body="", parts=0))


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Sample:
    """One measurement."""

    cpu_us: float  # CPU time of this process per operation
    rate: float  # operations per wall-clock second


async def run_callers(run: Operation, callers: int, start: int, count: int) -> None:
    """`count` operations by `callers` concurrent callers, numbered from `start`."""
    indices = iter(range(start, start + count))
    turns = [0] * callers

    async def caller(number: int) -> None:
        for index in indices:
            await run(number, turns[number], index)
            turns[number] += 1

    await asyncio.gather(*(caller(n) for n in range(callers)))


async def measure(
    engine: str, kind: str, callers: int, count: int, world: World, seed: int
) -> Sample:
    """`count` operations `kind` by `callers` concurrent callers on a fresh, warmed Database."""
    db = open_database(engine, world.url)
    try:
        await check_engine(db, engine)
        if kind == "draft":
            await empty_drafts(db)
        run = operation(kind, db, world, callers, seed)
        await run_callers(run, callers, 0, WARMUP)
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        await run_callers(run, callers, WARMUP, count)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if kind == "draft" and (parts := await draft_parts(db)) != WARMUP + count:
            raise AssertionError(
                f"{engine}: {parts} draft messages saved, expected {WARMUP + count}"
            )
    finally:
        await db.dispose()
    return Sample(cpu / count * 1e6, count / wall)


def cell(samples: list[Sample], value: Callable[[Sample], float], fmt: str) -> str:
    """The median of the rounds, then each round."""
    values = [value(s) for s in samples]
    each = ", ".join(format(v, fmt) for v in values)
    return f"{format(statistics.median(values), fmt)} (rounds {each})"


def rows_for(
    kind: str, callers: int, thread: list[Sample], inline: list[Sample]
) -> list[list[object]]:
    """Both engines' figures and their ratios."""
    rows: list[list[object]] = []
    for label, runs in (("thread (aiosqlite)", thread), ("inline (ShortSci)", inline)):
        rows.append(
            [
                kind,
                callers,
                label,
                cell(runs, lambda s: s.cpu_us, ".0f"),
                cell(runs, lambda s: s.rate, ",.0f"),
            ]
        )
    cpu_ratio = statistics.median(s.cpu_us for s in thread) / statistics.median(
        s.cpu_us for s in inline
    )
    rate_ratio = statistics.median(s.rate for s in inline) / statistics.median(
        s.rate for s in thread
    )
    rows.append(
        [
            kind,
            callers,
            "ratio",
            f"thread / inline = {cpu_ratio:.2f}x",
            f"inline / thread = {rate_ratio:.2f}x",
        ]
    )
    return rows


async def drive(args: argparse.Namespace) -> int:
    """Copy the database, measure both engines in alternating rounds, print the table."""
    print_machine()
    watch = Stopwatch()
    source = await cached_database()
    workdir = Path(tempfile.mkdtemp(prefix="shortsci-bench-"))
    try:
        path = workdir / "shortsci.db"
        shutil.copyfile(source, path)
        world = await prepare(path, max(256, *args.callers))
        counts = {"lookup": args.lookups, "vote": args.writes, "draft": args.writes}
        samples: dict[tuple[str, int, str], list[Sample]] = defaultdict(list)
        for round_ in range(args.rounds):
            order = ENGINES if round_ % 2 == 0 else ENGINES[::-1]
            for kind in args.operations:
                for callers in args.callers:
                    for engine in order:
                        sample = await measure(
                            engine, kind, callers, counts[kind], world, seed=100 + round_
                        )
                        samples[kind, callers, engine].append(sample)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows: list[list[object]] = []
    for kind in args.operations:
        for callers in args.callers:
            thread, inline = samples[kind, callers, "thread"], samples[kind, callers, "inline"]
            rows.extend(rows_for(kind, callers, thread, inline))
    print(
        f"bench_bot's database ({CATALOG:,} papers, {POPULAR} with 5 summaries); "
        f"{args.lookups:,} lookups or {args.writes:,} writes per measurement, "
        f"{args.rounds} alternating rounds"
    )
    print(table(["operation", "callers", "engine", "CPU µs/op", "ops/s"], rows))
    print(f"bench wall time {watch.seconds:.0f} s")
    return 0


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=1500, help="lookups per measurement")
    parser.add_argument("--writes", type=int, default=600, help="votes or drafts per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--operations", nargs="+", choices=OPERATIONS, default=list(OPERATIONS))
    args = parser.parse_args()
    return asyncio.run(drive(args))


if __name__ == "__main__":
    sys.exit(main())
