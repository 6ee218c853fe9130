"""Catalog at scale: import 1,000,000 snapshot papers, add 100,000 summaries, then time
``/paper <arXiv id>`` service (lookup + rendering, no Telegram) and title search against a
``LIKE`` scan on the same database.

Usage: ``python bench/bench_catalog.py [--papers N] [--summaries N] [--queries N]``

Targets (issue): import >= 50,000 papers/s; /paper p99 <= 2 ms; title search p99 <= 10 ms
and >= 100x faster than ``LIKE '%words%'`` measured in the same run; database size reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from _catalog import (
    add_summaries,
    checkpoint,
    database_size,
    keep_catalog,
    run_import,
    sqlite_url,
)
from _common import CACHE, Stopwatch, percentile, print_machine, table, verdict
from gen_snapshot import cached_snapshot
from sqlalchemy import select

from bot.handlers.reading import paper_message
from storage.catalog.arxiv_source import ArxivSource
from storage.catalog.refs import parse_reference
from storage.catalog.service import Catalog
from storage.catalog.store import search_papers
from storage.db import Database
from storage.models import Paper
from storage.summaries import render_stale

T = TypeVar("T")


async def serve_paper(db: Database, catalog: Catalog, text: str) -> int:
    """What ``/paper <text>`` does before Telegram: find, read, render; characters out."""
    view = await paper_message(db, catalog, parse_reference(text))
    assert view is not None, text
    return len(view[0])


async def like_scan(db: Database, words: str) -> list[int]:
    """The naive search the issue compares with: every ``title LIKE '%words%'`` (a scan).

    No LIMIT: a LIKE cannot rank, so finding the best ten means finding every match.
    """
    async with db.sessions() as session:
        return list(await session.scalars(select(Paper.id).where(Paper.title.like(f"%{words}%"))))


def holds_as_typed(title: str, words: str) -> bool:
    """Whether `title` holds `words` as typed, case, spaces and punctuation aside."""
    return _squashed(words) in _squashed(title)


def _squashed(text: str) -> str:
    return "".join(re.findall(r"[^\W_]+", text.lower()))


async def timed(samples: list[float], coro: Awaitable[T]) -> T:
    """Await `coro`, appending its wall time in ms to `samples`."""
    started = time.perf_counter()
    result = await coro
    samples.append((time.perf_counter() - started) * 1000)
    return result


async def measure(args: argparse.Namespace) -> int:
    """Build, measure, print the table; returns the exit status."""
    print_machine()
    total = Stopwatch()
    watch = Stopwatch()
    snapshot = cached_snapshot(args.papers, CACHE)
    generated = watch.seconds
    workdir = Path(tempfile.mkdtemp(prefix="shortsci-bench-"))
    path = workdir / "catalog.db"
    url = sqlite_url(path)
    print(f"importing {args.papers:,} papers from {snapshot.name} ...", file=sys.stderr)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and its parser processes
    imported = run_import(url, snapshot)
    after, import_load = resource.getrusage(resource.RUSAGE_CHILDREN), os.getloadavg()[0]
    import_cpu = sum(getattr(after, f) - getattr(cpu, f) for f in ("ru_utime", "ru_stime"))
    db = Database(url)
    arxiv = ArxivSource("http://127.0.0.1:9/api/query", timeout=0.5, delay_seconds=0)
    catalog = Catalog(db, arxiv)
    rows: list[list[object]] = []
    try:
        watch = Stopwatch()
        with_summaries = await add_summaries(db, args.summaries)
        summaries_s = watch.seconds
        watch = Stopwatch()
        rendered = await render_stale(db)  # as the bot does for rows it did not write itself
        render_s = watch.seconds
        await checkpoint(db)
        size = database_size(path)

        rng = random.Random(11)
        async with db.sessions() as session:
            top = int(await session.scalar(select(Paper.id).order_by(Paper.id.desc())) or 0)
            ids = rng.sample(range(1, top + 1), k=min(top, args.queries))
            picked = list(
                await session.execute(select(Paper.arxiv_id, Paper.title).where(Paper.id.in_(ids)))
            )
        summarized = set(with_summaries)
        # Half the lookups name papers that have summaries (so rendering is exercised).
        lookup_ids = [a for a, _ in picked[: args.queries // 2]]
        async with db.sessions() as session:
            lookup_ids += list(
                await session.scalars(
                    select(Paper.arxiv_id).where(
                        Paper.id.in_(rng.sample(sorted(summarized), k=args.queries // 2))
                    )
                )
            )
        rng.shuffle(lookup_ids)
        queries = []
        for _, title in picked:
            words = title.split()
            start = rng.randrange(max(1, len(words) - 2))
            queries.append(" ".join(words[start : start + 3]))

        for text in lookup_ids[:50]:  # warm-up: caches, compiled statements
            await serve_paper(db, catalog, text)
        paper_ms: list[float] = []
        for text in lookup_ids:
            await timed(paper_ms, serve_paper(db, catalog, text))

        search_ms: list[float] = []
        like_ms: list[float] = []
        paired: list[float] = []  # FTS times of the queries also run as LIKE scans
        empty = held = 0  # held: the first result's title holds the words (all queries can)
        every = max(1, len(queries) // args.like_queries)
        for index, words in enumerate(queries):
            async with db.sessions() as session:
                found = await timed(search_ms, search_papers(session, words, limit=10))
            empty += not found
            held += bool(found) and holds_as_typed(found[0].title, words)
            if index % every == 0:
                paired.append(search_ms[-1])
                await timed(like_ms, like_scan(db, words))
    finally:
        arxiv.close()
        await db.dispose()
    kept = keep_catalog(path, args.papers, args.summaries)
    shutil.rmtree(workdir)

    rate = imported.papers / imported.wall
    fts50, like50 = statistics.median(search_ms), statistics.median(like_ms)
    ratio = like50 / statistics.median(paired)
    p99_paper, p99_search = percentile(paper_ms, 99), percentile(search_ms, 99)
    rows = [
        [
            "import (shortsci import, whole command)",
            f"{rate:,.0f} papers/s ({imported.papers:,} in {imported.wall:.1f} s)",
            ">= 50,000/s",
            verdict(rate >= 50_000),
        ],
        [
            "import (inside the command)",
            f"{imported.papers / imported.inside:,.0f} papers/s",
            "",
            "",
        ],
        [
            "import CPU, all processes (load average at its end)",
            f"{import_cpu:.1f} s, {import_cpu / max(1, imported.papers) * 1e6:.1f} µs/paper "
            f"(load {import_load:.1f})",
            "",
            "",
        ],
        [
            f"{args.summaries:,} summaries (bulk insert)",
            f"{summaries_s:.1f} s",
            "",
            "",
        ],
        [
            f"storing {rendered:,} summaries' Telegram HTML (render_stale)",
            f"{render_s:.1f} s ({render_s / max(1, rendered) * 1e3:.2f} ms/summary)",
            "",
            "",
        ],
        [
            f"/paper service time ({len(paper_ms)} lookups)",
            f"p50 {percentile(paper_ms, 50):.2f} ms, p99 {p99_paper:.2f} ms",
            "p99 <= 2 ms",
            verdict(p99_paper <= 2),
        ],
        [
            f"title search, FTS ({len(search_ms)} queries, {empty} empty)",
            f"p50 {fts50:.2f} ms, p99 {p99_search:.2f} ms",
            "p99 <= 10 ms",
            verdict(p99_search <= 10),
        ],
        [
            "title search: first result's title holds the words as typed",
            f"{held:,} of {len(queries):,} queries",
            "reported",
            "",
        ],
        [
            f"title search, LIKE scan ({len(like_ms)} queries)",
            f"p50 {like50:.1f} ms, p99 {percentile(like_ms, 99):.1f} ms",
            "",
            "",
        ],
        [
            "FTS vs LIKE, same queries (median over median)",
            f"{ratio:,.0f}x faster",
            ">= 100x",
            verdict(ratio >= 100),
        ],
        [
            "database size (SQLite file, WAL folded)",
            f"{size / 2**20:,.0f} MiB ({size / max(1, imported.papers):,.0f} B/paper)",
            "reported",
            "",
        ],
    ]
    print(table(["measure", "result", "target", "verdict"], rows))
    print(
        f"snapshot generation (cached after the first run): {generated:.1f} s; "
        f"bench wall time {total.seconds:.0f} s; catalog kept at {kept}"
    )
    return 0


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--summaries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000, help="lookups and searches each")
    parser.add_argument("--like-queries", type=int, default=20, help="LIKE scans (slow)")
    args = parser.parse_args()
    return asyncio.run(measure(args))


if __name__ == "__main__":
    sys.exit(main())
