"""The large catalog the catalog and memory benchmarks share: papers, users, summaries.

Papers come from the synthetic snapshot through the real ``shortsci import`` command;
summaries are inserted in bulk (Core executemany), approved, with votes' scores.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import CACHE, ROOT, SHORTSCI, Stopwatch
from gen_snapshot import cached_snapshot
from sqlalchemy import func, insert, select

from storage.db import Database
from storage.models import Paper, Summary, SummaryStatus, User
from storage.summaries import render_stale

SEED = 7
CATALOG_FORMAT = 2  # bump when what a cached catalog holds changes (2: stored renders)
BODY_PARTS = (
    "**Problem.** Training very deep networks is hard: accuracy saturates, then degrades.",
    "The key idea is to learn a residual $F(x) = H(x) - x$ instead of $H(x)$ directly.",
    "- Identity shortcuts add no parameters.\n- Projection shortcuts fix dimensions.",
    "They evaluate on ImageNet and CIFAR-10, with depths from 18 to 1202 layers.",
    "The loss is $\\mathcal{L} = -\\sum_i y_i \\log \\hat{y}_i$ with weight decay $10^{-4}$.",
    "*Why it matters:* the trick made depth cheap and is now in nearly every architecture.",
    "An ablation shows the gain holds across optimizers, which rules out a tuning artefact.",
    "Limitations: the theory of why residuals help optimisation is left open.",
    "> The degradation problem suggests solvers have difficulty approximating identities.",
    "Compared with highway networks, the shortcuts are parameter-free and never closed.",
)


@dataclass
class ImportRun:
    """What the import command did, as measured from outside."""

    papers: int
    wall: float  # the whole command: start-up, migrations, import
    inside: float  # the import itself, as the command reports it
    output: str


def sqlite_url(path: Path) -> str:
    """The async SQLAlchemy URL of an SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def run_import(url: str, snapshot: Path, batch: int = 5000) -> ImportRun:
    """Run ``shortsci import`` on `snapshot` into `url` (progress goes to our stderr)."""
    env = dict(os.environ, SHORTSCI_DATABASE_URL=url, SHORTSCI_LOG_LEVEL="WARNING")
    watch = Stopwatch()
    done = subprocess.run(
        [SHORTSCI, "import", str(snapshot), "--batch", str(batch)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    wall = watch.seconds
    match = re.search(r"Imported ([\d,]+) lines in ([\d.]+) s", done.stdout)
    if match is None:
        raise RuntimeError(f"unexpected output from shortsci import: {done.stdout!r}")
    return ImportRun(int(match[1].replace(",", "")), wall, float(match[2]), done.stdout.strip())


def summary_body(rng: random.Random, title: str) -> str:
    """A Markdown summary with LaTeX, 600-1200 characters."""
    parts = [f"This paper, *{title}*, is worth reading."]
    while sum(len(p) for p in parts) < rng.randint(600, 1200):
        parts.append(rng.choice(BODY_PARTS))
    return "\n\n".join(parts)


async def add_summaries(db: Database, n: int, *, users: int = 2000) -> list[int]:
    """`n` approved summaries by `users` users over random papers; returns the papers' ids."""
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    async with db.engine.begin() as conn:
        top = int(await conn.scalar(select(func.max(Paper.id))) or 0)
        await conn.execute(
            insert(User),
            [
                {
                    "id": 10_000 + i,
                    "username": f"reader{i}",
                    "display_name": f"Reader {i}",
                    "role": "member",
                    "banned": False,
                    "created_at": now,
                }
                for i in range(users)
            ],
        )
    if n == 0 or top == 0:
        return []
    papers = rng.sample(range(1, top + 1), k=min(top, max(1, n // 2)))
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < n:
        pairs.add((rng.choice(papers), 10_000 + rng.randrange(users)))
    ordered = sorted(pairs)
    for start in range(0, len(ordered), 10_000):
        chunk = ordered[start : start + 10_000]
        rows = []
        for paper_id, author_id in chunk:
            when = now - timedelta(minutes=rng.randrange(500_000))
            rows.append(
                {
                    "paper_id": paper_id,
                    "author_id": author_id,
                    "body": summary_body(rng, f"paper {paper_id}"),
                    "status": SummaryStatus.APPROVED,
                    "score": rng.randint(-3, 20),
                    "created_at": when,
                    "updated_at": when,
                    "approved_at": when,
                }
            )
        async with db.engine.begin() as conn:
            await conn.execute(insert(Summary), rows)
    return sorted(set(papers))


def database_size(path: Path) -> int:
    """Bytes of an SQLite database with its WAL."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


async def checkpoint(db: Database) -> None:
    """Fold the WAL into the SQLite file (so its size is the database's)."""
    if db.dialect == "sqlite":
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def cached_catalog_path(papers: int, summaries: int) -> Path:
    """Where the built catalog of this size is kept for other benchmarks."""
    return CACHE / f"catalog-{papers}-{summaries}-v{CATALOG_FORMAT}.db"


def keep_catalog(path: Path, papers: int, summaries: int) -> Path:
    """Keep a built SQLite catalog in the cache (replacing an older one)."""
    target = cached_catalog_path(papers, summaries)
    partial = target.with_suffix(".partial")
    shutil.copyfile(path, partial)
    partial.replace(target)
    return target


async def build_catalog(papers: int, summaries: int) -> Path:
    """The cached SQLite catalog of this size, built (import + summaries) if missing."""
    target = cached_catalog_path(papers, summaries)
    if target.exists():
        return target
    snapshot = cached_snapshot(papers, CACHE)
    work = CACHE / f"build-{papers}-{summaries}.db"
    for old in CACHE.glob(work.name + "*"):
        old.unlink()
    run_import(sqlite_url(work), snapshot)
    db = Database(sqlite_url(work))
    try:
        await add_summaries(db, summaries)
        await render_stale(db)  # what the bot does in the background for rows it did not write
        await checkpoint(db)
    finally:
        await db.dispose()
    keep_catalog(work, papers, summaries)
    for old in CACHE.glob(work.name + "*"):
        old.unlink()
    return target
