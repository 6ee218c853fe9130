"""What the reliability tests share: a bot with chosen settings, world-building, DB snapshots.

`bot_session` is `tests.bot.harness.running_bot` with the `Settings` given whole (so a test
can enable channels or list many moderators); `snapshot` reads every table a user's action
can change, so a test can assert that a refused action changed nothing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from bot.app import build_application, start_polling, stop
from bot.context import Services
from bot.emulator import BotApiEmulator
from bot.emulator.state import Message, User
from bot.ratelimit import Limit, RateLimiter
from config import Settings
from storage.catalog.arxiv_source import PaperData
from storage.catalog.service import Catalog
from storage.catalog.store import store_paper
from storage.db import Database
from storage.models import (
    ChannelState,
    Draft,
    Paper,
    Publication,
    Summary,
    Vote,
)
from storage.models import (
    User as UserRow,
)
from tests.bot.harness import BOT_USERNAME, MODERATOR_ID, TOKEN, Chat

#: Limits so generous that a test sending many updates as one user is never throttled.
UNLIMITED = {
    "update": Limit(10**9, 60.0),
    "lookup": Limit(10**9, 60.0),
    "submit": Limit(10**9, 3600.0),
}

#: Summary text long enough to be accepted (the minimum is 200 characters).
BODY = (
    "This paper shows that very deep networks train well when each block learns a residual "
    "on top of an identity shortcut. The shortcut keeps gradients flowing, so a 152-layer "
    "network beats shallower ones on ImageNet, and the idea carries over to detection."
)

_SUMMARY_LINK = re.compile(r"shortsci\.example\.org/s/(\d+)")


def text_of(messages: list[Message]) -> str:
    """What a user reads in these messages, one per line."""
    return "\n".join((m.text or "") for m in messages)


def settings_for(db: Database, *, admins: frozenset[int], **extra: Any) -> Settings:
    """Settings for a test bot over `db` (extra fields as `Settings` names them)."""
    return Settings(database_url=db.url, admins=admins, telegram_token=TOKEN, **extra)


@asynccontextmanager
async def bot_session(
    db: Database,
    catalog: Catalog,
    settings: Settings,
    *,
    limiter: RateLimiter | None = None,
    telegram_rate_limit: bool = True,
) -> AsyncIterator[Chat]:
    """The real bot polling an emulator, with `settings` (see `running_bot`).

    `telegram_rate_limit=False` leaves out python-telegram-bot's client-side limiter (30
    calls a second overall), for tests whose point is many users truly at once.
    """
    services = Services(settings=settings, db=db, catalog=catalog, limiter=limiter or RateLimiter())
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
        app = build_application(
            services,
            TOKEN,
            base_url=emu.base_url,
            base_file_url=emu.base_file_url,
            rate_limit=telegram_rate_limit,
        )
        async with app:
            await start_polling(app, poll_timeout=1)
            try:
                moderator = emu.add_user("Mo", "mo", user_id=MODERATOR_ID)
                emu.private_chat(moderator)
                yield Chat(emu, app, services, moderator)
            finally:
                await stop(app)
        assert emu.errors == [], f"Telegram would have refused: {emu.errors}"


_arxiv_numbers = itertools.count(1)


async def new_paper(db: Database, title: str, venue: str | None = None) -> tuple[Paper, str]:
    """A paper stored locally under a fresh arXiv-style id; returns it and the id."""
    arxiv_id = f"2401.{next(_arxiv_numbers):05d}"
    data = PaperData(title, ["A. Tester"], "arxiv", arxiv_id=arxiv_id, year=2024, venue=venue)
    async with db.transaction() as session:
        paper = await store_paper(session, data)
    return paper, arxiv_id


async def snapshot(db: Database, *, ignore_user: int | None = None) -> dict[str, Any]:
    """Every row a chat action can change, as plain values (users without their names)."""
    async with db.sessions() as session:
        summaries = (await session.scalars(select(Summary).order_by(Summary.id))).all()
        votes = (await session.scalars(select(Vote))).all()
        drafts = (await session.scalars(select(Draft))).all()
        publications = (await session.scalars(select(Publication).order_by(Publication.id))).all()
        channels = (await session.scalars(select(ChannelState))).all()
        users = (await session.scalars(select(UserRow).order_by(UserRow.id))).all()
    return {
        "summaries": [
            (s.id, s.author_id, s.status.value, s.body, s.score, s.reject_reason) for s in summaries
        ],
        "votes": sorted((v.summary_id, v.user_id, v.value) for v in votes),
        "drafts": sorted((d.user_id, d.kind.value, d.target_id, d.body) for d in drafts),
        "publications": [(p.id, p.state.value, p.attempts) for p in publications],
        "channels": sorted((c.channel, c.paused) for c in channels),
        "users": [(u.id, u.role.value, u.banned) for u in users if u.id != ignore_user],
    }


async def summaries_and_votes(db: Database) -> dict[str, Any]:
    """The two tables the fuzz test watches."""
    full = await snapshot(db)
    return {"summaries": full["summaries"], "votes": full["votes"]}


def summary_ids_in(body: bytes) -> list[int]:
    """The summary ids whose links appear in a request body (URL-encoded or not)."""
    from urllib.parse import unquote

    return [int(n) for n in _SUMMARY_LINK.findall(unquote(body.decode("utf-8", "replace")))]


def display(user: User) -> str:
    """A user as a test's failure message shows them."""
    return f"{user.first_name} ({user.id})"
