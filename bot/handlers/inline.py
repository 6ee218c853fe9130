"""Inline mode: ``@bot words`` in any chat offers papers that have summaries."""

from __future__ import annotations

from html import escape

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode

from bot import render
from bot.context import NO_PREVIEW, BotContext
from storage.catalog.store import search_papers
from storage.ids import parse_id
from storage.models import Paper
from storage.summaries import latest_summaries, summary_counts

PAGE = 20
MAX_OFFSET = 1000


def _article(paper: Paper, count: int, bot_username: str) -> InlineQueryResultArticle:
    link = render.deep_link(bot_username, f"p_{paper.id}")
    noun = "summary" if count == 1 else "summaries"
    card = render.paper_card(paper, count)
    text = f'{card}\n\n<a href="{escape(link)}">Read the {noun} on ShortSci</a>'
    return InlineQueryResultArticle(
        id=f"p{paper.id}",
        title=paper.title[:200],
        description=f"{count} {noun} · {render.authors_line(paper.authors)}"[:200],
        input_message_content=InputTextMessageContent(
            text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
        ),
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(f"📝 Read the {noun}", url=link)]]
        ),
    )


async def on_inline_query(update: Update, context: BotContext) -> None:
    """Answers with up to 20 summarized papers per page, paged by ``next_offset``."""
    query = update.inline_query
    if query is None:
        return
    if context.services.limiter.hit(context.user.id, "lookup") is not None:
        await query.answer([], cache_time=5, is_personal=True)
        return
    offset = min(parse_id(query.offset) or 0, MAX_OFFSET)
    words = query.query.strip()
    async with context.services.db.sessions() as session:
        if words:
            papers = await search_papers(
                session, words, limit=PAGE, offset=offset, with_summaries=True
            )
        else:
            recent = await latest_summaries(session, limit=PAGE * 2, offset=offset)
            papers = list({s.paper_id: s.paper for s in recent}.values())[:PAGE]
        counts = await summary_counts(session, [p.id for p in papers])
    username = context.bot.username
    results = [_article(paper, counts.get(paper.id, 0), username) for paper in papers]
    next_offset = str(offset + PAGE) if len(papers) == PAGE and words else ""
    await query.answer(results, next_offset=next_offset, cache_time=30, is_personal=False)
