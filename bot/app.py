"""The Telegram application: the gate every update passes, the handlers, and start-up.

Wiring is declarative (`COMMANDS`, `BUTTONS`); handlers are small and live in
`bot.handlers.*`. The gate (group -1) records the user, refuses banned users and
over-eager ones, and loads `context.actor` for the handlers.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import callbacks
from bot.callbacks import Action, Callback
from bot.context import (
    BotContext,
    PerUserOrder,
    Services,
    answer,
    friendly,
    reply,
    tell,
    tell_moderators,
)
from bot.handlers import inline, moderation, papers, reading, submitting, votes
from bot.transport import AiohttpRequest
from storage.users import ensure_user

log = logging.getLogger(__name__)

Command = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
Button = Callable[[Update, BotContext, Callback], Coroutine[Any, Any, None]]

COMMANDS: list[tuple[str, Command, str]] = [
    ("start", reading.start, "What this bot does"),
    ("help", reading.help_command, "Every command"),
    ("paper", reading.paper_command, "A paper and its summaries"),
    ("search", reading.search_command, "Find papers by title or author"),
    ("latest", reading.latest_command, "The newest summaries"),
    ("submit", submitting.submit_command, "Write a summary of a paper"),
    ("done", submitting.done_command, "Preview and submit your draft"),
    ("cancel", submitting.cancel_command, "Drop your draft"),
    ("mine", submitting.mine_command, "Your summaries"),
    ("edit", submitting.edit_command, "Change one of your summaries"),
    ("delete", submitting.delete_command, "Delete one of your summaries"),
    ("queue", moderation.queue_command, "Summaries waiting for review (moderators)"),
    ("ban", moderation.ban_command, "Ban a user (moderators)"),
    ("unban", moderation.unban_command, "Lift a ban (moderators)"),
    ("status", moderation.status_command, "Publishing health (moderators)"),
    ("review", moderation.review_command, "Posts whose outcome is unknown (moderators)"),
    ("resume", moderation.resume_command, "Resume a paused channel (moderators)"),
    ("browse", papers.browse_command, "Summaries by venue and year"),
    ("addpaper", papers.addpaper_command, "Enter a paper by hand (moderators)"),
]

BUTTONS: dict[Action, Button] = {
    Action.VOTE: votes.on_vote,
    Action.PAGE: reading.on_reading_button,
    Action.LATEST: reading.on_reading_button,
    Action.OPEN_PAPER: reading.on_reading_button,
    Action.OPEN_SUMMARY: reading.on_reading_button,
    Action.SUBMIT: submitting.on_draft_button,
    Action.DRAFT_SUBMIT: submitting.on_draft_button,
    Action.DRAFT_EDIT: submitting.on_draft_button,
    Action.DRAFT_CANCEL: submitting.on_draft_button,
    Action.EDIT: submitting.on_draft_button,
    Action.DELETE: submitting.on_draft_button,
    Action.KEEP: submitting.on_draft_button,
    Action.APPROVE: moderation.on_moderation_button,
    Action.REJECT: moderation.on_moderation_button,
    Action.MARK_POSTED: moderation.on_review_button,
    Action.POST_AGAIN: moderation.on_review_button,
    Action.PICK: submitting.on_pick,
    Action.ADD_PAPER: papers.on_add_paper,
    Action.BROWSE: papers.on_browse_button,
    Action.VENUES: papers.on_browse_button,
}


async def gate(update: Update, context: BotContext) -> None:
    """Record the user, load them as the actor (see `bot.actors`), stop banned or flooding users."""
    sender = update.effective_user
    if sender is None or sender.is_bot:
        raise ApplicationHandlerStop
    services = context.services
    context.actor = services.actors.get(sender.id, sender.username, sender.full_name)
    if context.actor is None:
        async with services.db.transaction() as session:
            context.actor = await ensure_user(
                session,
                sender.id,
                username=sender.username,
                display_name=sender.full_name,
                admins=services.settings.admins,
            )
        services.actors.remember(context.actor, sender.username, sender.full_name)
    if context.actor.banned:
        if update.inline_query is not None:
            await update.inline_query.answer([], cache_time=60, is_personal=True)
        elif update.effective_chat is not None:
            await tell(update, context, "Sorry, you are banned from using ShortSci.")
        raise ApplicationHandlerStop
    wait = services.limiter.hit(sender.id, "update")
    if wait is not None:
        if update.callback_query is not None:
            await answer(update, context, f"Too fast: try again in {max(1, round(wait))} s.")
        elif update.effective_message is not None and update.inline_query is None:
            await tell(
                update,
                context,
                f"You are sending a lot at once; try again in {max(1, round(wait))} s.",
            )
        raise ApplicationHandlerStop


async def on_button(update: Update, context: BotContext) -> None:
    """Route a button press; forged or stale data changes nothing and gets a polite answer."""
    query = update.callback_query
    assert query is not None
    callback = callbacks.parse(query.data)
    if callback is None:
        await answer(update, context, "This button is no longer valid. Send /help to start again.")
        return
    handler = BUTTONS[callback.action]
    try:
        await friendly(handler)(update, context, callback)
    finally:
        await answer(update, context)


async def on_error(update: object, context: BotContext) -> None:
    """Log every unhandled error with context, and tell the user something went wrong."""
    user = (
        update.effective_user.id if isinstance(update, Update) and update.effective_user else None
    )
    log.error(
        "unhandled error for update %s from user %s",
        update.update_id if isinstance(update, Update) else "-",
        user,
        exc_info=context.error,
    )
    await _alert_moderators(context, type(context.error).__name__)
    if not isinstance(update, Update) or update.effective_chat is None or update.inline_query:
        return
    try:
        # The button, if any, was answered by on_button (this is a new context, so
        # context.answered cannot tell): say it in the chat.
        await reply(
            update,
            context,
            "Sorry, something went wrong on our side. Please try again in a moment.",
        )
    except Exception:  # the failure may be Telegram itself
        log.warning("could not tell user %s about the error", user, exc_info=True)


ALERT_INTERVAL = 300.0  # seconds: at most one error alert to the moderators this often


async def _alert_moderators(context: BotContext, error: str) -> None:
    """Tell the moderators an error happened (the log has the details), without flooding."""
    now = time.monotonic()
    last = context.bot_data.get("last_error_alert", -ALERT_INTERVAL)
    if now - last < ALERT_INTERVAL:
        return
    context.bot_data["last_error_alert"] = now
    await tell_moderators(
        context, f"⚠️ The bot hit an unexpected {html.escape(error)}; the log has the details."
    )


App = Application[Any, BotContext, Any, Any, Any, Any]


async def start_polling(
    application: App, *, poll_interval: float = 0.0, poll_timeout: int = 10
) -> None:
    """Start an initialized application: handlers, the command menu, then long polling."""
    await application.start()
    await application.bot.set_my_commands(
        [BotCommand(name, description) for name, _, description in COMMANDS]
    )
    assert application.updater is not None
    await application.updater.start_polling(
        poll_interval=poll_interval, timeout=poll_timeout, drop_pending_updates=False
    )


async def stop(application: App) -> None:
    """Stop polling (or the webhook) and the handlers; the caller then shuts it down."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()


def build_application(
    services: Services,
    token: str,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    rate_limit: bool = True,
) -> App:
    """The bot, wired, not started. `base_url` points it at another Bot API server."""
    builder = (
        ApplicationBuilder()
        .token(token)
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(PerUserOrder(64))
        .request(AiohttpRequest(pool_size=64, secret=token))
        .get_updates_request(AiohttpRequest(pool_size=1, secret=token))
    )
    if base_url:
        builder = builder.base_url(base_url)
    if base_file_url:
        builder = builder.base_file_url(base_file_url)
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application = builder.build()
    application.bot_data["services"] = services
    application.add_handler(TypeHandler(Update, gate), group=-1)
    for name, handler, _ in COMMANDS:
        application.add_handler(CommandHandler(name, handler))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(InlineQueryHandler(inline.on_inline_query))
    application.add_handler(MessageHandler(filters.Document.ALL, submitting.on_document))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, submitting.on_text))
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_error_handler(on_error)
    return application


async def unknown_command(update: Update, context: BotContext) -> None:
    """An unknown /command gets a pointer to /help."""
    await reply(update, context, "I don't know that command. /help lists what I can do.")
