"""Votes: 👍 / 👎 under each summary; one per user, changeable, never on one's own."""

from __future__ import annotations

from telegram import Message, Update
from telegram.error import BadRequest

from bot import render
from bot.callbacks import Callback
from bot.context import BotContext, already_shows, answer, shown_content
from storage.summaries import vote

ANSWERS = {1: "👍 Thanks for your vote", -1: "👎 Noted", 0: "Vote withdrawn"}


async def on_vote(update: Update, context: BotContext, callback: Callback) -> None:
    """Record the vote, answer, and show the new score on the button."""
    async with context.services.db.transaction() as session:
        result = await vote(session, context.user, callback.arg, callback.extra)
    await answer(update, context, ANSWERS[result.my_vote])
    query = update.callback_query
    assert query is not None
    if not isinstance(query.message, Message):
        return  # too old for Telegram to say what it shows
    text, keyboard = shown_content(context, query.message)
    rescored = (
        render.rescored(keyboard, callback.arg, result.score) if keyboard is not None else None
    )
    if rescored is None or already_shows(context, query.message, (text, rescored)):
        return  # no buttons of this summary there, or they already show this score
    try:
        await query.edit_message_reply_markup(rescored)
    except BadRequest as exc:  # another bot process showed this score meanwhile
        if "not modified" not in exc.message.lower():
            raise
