"""Reading: /start and deep links, /help, /paper, /search, /latest, links in messages."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardMarkup, Update

from bot import render
from bot.callbacks import Action, Callback
from bot.context import BotContext, answer, edit_or_reply, friendly, reply, tell
from bot.handlers import papers as papers_module
from storage.catalog.refs import PaperRef, RefKind, parse_reference
from storage.catalog.service import Catalog
from storage.catalog.store import find_page
from storage.db import Database
from storage.errors import NotFound
from storage.ids import parse_id
from storage.models import Paper, Summary
from storage.summaries import (
    PaperPage,
    get_summary,
    latest_summaries,
    read_page,
    summary_counts,
)

LATEST_PAGE = 5
HELP = """<b>ShortSci</b>: short, human-written summaries of research papers.

<b>Read</b>
/paper &lt;ref&gt; a paper and its summaries (arXiv id or link, DOI, or title words)
/search &lt;words&gt; find papers by title or author
/latest the newest summaries
You can also just send me an arXiv or DOI link.

<b>Write</b>
/submit &lt;ref&gt; write a summary (Markdown, LaTeX in $…$), then /done
/cancel drop your draft
/mine your summaries · /edit &lt;id&gt; · /delete &lt;id&gt;

<b>Browse</b>
/browse summaries by venue and year"""
MODERATOR_HELP = """

<b>Moderate</b>
/queue summaries waiting for review · /ban &lt;user&gt; · /unban &lt;user&gt;
/status publishing health · /review posts to settle · /resume &lt;channel&gt;
/addpaper enter a paper no service knows"""


async def start(update: Update, context: BotContext) -> None:
    """Greets, or opens the paper or summary a deep link names."""
    payload = context.args[0] if context.args else ""
    kind, _, number = payload.partition("_")
    target = parse_id(number)
    if kind in ("p", "s") and target is not None:
        if kind == "p":
            await open_paper(update, context, target)
        else:
            await open_summary(update, context, target)
        return
    await help_command(update, context)


async def help_command(update: Update, context: BotContext) -> None:
    """Lists what the bot can do (moderators see their commands too)."""
    moderator = context.user.id in context.services.settings.admins
    await reply(update, context, HELP + (MODERATOR_HELP if moderator else ""))


async def wait_if_limited(update: Update, context: BotContext, kind: str) -> bool:
    """Count a `kind` action; if over the user's limit, say when to come back."""
    wait = context.services.limiter.hit(context.user.id, kind)
    if wait is None:
        return False
    await tell(update, context, f"Slow down a little: try again in {max(1, round(wait))} s.")
    return True


@friendly
async def paper_command(update: Update, context: BotContext) -> None:
    """Shows the paper a reference names, or the papers its title words match."""
    text = " ".join(context.args or [])
    if not text:
        await reply(
            update,
            context,
            "Which paper? For example: /paper 1512.03385 or /paper deep residual learning",
        )
        return
    await lookup(update, context, text)


@friendly
async def search_command(update: Update, context: BotContext) -> None:
    """Lists papers whose title or authors match the words."""
    words = " ".join(context.args or [])
    if not words:
        await reply(update, context, "Search for what? For example: /search generative adversarial")
        return
    if await wait_if_limited(update, context, "lookup"):
        return
    papers = await context.services.catalog.search(words, limit=10)
    if papers or not await papers_module.offer_candidates(
        update, context, words, then_submit=False
    ):
        await show_choices(update, context, papers, words)


async def lookup(update: Update, context: BotContext, text: str) -> None:
    """Resolve a reference and show the paper, or the choices for title words."""
    ref = parse_reference(text)
    if ref.kind is not RefKind.TITLE:
        await lookup_ref(update, context, ref)
        return
    if await wait_if_limited(update, context, "lookup"):
        return
    papers = await context.services.catalog.search(ref.value, limit=10)
    if len(papers) == 1:
        await open_paper(update, context, papers[0].id)
    elif papers or not await papers_module.offer_candidates(
        update, context, ref.value, then_submit=False
    ):
        await show_choices(update, context, papers, text)


async def lookup_ref(update: Update, context: BotContext, ref: PaperRef) -> None:
    """Show the paper an identifier found in a message names."""
    if await wait_if_limited(update, context, "lookup"):
        return
    view = await paper_message(context.services.db, context.services.catalog, ref)
    if view is None:
        await reply(update, context, not_found_text(ref.versioned_id, ref.kind))
        return
    await reply(update, context, *view)


def echo(text: str, limit: int = 80) -> str:
    """What the user sent, shortened to quote back (escaped by the caller)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def not_found_text(what: str, kind: RefKind = RefKind.TITLE) -> str:
    """What to say when no paper matches (arXiv answers an empty page when busy, too)."""
    what = echo(what)
    if kind is RefKind.ARXIV:
        return (
            f"arXiv has no paper <code>{escape(what)}</code>, or did not answer in time. "
            "Check the id, or try again in a moment."
        )
    return (
        f"I could not find a paper for <code>{escape(what)}</code>. Check the id or link, "
        "or try /search with words from the title."
    )


async def show_choices(update: Update, context: BotContext, papers: list[Paper], what: str) -> None:
    """Numbered papers to pick from (or a not-found note)."""
    if not papers:
        await reply(update, context, not_found_text(what))
        return
    async with context.services.db.sessions() as session:
        counts = await summary_counts(session, [p.id for p in papers])
    text, keyboard = render.paper_list(papers, counts)
    await reply(
        update, context, f"Papers matching <i>{escape(echo(what))}</i>:\n\n{text}", keyboard
    )


View = tuple[str, InlineKeyboardMarkup]


def page_view(page: PaperPage | None, index: int = 0) -> View | None:
    """The message showing a paper page; None past the last summary (or without a paper)."""
    if page is None or (page.summary is None and index > 0):
        return None
    return render.paper_view(page.paper, page.total, page.summary, index)


async def paper_message(db: Database, catalog: Catalog, ref: PaperRef) -> View | None:
    """The message for the paper `ref` names; None if no source knows it.

    A stored paper comes with its best summary in one query; only a paper fetched from
    arXiv or Crossref takes a second (no connection is held while they answer).
    """
    async with db.sessions() as session:
        page = await find_page(session, ref)
    if page is not None:
        return page_view(page)
    paper = await catalog.resolve(ref)
    return None if paper is None else await paper_view_by_id(db, paper.id)


async def paper_view_by_id(db: Database, paper_id: int, index: int = 0) -> View | None:
    """The message showing the paper with id `paper_id` and its `index`-th best summary."""
    async with db.sessions() as session:
        return page_view(await read_page(session, "id", paper_id, index), index)


async def turn_page(update: Update, context: BotContext, paper_id: int, index: int) -> None:
    """Show another of the paper's summaries in the pressed message."""
    view = await paper_view_by_id(context.services.db, paper_id, index)
    if view is None:
        await tell(update, context, "There are no more summaries of this paper.")
        return
    await answer(update, context)
    await edit_or_reply(update, context, *view)


async def send_summary(
    update: Update, context: BotContext, summary: Summary, *, with_paper: bool = False
) -> None:
    """A summary's messages; the vote buttons go under the last one."""
    chunks = render.summary_chunks(summary, with_paper=with_paper)
    for chunk in chunks[:-1]:
        await reply(update, context, chunk)
    await reply(update, context, chunks[-1], render.vote_keyboard(summary))


async def open_paper(update: Update, context: BotContext, paper_id: int) -> None:
    """Show a paper by its internal id (deep links, buttons, a picked search result)."""
    view = await paper_view_by_id(context.services.db, paper_id)
    if view is None:
        await tell(update, context, "That paper is not in the catalog.")
        return
    await reply(update, context, *view)


async def open_summary(update: Update, context: BotContext, summary_id: int) -> None:
    """Show one published summary with its paper's title (deep links and buttons)."""
    async with context.services.db.sessions() as session:
        try:
            summary = await get_summary(session, summary_id)
        except NotFound as exc:
            await tell(update, context, str(exc))
            return
    visible = summary.status.value == "approved" or summary.author_id == context.user.id
    if not visible and context.user.id not in context.services.settings.admins:
        await tell(update, context, f"Summary #{summary_id} is not published.")
        return
    await send_summary(update, context, summary, with_paper=True)


async def latest(update: Update, context: BotContext, offset: int = 0) -> None:
    """The newest published summaries, a page at a time."""
    async with context.services.db.sessions() as session:
        summaries = await latest_summaries(session, limit=LATEST_PAGE + 1, offset=offset)
    if not summaries:
        await tell(
            update, context, "No summaries have been published yet. Write the first with /submit!"
        )
        return
    page = summaries[:LATEST_PAGE]
    more = offset + LATEST_PAGE if len(summaries) > LATEST_PAGE else None
    text = "<b>Latest summaries</b>\n\n" + render.summary_list(page)
    await reply(update, context, text, render.open_buttons(page, more))


async def latest_command(update: Update, context: BotContext) -> None:
    """Lists the newest published summaries."""
    await latest(update, context)


async def on_reading_button(update: Update, context: BotContext, callback: Callback) -> None:
    """Paging and opening buttons."""
    query = update.callback_query
    assert query is not None
    if callback.action is Action.PAGE:
        await turn_page(update, context, callback.arg, callback.extra)
    elif callback.action is Action.LATEST:
        await latest(update, context, callback.arg)
    elif callback.action is Action.OPEN_PAPER:
        await open_paper(update, context, callback.arg)
    elif callback.action is Action.OPEN_SUMMARY:
        await open_summary(update, context, callback.arg)
