"""Moderation: /queue with Approve / Reject, reasons, telling authors, /ban and /unban.

Every action checks the presser's role in storage; a button alone grants nothing.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import render
from bot.callbacks import Action, Callback, button_data
from bot.context import (
    BotContext,
    answer,
    friendly,
    remove_keyboard,
    reply,
    require_moderator,
    send_to,
    tell_moderators,
)
from storage.channels import (
    channel_reports,
    format_reports,
    publications_needing_review,
    resume_channel,
    settle_publication,
)
from storage.drafts import drop_draft, start_draft
from storage.models import Draft, DraftKind
from storage.summaries import (
    approve_summary,
    get_summary,
    pending_summaries,
    reject_summary,
)
from storage.users import find_user, set_banned

log = logging.getLogger(__name__)
QUEUE_PAGE = 5


def _decision_keyboard(summary_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "✅ Approve", callback_data=button_data(Action.APPROVE, summary_id)
                ),
                InlineKeyboardButton(
                    "❌ Reject", callback_data=button_data(Action.REJECT, summary_id)
                ),
            ]
        ]
    )


async def notify_moderators(context: BotContext, summary_id: int) -> None:
    """Tell each moderator a summary waits for review."""
    await tell_moderators(context, f"📥 Summary #{summary_id} waits for review. See /queue.")


@friendly
async def queue_command(update: Update, context: BotContext) -> None:
    """Shows the summaries waiting for review, each with Approve / Reject."""
    require_moderator(context)
    async with context.services.db.sessions() as session:
        waiting = await pending_summaries(session, limit=QUEUE_PAGE)
    if not waiting:
        await reply(update, context, "Nothing waits for review. 🎉")
        return
    for summary in waiting:
        chunks = render.summary_chunks(summary, with_paper=True)
        for chunk in chunks[:-1]:
            await reply(update, context, chunk)
        await reply(update, context, chunks[-1], _decision_keyboard(summary.id))


async def on_moderation_button(update: Update, context: BotContext, callback: Callback) -> None:
    """Approve or Reject under a queued summary."""
    require_moderator(context)
    summary_id = callback.arg
    query = update.callback_query
    assert query is not None
    if callback.action is Action.APPROVE:
        async with context.services.db.transaction() as session:
            summary = await approve_summary(
                session, context.user, summary_id, channels=context.services.channels
            )
            author_id, title = (
                summary.author_id,
                (await get_summary(session, summary_id)).paper.title,
            )
        await answer(update, context, "Approved")
        await remove_keyboard(update, context)
        await reply(
            update, context, f"✅ Summary #{summary_id} is approved and queued for publishing."
        )
        await send_to(
            context,
            author_id,
            f"✅ Your summary #{summary_id} of <b>{escape(title)}</b> is approved and "
            "published. Thank you!",
        )
        return
    async with context.services.db.transaction() as session:
        await get_summary(session, summary_id)
        await start_draft(session, context.user, DraftKind.REJECT_REASON, target_id=summary_id)
    await answer(update, context)
    await reply(
        update,
        context,
        f"Why is summary #{summary_id} rejected? Send the reason (the author will read it), "
        "or /cancel.",
    )


async def finish_reject(update: Update, context: BotContext, draft: Draft, reason: str) -> None:
    """The moderator's reason arrived: reject and tell the author."""
    require_moderator(context)
    assert draft.target_id is not None
    async with context.services.db.transaction() as session:
        summary = await reject_summary(session, context.user, draft.target_id, reason)
        await drop_draft(session, context.user.id)
        summary = await get_summary(session, summary.id)
        author_id, title, why = summary.author_id, summary.paper.title, summary.reject_reason or ""
    await reply(update, context, f"❌ Summary #{summary.id} is rejected; the author is told why.")
    await send_to(
        context,
        author_id,
        f"❌ Your summary #{summary.id} of <b>{escape(title)}</b> was not approved.\n"
        f"Reason: {escape(why)}\n"
        f"You can change it with /edit {summary.id}; it then goes back to review.",
    )


async def _ban(update: Update, context: BotContext, banned: bool) -> None:
    require_moderator(context)
    handle = (context.args or [""])[0]
    if not handle:
        await reply(
            update,
            context,
            f"Whom? For example: /{'ban' if banned else 'unban'} @username or a user id.",
        )
        return
    async with context.services.db.transaction() as session:
        target = await find_user(session, handle)
        if target is None:
            await reply(
                update, context, "I don't know that user; they must have written to me first."
            )
            return
        await set_banned(session, context.user, target.id, banned)
    context.services.actors.forget(target.id)
    verb = "banned" if banned else "unbanned"
    await reply(update, context, f"{escape(render.author_name(target))} is {verb}.")


@friendly
async def ban_command(update: Update, context: BotContext) -> None:
    """Bans a user (moderators)."""
    await _ban(update, context, True)


@friendly
async def unban_command(update: Update, context: BotContext) -> None:
    """Lifts a ban (moderators)."""
    await _ban(update, context, False)


@friendly
async def status_command(update: Update, context: BotContext) -> None:
    """Per channel: queue depth, last success and error, paused, next run (moderators)."""
    require_moderator(context)
    async with context.services.db.sessions() as session:
        reports = await channel_reports(session, context.services.channels)
    await reply(update, context, f"<b>Publishing</b>\n<pre>{escape(format_reports(reports))}</pre>")


@friendly
async def review_command(update: Update, context: BotContext) -> None:
    """Publications whose outcome is unknown or that failed, each with one-tap decisions."""
    require_moderator(context)
    async with context.services.db.sessions() as session:
        waiting = await publications_needing_review(session)
    if not waiting:
        await reply(update, context, "No publication needs a decision. ✅")
        return
    for publication in waiting[:QUEUE_PAGE]:
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "✅ It is posted",
                        callback_data=button_data(Action.MARK_POSTED, publication.id),
                    ),
                    InlineKeyboardButton(
                        "🔁 Post again",
                        callback_data=button_data(Action.POST_AGAIN, publication.id),
                    ),
                ]
            ]
        )
        title = escape(publication.summary.paper.title)
        text = (
            f"<b>{escape(publication.channel)}</b> · publication #{publication.id} · "
            f"{escape(publication.state.value)}\n"
            f"Summary #{publication.summary_id} of <i>{title}</i>\n"
            f"{escape(publication.last_error or '')}"
        )
        await reply(update, context, text, keyboard)


async def on_review_button(update: Update, context: BotContext, callback: Callback) -> None:
    """Settle a publication: it was posted, or post it again."""
    require_moderator(context)
    posted = callback.action is Action.MARK_POSTED
    async with context.services.db.transaction() as session:
        await settle_publication(session, context.user, callback.arg, posted=posted)
    await answer(update, context, "Marked as posted" if posted else "It will be posted again")
    query = update.callback_query
    if query is not None:
        await remove_keyboard(update, context)


@friendly
async def resume_command(update: Update, context: BotContext) -> None:
    """Resume a paused channel once its credentials are renewed (moderators)."""
    require_moderator(context)
    channel = (context.args or [""])[0].lower()
    if channel not in context.services.channels:
        names = ", ".join(context.services.channels)
        await reply(update, context, f"Which channel? One of: {escape(names)}.")
        return
    async with context.services.db.transaction() as session:
        await resume_channel(session, context.user, channel)
    await reply(update, context, f"{escape(channel)} is running again.")
