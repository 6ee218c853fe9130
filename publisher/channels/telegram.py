"""A Telegram channel: the bot posts the rendered summary (HTML, one message of 4096).

| what happened | error |
|---|---|
| flood control (429 with retry_after) | `RetryLater` at that time |
| the request failed before it was sent (connect error) | `RetryLater` |
| timed out or the answer was lost | `UnknownOutcome` |
| token revoked, bot removed from the channel (401/403) | `Reauthenticate` |
| 400 (bad HTML, chat not found, too long) | `BadContent` |

The Bot API cannot list a channel's posts, so `find_existing` cannot tell; an unknown
outcome here always goes to a moderator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import ClassVar

import httpx
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from markup import TELEGRAM_MESSAGE_LIMIT, utf16_length
from publisher.channels._common import Clock, utc_now
from publisher.channels.base import (
    BadContent,
    Limits,
    Post,
    Published,
    Reauthenticate,
    RetryLater,
    UnknownOutcome,
)

log = logging.getLogger(__name__)


def post_url(chat: str, message_id: int) -> str | None:
    """The public link of a channel post (public channels by name, private by id)."""
    if chat.startswith("@"):
        return f"https://t.me/{chat[1:]}/{message_id}"
    if chat.startswith("-100"):
        return f"https://t.me/c/{chat[4:]}/{message_id}"
    return None


@contextmanager
def _mapped_errors(clock: Clock) -> Iterator[None]:
    """Turn python-telegram-bot's errors into the channel contract's."""
    try:
        yield
    except RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise RetryLater("Telegram flood control", clock() + timedelta(seconds=seconds)) from None
    except (InvalidToken, Forbidden) as exc:
        raise Reauthenticate(f"Telegram refused the bot: {exc.message}") from None
    except BadRequest as exc:
        if "message is not modified" in exc.message.lower():
            return  # an edit that changes nothing is done already
        raise BadContent(f"Telegram refused the post: {exc.message}") from None
    except TimedOut:
        raise UnknownOutcome("Telegram timed out") from None
    except NetworkError as exc:
        if isinstance(exc.__cause__, httpx.ConnectError):
            raise RetryLater("cannot reach Telegram") from None
        raise UnknownOutcome(f"Telegram network error: {type(exc.__cause__).__name__}") from None


class TelegramChannel:
    """Posts to a Telegram channel through the bot (the bot must be an admin there)."""

    name: ClassVar[str] = "telegram"

    def __init__(self, bot: Bot, chat: str, *, clock: Clock = utc_now) -> None:
        self.bot = bot
        self.chat = chat
        self.clock = clock
        self.limits = Limits(TELEGRAM_MESSAGE_LIMIT, utf16_length)

    async def publish(self, post: Post) -> Published:
        """Send the post's HTML to the channel."""
        with _mapped_errors(self.clock):
            message = await self.bot.send_message(
                self.chat,
                post.html or post.text,
                parse_mode=ParseMode.HTML if post.html else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        log.info("telegram: publication %s posted as %s", post.publication_id, message.message_id)
        return Published(str(message.message_id), post_url(self.chat, message.message_id))

    async def update(self, post: Post, external_id: str) -> Published:
        """Edit the channel post in place."""
        with _mapped_errors(self.clock):
            await self.bot.edit_message_text(
                post.html or post.text,
                chat_id=self.chat,
                message_id=int(external_id),
                parse_mode=ParseMode.HTML if post.html else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        return Published(external_id, post_url(self.chat, int(external_id)))

    async def withdraw(self, post: Post, external_id: str) -> None:
        """Delete the channel post."""
        with _mapped_errors(self.clock):
            await self.bot.delete_message(self.chat, int(external_id))

    async def find_existing(self, post: Post) -> Published | None:
        """The Bot API cannot read a channel's history: a person has to look."""
        raise UnknownOutcome("the Bot API cannot list a channel's posts")

    async def aclose(self) -> None:
        """The bot is shared and closed by its owner."""
