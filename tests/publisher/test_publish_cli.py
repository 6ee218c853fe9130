"""`shortsci publish --once`, run twice as a person would: each summary posted exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from markup import restore_blocks
from storage.catalog.arxiv_source import PaperData
from storage.catalog.store import store_paper
from storage.db import Database
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.fakes._server import Fault
from tests.paths import DATA
from tests.publisher.platforms import platforms
from tests.seed import seed_papers

REPO = DATA.parents[1]
CHANNELS = ("x", "facebook", "mastodon", "bluesky", "atom")


async def _approve_seed(url: str) -> list[int]:
    db = Database(url)
    await db.upgrade()
    ids = []
    async with db.transaction() as session:
        author = await ensure_user(session, 7, display_name="Seed Author")
        for seed in seed_papers():
            paper = await store_paper(
                session,
                PaperData(
                    seed.title,
                    seed.authors,
                    "arxiv" if seed.arxiv_id else "manual",
                    arxiv_id=seed.arxiv_id,
                    venue=seed.venue,
                    year=seed.year,
                    categories=["cs.LG", "cs.CV"] if seed.arxiv_id else [],
                ),
            )
            body = restore_blocks(seed.summary)
            summary = await submit_summary(
                session, author, paper.id, body, moderated=False, channels=CHANNELS
            )
            ids.append(summary.id)
    await db.dispose()
    return ids


def _shortsci(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_publish_once_twice_posts_each_summary_once_everywhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shortsci.db'}"
    ids = asyncio.run(_approve_seed(url.replace("sqlite://", "sqlite+aiosqlite://")))
    with platforms(tmp_path) as fakes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTSCI_")}
        env |= fakes.env() | {"SHORTSCI_DATABASE_URL": url, "SHORTSCI_LOG_LEVEL": "WARNING"}
        dry = _shortsci(env, "publish", "--once", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "25 post(s) would be made; nothing was posted." in dry.stdout
        assert fakes.x.tweets == []
        first = _shortsci(env, "publish", "--once")
        assert first.returncode == 0, first.stderr
        assert "x: 5 posted" in first.stdout
        second = _shortsci(env, "publish", "--once")
        assert second.returncode == 0, second.stderr
        assert "x: nothing due" in second.stdout
        for summary_id in ids:
            link = f"https://shortsci.example.org/s/{summary_id}"
            assert fakes.counts(link) == dict.fromkeys(CHANNELS, 1), summary_id
        status = _shortsci(env, "status")
        assert "x: on" in status.stdout and "posted 5" in status.stdout
        secrets = [
            v
            for k, v in fakes.env().items()
            if "TOKEN" in k or "SECRET" in k or "PASSWORD" in k or k.endswith("KEY")
        ]
        for output in (dry, first, second, status):
            for secret in secrets:
                assert secret not in output.stdout + output.stderr


def test_a_publisher_killed_mid_cycle_posts_nothing_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shortsci.db'}"
    ids = asyncio.run(_approve_seed(url.replace("sqlite://", "sqlite+aiosqlite://")))
    with platforms(tmp_path) as fakes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTSCI_")}
        env |= fakes.env() | {
            "SHORTSCI_DATABASE_URL": url,
            "SHORTSCI_LOG_LEVEL": "WARNING",
            "SHORTSCI_PUBLISH_LEASE_SECONDS": "1",
        }
        # The third tweet is made, but X answers only after a minute: the publisher is
        # killed while it waits, between the platform's success and our commit.
        fakes.x.inject(Fault("POST /2/tweets", delay=60, skip=2))
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
                "publish",
                "--once",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while len(fakes.x.tweets) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert len(fakes.x.tweets) == 3
        time.sleep(1.2)  # the dead publisher's lease runs out
        restarted = _shortsci(env, "publish", "--once")
        assert restarted.returncode == 0, restarted.stderr
        assert "x: 3 posted" in restarted.stdout, restarted.stdout  # 1 reconciled, 2 new
        for summary_id in ids:
            link = f"https://shortsci.example.org/s/{summary_id}"
            assert fakes.counts(link) == dict.fromkeys(CHANNELS, 1), summary_id
