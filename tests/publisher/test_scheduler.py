"""The APScheduler wiring: one job per channel, on purpose-set options, that really posts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config import Settings
from publisher.channels.atom import AtomChannel
from publisher.service import build_dispatcher, build_scheduler, trigger_for
from storage.catalog.arxiv_source import PaperData
from storage.catalog.store import store_paper
from storage.channels import channel_reports
from storage.db import Database
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.seed import seed_paper


def test_cadence_is_seconds_or_cron() -> None:
    settings = Settings(
        publish_interval_seconds=90, publish_schedule={"x": "0 9-21/2 * * *", "mastodon": "600"}
    )
    assert isinstance(trigger_for(settings, "x"), CronTrigger)
    assert trigger_for(settings, "mastodon").interval.total_seconds() == 600
    default = trigger_for(settings, "atom")
    assert isinstance(default, IntervalTrigger) and default.interval.total_seconds() == 90


async def test_scheduled_ticks_post_and_record_the_next_run(db: Database, tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    settings = Settings(
        database_url=db.url, feed_path=feed, bot_username="shortsci_bot", publish_interval_seconds=1
    )
    seed = seed_paper("Mask")
    async with db.transaction() as session:
        author = await ensure_user(session, 7, display_name="Author")
        paper = await store_paper(
            session, PaperData(seed.title, seed.authors, "manual", year=seed.year)
        )
        await submit_summary(
            session, author, paper.id, seed.summary, moderated=False, channels=["atom"]
        )
    dispatcher = build_dispatcher(
        settings, db, bot=None, bot_username=None, channels={"atom": AtomChannel(path=feed)}
    )
    scheduler = build_scheduler(dispatcher, settings)
    [job] = scheduler.get_jobs()
    assert (job.id, job.coalesce, job.max_instances, job.misfire_grace_time) == (
        "publish-atom",
        True,
        1,
        1,
    )
    scheduler.start()
    try:
        for _ in range(200):
            if feed.exists():
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown(wait=False)
    assert "Mask R-CNN" in feed.read_text(encoding="utf-8")
    assert "https://t.me/shortsci_bot?start=s_1" in feed.read_text(encoding="utf-8")
    async with db.sessions() as session:
        [report] = await channel_reports(session, ("atom",))
    assert (
        report.posted == 1 and report.last_success_at is not None and report.next_run_at is not None
    )
