"""The publisher put together: channels, links, the dispatcher, and the APScheduler jobs.

The scheduler only ticks; the database decides what is due. One job per channel, with the
channel's cadence (seconds, or a cron rule), ``coalesce`` (a backlog of missed ticks runs
once), ``max_instances=1`` (a slow tick is never overlapped by the next), and a
``misfire_grace_time`` of one cadence (a tick missed by longer is skipped, not run late).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from telegram import Bot

from config import ConfigError, Settings
from publisher.channels import build_channels
from publisher.channels.base import Channel
from publisher.channels.telegram import TelegramChannel
from publisher.dispatcher import Dispatcher, Policy
from publisher.notify import TelegramNotifier
from storage.channels import due_publications, load_for_posting, note_next_run
from storage.db import Database

log = logging.getLogger(__name__)


def telegram_bot(settings: Settings) -> Bot | None:
    """A Bot API client for the configured token, or None without one."""
    if settings.telegram_token is None:
        return None
    api = settings.telegram_api_url
    return Bot(
        settings.telegram_token.get_secret_value(),
        base_url=api,
        base_file_url=api.removesuffix("/bot") + "/file/bot",
    )


def link_maker(settings: Settings, bot_username: str | None) -> Callable[[int], str]:
    """How a post links to its summary: the public site if any, else the bot's deep link."""
    if settings.public_url:
        base = settings.public_url.rstrip("/")
        return lambda summary_id: f"{base}/s/{summary_id}"
    username = settings.bot_username or bot_username
    if not username:
        raise ConfigError(
            "posts need a link: set SHORTSCI_PUBLIC_URL, SHORTSCI_BOT_USERNAME or "
            "SHORTSCI_TELEGRAM_TOKEN (for example SHORTSCI_BOT_USERNAME=shortsci_bot)"
        )
    return lambda summary_id: f"https://t.me/{username}?start=s_{summary_id}"


def policies(settings: Settings) -> dict[str, Policy]:
    """Each channel's quiet hours and daily cap, from the settings."""
    result = {}
    for name in settings.enabled_channels():
        quiet = settings.quiet_hours.get(name)
        hours = None
        if quiet:
            start, end = (time.fromisoformat(t.strip().zfill(5)) for t in quiet.split("-"))
            hours = (start, end)
        result[name] = Policy(quiet_hours=hours, daily_cap=settings.daily_caps.get(name))
    return result


def build_dispatcher(
    settings: Settings,
    db: Database,
    *,
    bot: Bot | None,
    bot_username: str | None,
    channels: Mapping[str, Channel] | None = None,
    timeout: float = 30.0,
) -> Dispatcher:
    """The dispatcher over every enabled channel (the Telegram one through `bot`)."""
    if channels is None:
        extra = {}
        if bot is not None and settings.telegram_channel:
            chat = settings.telegram_channel
            extra["telegram"] = lambda _s, _t: TelegramChannel(bot, chat)
        channels = {c.name: c for c in build_channels(settings, extra=extra, timeout=timeout)}
    notify = TelegramNotifier(bot, settings.admins) if bot is not None else None
    return Dispatcher(
        db,
        channels,
        link_maker(settings, bot_username),
        worker=f"{socket.gethostname()}:{os.getpid()}",
        notify=notify,
        policies=policies(settings),
        x_thread=settings.x_thread,
        lease=timedelta(seconds=settings.publish_lease_seconds),
    )


def trigger_for(settings: Settings, channel: str) -> IntervalTrigger | CronTrigger:
    """The channel's cadence: seconds between runs, or a cron rule (UTC)."""
    rule = settings.publish_schedule.get(channel, str(settings.publish_interval_seconds))
    if rule.strip().isdigit():
        return IntervalTrigger(seconds=int(rule), timezone=UTC)
    return CronTrigger.from_crontab(rule, timezone=UTC)


def build_scheduler(dispatcher: Dispatcher, settings: Settings) -> AsyncIOScheduler:
    """One job per channel; call ``start()`` inside a running event loop."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    for name in dispatcher.channels:

        async def tick(channel: str = name) -> None:
            try:
                report = await dispatcher.run_channel(channel)
                if report.outcomes or report.skipped:
                    log.info("publish %s: %s %s", channel, report.outcomes, report.skipped)
            except Exception:
                log.exception("publishing on %s failed; the next tick tries again", channel)
            job = scheduler.get_job(f"publish-{channel}")
            async with dispatcher.db.transaction() as session:
                await note_next_run(session, channel, job.next_run_time if job else None)

        grace = settings.publish_interval_seconds
        scheduler.add_job(
            tick,
            trigger_for(settings, name),
            id=f"publish-{name}",
            name=f"publish on {name}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace,
            next_run_time=datetime.now(UTC),
        )
    return scheduler


async def dry_run(dispatcher: Dispatcher) -> list[tuple[str, int, str]]:
    """What one cycle would post on each channel: (channel, publication, text). Posts nothing."""
    planned = []
    async with dispatcher.db.sessions() as session:
        ids = await due_publications(session, list(dispatcher.channels), dispatcher.clock())
        rows = await load_for_posting(session, ids)
    for publication in rows:
        channel = dispatcher.channels[publication.channel]
        post = dispatcher.compose(publication.channel, channel, publication)
        text = post.html if publication.channel in ("telegram", "atom") and post.html else post.text
        planned.append((publication.channel, publication.id, text))
        for number, item in enumerate(post.thread, start=1):
            planned.append((publication.channel, publication.id, f"[thread {number}] {item}"))
    return planned
