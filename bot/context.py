"""What every handler has at hand: the services, the acting user, and a way to reply.

`BotContext` is python-telegram-bot's per-update context with two additions: `services`
(settings, database, catalog, limits, remembered senders) and `actor` (the `User` row of
whoever sent the update, loaded once by the gate in `bot.app`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import wraps
from html import escape
from typing import Any, Concatenate, ParamSpec

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, BaseUpdateProcessor, CallbackContext, ExtBot

from bot.actors import Actors
from bot.ratelimit import RateLimiter
from config import Settings
from markup.split import telegram_text
from storage.catalog.arxiv_source import SourceUnavailable
from storage.catalog.refs import MalformedReference
from storage.catalog.service import Catalog
from storage.db import Database
from storage.errors import PermissionDenied, StorageError
from storage.models import User
from storage.users import is_moderator

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
REMEMBERED_MESSAGES = 1000


@dataclass
class Services:
    """The bot's dependencies, built once by the composition root."""

    settings: Settings
    db: Database
    catalog: Catalog
    limiter: RateLimiter = field(default_factory=RateLimiter)
    actors: Actors = field(default_factory=Actors)

    @property
    def moderated(self) -> bool:
        """Whether summaries wait for a moderator (``SHORTSCI_ADMINS`` is set)."""
        return bool(self.settings.admins)

    @property
    def channels(self) -> tuple[str, ...]:
        """The publishing channels an approval enqueues."""
        return self.settings.enabled_channels()


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The handler context, with `services` and the acting `actor`."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id, user_id)
        self.actor: User | None = None
        self.answered = False

    @property
    def services(self) -> Services:
        """The services stored in ``bot_data`` at start."""
        services: Services = self.bot_data["services"]
        return services

    @property
    def user(self) -> User:
        """The acting user (the gate loads it before any handler runs)."""
        if self.actor is None:
            raise RuntimeError("no acting user for this update")
        return self.actor


class PerUserOrder(BaseUpdateProcessor):
    """Updates run concurrently, but one user's updates run in the order they were sent.

    So a slow arXiv answer for one person never stalls another, and the parts of a
    summary sent in a row are added to the draft in order.
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self.active = 0  # updates being handled or waiting for their user's turn

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers after that user's earlier updates."""
        self.active += 1
        try:
            user = update.effective_user if isinstance(update, Update) else None
            if user is None:
                await coroutine
                return
            lock = self._locks.get(user.id)
            if lock is None:
                lock = asyncio.Lock()
                self._locks[user.id] = lock
            async with lock:
                await coroutine
        finally:
            self.active -= 1

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _shown(context: BotContext) -> OrderedDict[tuple[int, int], tuple[str | None, Any]]:
    """This bot's last edit of each recent message: (text as shown, keyboard)."""
    shown: OrderedDict[tuple[int, int], tuple[str | None, Any]]
    shown = context.bot_data.setdefault("shown", OrderedDict())
    return shown


def already_shows(context: BotContext, message: Message, content: tuple[str | None, Any]) -> bool:
    """Whether `message` shows `content` already; if not, remember that it now will.

    `content` is the message's (text as Telegram shows it, keyboard). Telegram refuses an
    edit that changes nothing ("message is not modified"). A double tap sends two presses
    that both carry the message as it was before the first edit, so only memory of our own
    last edit can tell the second one to do nothing; a message this bot has not edited
    lately shows what the update carries. One user's updates run in order
    (`PerUserOrder`), so the first press has recorded its edit by then.
    """
    if shown_content(context, message) == content:
        return True
    shown = _shown(context)
    key = (message.chat.id, message.message_id)
    shown[key] = content
    shown.move_to_end(key)
    while len(shown) > REMEMBERED_MESSAGES:
        shown.popitem(last=False)
    return False


def shown_content(context: BotContext, message: Message) -> tuple[str | None, Any]:
    """What `message` shows: as this bot last edited it, else as the update carries it.

    A press queued behind another edit of the same message carries the message as it was.
    """
    return _shown(context).get((message.chat.id, message.message_id)) or (
        message.text,
        message.reply_markup,
    )


async def remove_keyboard(update: Update, context: BotContext) -> None:
    """Take the buttons off the pressed message, once (a double tap finds them gone)."""
    query = update.callback_query
    message = query.message if query is not None else None
    if query is None or not isinstance(message, Message) or message.reply_markup is None:
        return
    if already_shows(context, message, (shown_content(context, message)[0], None)):
        return
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


async def edit_or_reply(
    update: Update, context: BotContext, html: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    """Show `html` in place of the pressed message; a new message if that one cannot change."""
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        if already_shows(context, query.message, (telegram_text(html), keyboard)):
            return
        try:
            await query.edit_message_text(
                html,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                link_preview_options=NO_PREVIEW,
            )
            return
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return  # it already showed this (say, before a restart)
            log.info("could not edit message %s, sending anew: %s", query.message.id, exc.message)
    await reply(update, context, html, keyboard)


async def send_to(
    context: BotContext, chat_id: int, html: str, keyboard: InlineKeyboardMarkup | None = None
) -> None:
    """Message someone other than the current chat; a failure is logged, never fatal."""
    try:
        await context.bot.send_message(
            chat_id,
            html,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            link_preview_options=NO_PREVIEW,
        )
    except TelegramError as exc:  # never opened the bot, blocked it, or Telegram is down
        log.warning("could not message user %s: %s", chat_id, exc)


async def tell_moderators(context: BotContext, html: str) -> None:
    """Send `html` to every moderator in ``SHORTSCI_ADMINS``."""
    for moderator in sorted(context.services.settings.admins):
        await send_to(context, moderator, html)


def require_moderator(context: BotContext) -> None:
    """Refuse anyone but a moderator (the storage operations check again)."""
    if not is_moderator(context.user):
        raise PermissionDenied("This is for moderators only.")


async def reply(
    update: Update,
    context: BotContext,
    html: str,
    keyboard: InlineKeyboardMarkup | None = None,
) -> Message:
    """Send an HTML message to the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        raise RuntimeError("update has no chat to reply to")
    return await context.bot.send_message(
        chat.id,
        html,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
        link_preview_options=NO_PREVIEW,
    )


P = ParamSpec("P")


def friendly(
    handler: Callable[Concatenate[Update, BotContext, P], Awaitable[None]],
) -> Callable[Concatenate[Update, BotContext, P], Coroutine[Any, Any, None]]:
    """Turn the refusals users can cause into a plain reply (or a callback answer)."""

    @wraps(handler)
    async def wrapper(
        update: Update, context: BotContext, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        try:
            await handler(update, context, *args, **kwargs)
        except (StorageError, MalformedReference, SourceUnavailable) as exc:
            actor = context.actor.id if context.actor else None
            log.info("refused %s for user %s: %s", handler.__name__, actor, type(exc).__name__)
            await tell(update, context, str(exc))

    return wrapper  # type: ignore[return-value]  # mypy cannot see through functools.wraps


async def answer(update: Update, context: BotContext, text: str | None = None) -> bool:
    """Answer the button press once (Telegram wants exactly one answer); False if done before."""
    query = update.callback_query
    if query is None or context.answered:
        return False
    context.answered = True
    try:
        await query.answer(text[:200] if text else None, show_alert=bool(text and len(text) > 60))
    except BadRequest as exc:  # pressed over 15 s ago (the bot was busy or down): too late
        if "query is too old" not in exc.message.lower():
            raise
        log.info("button of user %s answered too late: %s", query.from_user.id, exc.message)
        return False
    return True


async def tell(update: Update, context: BotContext, text: str) -> None:
    """A short plain-text answer: as the button's answer if still possible, else a message."""
    if not await answer(update, context, text):
        await reply(update, context, escape(text))
