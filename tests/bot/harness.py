"""Drive the real ShortSci bot through the Bot API emulator, as its users would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application

from bot.app import build_application, start_polling, stop
from bot.context import PerUserOrder, Services
from bot.emulator import BotApiEmulator
from bot.emulator.state import Message, User
from bot.ratelimit import RateLimiter
from config import Settings
from storage.catalog.service import Catalog
from storage.db import Database

TOKEN = "5555555555:AAF_shortsci-test-token-abcdefghijk"
BOT_USERNAME = "shortsci_test_bot"
MODERATOR_ID = 900


@dataclass
class Chat:
    """The bot under test, the emulator it talks to, and helpers to talk and wait."""

    emu: BotApiEmulator
    app: Application[Any, Any, Any, Any, Any, Any]
    services: Services
    mod: User  # a moderator (in SHORTSCI_ADMINS) who has opened a chat with the bot

    @property
    def _processor(self) -> PerUserOrder:
        processor = self.app.update_processor
        assert isinstance(processor, PerUserOrder)
        return processor

    async def settle(self) -> None:
        """Wait until every update sent so far is fetched and fully handled."""
        await self.emu.wait_for_delivery()
        quiet = 0
        while quiet < 3:  # idle on three checks in a row, a loop turn apart
            await asyncio.sleep(0.005)
            busy = self._processor.active or not self.app.update_queue.empty()
            quiet = 0 if busy else quiet + 1

    def seen(self, user: User) -> list[Message]:
        """Everything the bot has sent to this user's private chat."""
        return self.emu.messages(user)

    async def say(self, user: User, text: str) -> list[Message]:
        """Send a message and return the bot's new messages in reply."""
        before = len(self.emu.messages(user)) if self._has_chat(user) else 0
        self.emu.send_text(user, text)
        await self.settle()
        return self.emu.messages(user)[before:]

    async def upload(self, user: User, filename: str, content: bytes) -> list[Message]:
        """Send a document and return the bot's new messages."""
        before = len(self.emu.messages(user)) if self._has_chat(user) else 0
        self.emu.send_document(user, filename, content, "text/markdown")
        await self.settle()
        return self.emu.messages(user)[before:]

    async def press(
        self, user: User, message: Message, label: str
    ) -> tuple[str | None, list[Message]]:
        """Press the button whose text contains `label`; returns the answer and new messages."""
        data = next(
            b.callback_data
            for row in message.buttons
            for b in row
            if label in b.text and b.callback_data
        )
        return await self.press_data(user, message, data)

    async def press_data(
        self, user: User, message: Message, data: str, *, forge: bool = False
    ) -> tuple[str | None, list[Message]]:
        """Press a button by its callback data (forged data allowed with `forge`)."""
        before = len(self.emu.messages(user)) if self._has_chat(user) else 0
        query_id = self.emu.press_button(user, message, data, forge=forge)
        answer = await self.emu.wait_for_callback_answer(query_id)
        await self.settle()
        return answer.text, self.emu.messages(user)[before:]

    def _has_chat(self, user: User) -> bool:
        try:
            self.emu.messages(user)
        except (KeyError, LookupError, ValueError):
            return False
        return True


@asynccontextmanager
async def running_bot(
    db: Database,
    catalog: Catalog,
    *,
    admins: frozenset[int] = frozenset({MODERATOR_ID}),
    limiter: RateLimiter | None = None,
) -> AsyncIterator[Chat]:
    """The real bot, polling an emulator, over the test database and fake arXiv."""
    settings = Settings(database_url=db.url, admins=admins, telegram_token=TOKEN)
    services = Services(settings=settings, db=db, catalog=catalog, limiter=limiter or RateLimiter())
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
        app = build_application(
            services, TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url
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
