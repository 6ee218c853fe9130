"""The ``shortsci`` command: the composition root that wires settings, storage and adapters."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from config import ConfigError, Settings, configure_logging, load_settings
from storage.db import Database, DatabaseError
from storage.publications import queue_depth

log = logging.getLogger("shortsci")


async def _db_upgrade(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        print(f"Database is at revision {await db.current_revision()}.")
    finally:
        await db.dispose()
    return 0


async def _status(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        async with db.sessions() as session:
            depth = await queue_depth(session)
    finally:
        await db.dispose()
    states = ("pending", "claimed", "posted", "review", "failed")
    print(f"{'channel':<10} {'enabled':<8}" + "".join(f"{state:>9}" for state in states))
    enabled = settings.enabled_channels()
    for channel in sorted(set(enabled) | set(depth)):
        counts = depth.get(channel, {})
        flag = "yes" if channel in enabled else "no"
        print(f"{channel:<10} {flag:<8}" + "".join(f"{counts.get(s, 0):>9}" for s in states))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="shortsci", description="ShortSci: short, human-written summaries of research papers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply every pending migration")
    commands.add_parser("status", help="publication queue depth per channel")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shortsci`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secret_values())
    handlers = {("db", "upgrade"): _db_upgrade, ("status", None): _status}
    handler = handlers[(args.command, getattr(args, "db_command", None))]
    try:
        return asyncio.run(handler(settings))
    except (DatabaseError, OSError) as exc:
        print(f"shortsci: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
