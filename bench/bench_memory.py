"""Memory: peak RSS of ``shortsci run`` (a real polling bot plus the scheduled publisher)
serving the 1,000,000-paper catalog, while simulated users look papers up.

The bot runs in a subprocess with ``SHORTSCI_TELEGRAM_TOKEN`` set and
``SHORTSCI_TELEGRAM_API_URL`` pointing at a Bot API emulator in this process. The catalog
is the one ``bench_catalog.py`` leaves in ``bench/.cache`` (built here if missing).
Peak RSS is VmHWM from ``/proc/<pid>/status``.

Usage: ``python bench/bench_memory.py [--papers N] [--summaries N] [--lookups N]``

Target (issue): peak RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from _catalog import build_catalog, sqlite_url
from _common import SHORTSCI, Stopwatch, print_machine, table, verdict

from bot.emulator import BotApiEmulator

TOKEN = "5555555555:AAF_shortsci-bench-token-abcdefghijk"
TARGET_MB = 150


def status_kb(pid: int, field: str) -> int:
    """A ``kB`` field (VmHWM, VmRSS) of /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def sample_ids(path: Path, n: int) -> tuple[list[str], list[str]]:
    """arXiv ids to look up (random papers) and title words to search."""
    rng = random.Random(17)
    with sqlite3.connect(path) as conn:
        top = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
        ids = rng.sample(range(1, top + 1), k=n)
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT arxiv_id, title FROM papers WHERE id IN ({marks})", ids)
        found = list(rows)
    lookups = [arxiv for arxiv, _ in found]
    searches = [" ".join(title.split()[:3]) for _, title in found]
    return lookups, searches


async def drive(args: argparse.Namespace) -> int:
    """Start the service, drive lookups, read its peak RSS."""
    print_machine()
    watch = Stopwatch()
    catalog = await build_catalog(args.papers, args.summaries)
    workdir = Path(tempfile.mkdtemp(prefix="shortsci-bench-"))
    db_path = workdir / "shortsci.db"
    shutil.copyfile(catalog, db_path)
    lookups, searches = sample_ids(db_path, args.lookups)
    rows: list[list[object]] = []
    async with BotApiEmulator(token=TOKEN, bot_username="shortsci_bench_bot") as emu:
        env = dict(
            os.environ,
            SHORTSCI_DATABASE_URL=sqlite_url(db_path),
            SHORTSCI_TELEGRAM_TOKEN=TOKEN,
            SHORTSCI_TELEGRAM_API_URL=emu.base_url,
            SHORTSCI_ARXIV_API_URL="http://127.0.0.1:9/api/query",
            SHORTSCI_FEED_PATH=str(workdir / "feed.xml"),
            SHORTSCI_LOG_LEVEL="WARNING",
        )
        process = await asyncio.create_subprocess_exec(
            SHORTSCI, "run", env=env, cwd=workdir, stdin=subprocess.DEVNULL
        )
        try:
            await emu.wait_until(lambda: bool(emu.calls_to("getUpdates")), 60, "the bot to poll")
            idle_kb = status_kb(process.pid, "VmRSS")
            users = [emu.add_user(f"Reader{i}", f"reader{i}") for i in range(args.users)]
            sent = 0
            for index, arxiv_id in enumerate(lookups):
                user = users[index % len(users)]
                emu.send_text(user, f"/paper {arxiv_id}")
                if args.search_every and index % args.search_every == 0:
                    emu.send_text(user, f"/search {searches[index]}")
                    sent += 1
                sent += 1
                if index % 20 == 19:  # a steady stream, not one huge queue
                    await emu.wait_for_delivery(timeout=60)
            await emu.wait_for_delivery(timeout=120)
            await emu.wait_until(  # every update answered by at least one message
                lambda: sum(len(emu.messages(u)) for u in users) >= sent, 120, "the replies"
            )
            await asyncio.sleep(0.5)
            peak_kb = status_kb(process.pid, "VmHWM")
            now_kb = status_kb(process.pid, "VmRSS")
            replies = sum(len(emu.messages(u)) for u in users)
        finally:
            process.terminate()
            await process.wait()
        errors = len(emu.errors)
    shutil.rmtree(workdir, ignore_errors=True)
    size = catalog.stat().st_size
    rows = [
        [
            "catalog",
            f"{args.papers:,} papers, {args.summaries:,} summaries, {size / 2**20:,.0f} MiB",
        ],
        ["updates sent / bot messages", f"{sent:,} / {replies:,} (refused calls: {errors})"],
        ["RSS after start (idle)", f"{idle_kb / 1024:.0f} MiB"],
        ["RSS at the end", f"{now_kb / 1024:.0f} MiB"],
    ]
    print(table(["measure", "result"], rows))
    peak_mb = peak_kb / 1024
    print(
        table(
            ["measure", "result", "target", "verdict"],
            [
                [
                    "peak RSS (VmHWM) of shortsci run",
                    f"{peak_mb:.0f} MiB",
                    "<= 150 MB",
                    verdict(peak_kb * 1024 <= TARGET_MB * 10**6),
                ]
            ],
        )
    )
    print(f"bench wall time {watch.seconds:.0f} s")
    return 0


def main() -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--summaries", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=400)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--search-every", type=int, default=4, help="a /search every N (0: none)")
    args = parser.parse_args()
    return asyncio.run(drive(args))


if __name__ == "__main__":
    sys.exit(main())
