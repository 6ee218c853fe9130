"""The ``shortsci`` command: the composition root that wires settings, storage and adapters."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from bot.console import chat
from bot.context import Services
from bot.runner import serve_bot
from config import ConfigError, Settings, configure_logging, load_settings
from storage.catalog.arxiv_source import ArxivSource
from storage.catalog.service import Catalog
from storage.db import Database, DatabaseError
from storage.publications import queue_depth

log = logging.getLogger("shortsci")


@contextlib.asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Open the database (migrated), the arXiv client and the catalog; close them after."""
    db = Database(settings.database_url)
    arxiv = ArxivSource(
        settings.arxiv_api_url,
        timeout=settings.arxiv_timeout,
        delay_seconds=settings.arxiv_delay_seconds,
    )
    try:
        await db.upgrade()
        yield Services(settings=settings, db=db, catalog=Catalog(db, arxiv))
    finally:
        arxiv.close()
        await db.dispose()


def _stop_on_signals(stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)


async def _run(settings: Settings) -> int:
    async with services(settings) as svc:
        if settings.telegram_token is None:
            await chat(svc, connected=False)
            return 0
        stopping = asyncio.Event()
        _stop_on_signals(stopping)
        await serve_bot(svc, stopping)
    return 0


async def _bot(settings: Settings) -> int:
    if settings.telegram_token is None:
        raise ConfigError(
            "SHORTSCI_TELEGRAM_TOKEN is not set (for example "
            "SHORTSCI_TELEGRAM_TOKEN=123456:ABC-DEF); "
            "use `shortsci chat` to try the bot locally"
        )
    async with services(settings) as svc:
        stopping = asyncio.Event()
        _stop_on_signals(stopping)
        await serve_bot(svc, stopping)
    return 0


async def _chat(settings: Settings) -> int:
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
    async with services(settings) as svc, svc.db.sessions() as session:
        depth = await queue_depth(session)
    states = ("pending", "claimed", "posted", "review", "failed")
    print(f"{'channel':<10} {'enabled':<8}" + "".join(f"{state:>9}" for state in states))
    enabled = settings.enabled_channels()
    for channel in sorted(set(enabled) | set(depth)):
        counts = depth.get(channel, {})
        flag = "yes" if channel in enabled else "no"
        print(f"{channel:<10} {flag:<8}" + "".join(f"{counts.get(s, 0):>9}" for s in states))
    return 0


COMMANDS: dict[str, Callable[[Settings], Coroutine[Any, Any, int]]] = {
    "run": _run,
    "bot": _bot,
    "chat": _chat,
    "db upgrade": _db_upgrade,
    "status": _status,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="shortsci", description="ShortSci: short, human-written summaries of research papers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="the bot and the scheduled publisher in one process")
    commands.add_parser("bot", help="the Telegram bot alone")
    commands.add_parser("chat", help="chat with the bot in this terminal (local emulator)")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply every pending migration")
    commands.add_parser("status", help="publication queue depth per channel")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shortsci`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.secret_values())
        name = " ".join(filter(None, [args.command, getattr(args, "action", None)]))
        return asyncio.run(COMMANDS[name](settings))
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
