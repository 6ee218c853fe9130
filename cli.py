"""The ``shortsci`` command: the composition root that wires settings, storage and adapters."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from config import ConfigError, Settings, configure_logging, load_settings
from storage.db import Database, DatabaseError

# The adapters (python-telegram-bot, tweepy, APScheduler, markup) are imported by the
# commands that use them: `shortsci import` or `db upgrade` does not pay a second for them.
if TYPE_CHECKING:
    from bot.context import Services
    from publisher.dispatcher import Dispatcher

log = logging.getLogger("shortsci")


@contextlib.asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Open the database (migrated), the arXiv and Crossref clients and the catalog."""
    from bot.context import Services
    from storage.catalog.arxiv_source import ArxivSource
    from storage.catalog.crossref_source import CrossrefSource
    from storage.catalog.service import Catalog

    db = Database(settings.database_url)
    arxiv = ArxivSource(
        settings.arxiv_api_url,
        timeout=settings.arxiv_timeout,
        delay_seconds=settings.arxiv_delay_seconds,
    )
    crossref = CrossrefSource(
        settings.crossref_api_url,
        contact_email=settings.contact_email,
        timeout=settings.crossref_timeout,
    )
    try:
        await db.upgrade()
        yield Services(settings=settings, db=db, catalog=Catalog(db, arxiv, crossref=crossref))
    finally:
        arxiv.close()
        await crossref.aclose()
        await db.dispose()


def _stop_on_signals(stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)


@contextlib.asynccontextmanager
async def publishing(
    settings: Settings, db: Database, *, fallback_username: str | None = None
) -> AsyncIterator[Dispatcher]:
    """The dispatcher with its channels and Telegram client; all closed afterwards."""
    from publisher.service import build_dispatcher, telegram_bot

    bot = telegram_bot(settings)
    username = fallback_username
    if bot is not None:
        await bot.initialize()  # getMe: the bot's username makes the deep links
        username = bot.username
    dispatcher = build_dispatcher(settings, db, bot=bot, bot_username=username)
    try:
        yield dispatcher
    finally:
        for channel in dispatcher.channels.values():
            await channel.aclose()
        if bot is not None:
            await bot.shutdown()


async def _serve_publisher(
    settings: Settings, db: Database, stopping: asyncio.Event, username: str | None = None
) -> None:
    from publisher.service import build_scheduler

    async with publishing(settings, db, fallback_username=username) as dispatcher:
        scheduler = build_scheduler(dispatcher, settings)
        scheduler.start()
        log.info("publisher scheduled for: %s", ", ".join(dispatcher.channels))
        try:
            await stopping.wait()
        finally:
            scheduler.shutdown(wait=False)


async def _run(settings: Settings) -> int:
    from bot.console import BOT_USERNAME as CONSOLE_BOT_USERNAME
    from bot.console import chat
    from bot.runner import serve_bot

    stopping = asyncio.Event()
    async with services(settings) as svc:
        if settings.telegram_token is None:
            publisher = asyncio.create_task(
                _serve_publisher(settings, svc.db, stopping, username=CONSOLE_BOT_USERNAME)
            )
            try:
                await chat(svc, connected=False)
            finally:
                stopping.set()
                await publisher
            return 0
        _stop_on_signals(stopping)
        await asyncio.gather(serve_bot(svc, stopping), _serve_publisher(settings, svc.db, stopping))
    return 0


async def _publisher(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        stopping = asyncio.Event()
        _stop_on_signals(stopping)
        await _serve_publisher(settings, db, stopping)
    finally:
        await db.dispose()
    return 0


async def _publish_once(settings: Settings, dry_run_only: bool) -> int:
    from publisher.service import dry_run

    db = Database(settings.database_url)
    try:
        await db.upgrade()
        async with publishing(settings, db) as dispatcher:
            if dry_run_only:
                planned = await dry_run(dispatcher)
                for channel, publication_id, text in planned:
                    print(f"── {channel} · publication #{publication_id} ──\n{text}\n")
                print(f"{len(planned)} post(s) would be made; nothing was posted.")
                return 0
            report = await dispatcher.run_once()
    finally:
        await db.dispose()
    for channel in dispatcher.channels:
        outcomes = report.outcomes.get(channel, {})
        summary = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "nothing due"
        print(f"{channel}: {report.skipped.get(channel, summary)}")
    return 0


async def _bot(settings: Settings) -> int:
    if settings.telegram_token is None:
        raise ConfigError(
            "SHORTSCI_TELEGRAM_TOKEN is not set (for example "
            "SHORTSCI_TELEGRAM_TOKEN=123456:ABC-DEF); "
            "use `shortsci chat` to try the bot locally"
        )
    from bot.runner import serve_bot

    async with services(settings) as svc:
        stopping = asyncio.Event()
        _stop_on_signals(stopping)
        await serve_bot(svc, stopping)
    return 0


async def _chat(settings: Settings) -> int:
    from bot.console import chat

    async with services(settings) as svc:
        await chat(svc, connected=settings.telegram_token is not None)
    return 0


async def _db_upgrade(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        print(f"Database is at revision {await db.current_revision()}.")
    finally:
        await db.dispose()
    return 0


async def _status(settings: Settings) -> int:
    from storage.channels import channel_reports, format_reports

    db = Database(settings.database_url)
    try:
        await db.upgrade()
        async with db.sessions() as session:
            reports = await channel_reports(session, settings.enabled_channels())
    finally:
        await db.dispose()
    print(format_reports(reports))
    return 0


async def _import(settings: Settings, path: str, batch: int) -> int:
    """Import an arXiv metadata snapshot (JSON lines; `-` is stdin) with a progress line."""
    from storage.importer import import_snapshot

    db = Database(settings.database_url)
    started = shown = time.monotonic()

    def progress(done: int) -> None:
        nonlocal shown
        now = time.monotonic()
        if now - shown >= 0.2:  # at most five updates a second
            shown = now
            rate = done / max(now - started, 1e-9)
            print(f"\rimporting: {done:,} papers, {rate:,.0f}/s ", end="", file=sys.stderr)

    try:
        await db.upgrade()
        source = sys.stdin.buffer if path == "-" else path
        report = await import_snapshot(db, source, batch=batch, progress=progress)
    finally:
        await db.dispose()
    print(file=sys.stderr)
    print(
        f"Imported {report.lines:,} lines in {report.seconds:.1f} s ({report.rate:,.0f}/s): "
        f"{report.inserted:,} new, {report.existing:,} already stored, "
        f"{report.malformed:,} malformed, {report.doi_conflicts:,} stored without their DOI."
    )
    for error in report.errors:
        print(f"  skipped {error}", file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "run": lambda s, _: _run(s),
    "bot": lambda s, _: _bot(s),
    "publisher": lambda s, _: _publisher(s),
    "publish": lambda s, a: _publish_once(s, a.dry_run),
    "chat": lambda s, _: _chat(s),
    "db upgrade": lambda s, _: _db_upgrade(s),
    "status": lambda s, _: _status(s),
    "import": lambda s, a: _import(s, a.path, a.batch),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="shortsci", description="ShortSci: short, human-written summaries of research papers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="the bot and the scheduled publisher in one process")
    commands.add_parser("bot", help="the Telegram bot alone")
    commands.add_parser("publisher", help="the scheduled publisher alone")
    publish = commands.add_parser("publish", help="one publishing cycle, then exit")
    publish.add_argument("--once", action="store_true", required=True, help="one cycle (required)")
    publish.add_argument("--dry-run", action="store_true", help="print what would be posted")
    commands.add_parser("chat", help="chat with the bot in this terminal (local emulator)")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply every pending migration")
    commands.add_parser("status", help="per channel: queue, last success and error, paused")
    importing = commands.add_parser("import", help="import an arXiv metadata snapshot (JSONL)")
    importing.add_argument("path", help="the snapshot file (.json, .jsonl or .gz), or - for stdin")
    importing.add_argument(
        "--batch",
        type=int,
        default=5000,
        help="papers per transaction (about that many from a plain file)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shortsci`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.secret_values())
        name = " ".join(filter(None, [args.command, getattr(args, "action", None)]))
        return asyncio.run(COMMANDS[name](settings, args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (DatabaseError, OSError) as exc:
        print(f"shortsci: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
