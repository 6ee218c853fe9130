"""Telling the moderators: a direct Telegram message to each one in ``SHORTSCI_ADMINS``."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from telegram import Bot
from telegram.error import TelegramError

log = logging.getLogger(__name__)


class TelegramNotifier:
    """Sends plain text to every moderator; a failure for one is logged, the rest still get it."""

    def __init__(self, bot: Bot, moderators: Iterable[int]) -> None:
        self.bot = bot
        self.moderators = sorted(moderators)

    async def __call__(self, text: str) -> None:
        """Deliver `text` to each moderator."""
        if not self.moderators:
            log.warning("no moderators configured (SHORTSCI_ADMINS) to tell: %s", text)
        for moderator in self.moderators:
            try:
                await self.bot.send_message(moderator, text)
            except TelegramError as exc:
                log.warning("could not tell moderator %s: %s", moderator, exc)
