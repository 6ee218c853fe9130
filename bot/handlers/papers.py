"""Papers beyond arXiv: Crossref's candidates to pick, /addpaper for moderators, /browse."""

from __future__ import annotations

import json
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import render
from bot.callbacks import Action, Callback, browse_data, button_data
from bot.context import BotContext, answer, friendly, reply, require_moderator
from storage.browse import (
    count_venue_summaries,
    find_venue_year,
    venue_summaries,
    venues_with_summaries,
)
from storage.catalog.arxiv_source import PaperData
from storage.curation import add_manual_paper, alias_ref
from storage.drafts import drop_draft, get_draft, set_draft_body, start_draft
from storage.errors import InvalidInput, NotFound
from storage.ids import parse_id
from storage.models import Draft, DraftKind, Paper

CANDIDATES = "crossref_candidates"  # user_data key: the DOIs last offered, by button number
VENUE_PAGE = 20
SUMMARY_PAGE = 5
SKIP = "-"
STEPS = [
    ("title", "What is the paper's title?"),
    (
        "authors",
        "Who are the authors? Separate them with semicolons: Alex Krizhevsky; Ilya Sutskever",
    ),
    ("venue", "Where was it published (journal or conference)? Send - if unknown."),
    ("year", "Which year? Send - if unknown."),
    ("url", "A link to the paper? Send - to skip."),
    (
        "aliases",
        "DBLP keys or DOIs to attach, separated by spaces (conf/nips/KrizhevskySH12)? - to skip.",
    ),
]


async def offer_candidates(
    update: Update, context: BotContext, words: str, *, then_submit: bool
) -> bool:
    """Offer Crossref's matches when neither the catalog nor arXiv had any; False if none."""
    candidates = [c for c in await context.services.catalog.external_candidates(words) if c.doi]
    if not candidates:
        return False
    memory = context.user_data
    assert memory is not None  # every update the gate lets through has a user
    memory[CANDIDATES] = [c.doi for c in candidates]
    lines, buttons = [], []
    for number, paper in enumerate(candidates, start=1):
        where = " · ".join(p for p in (paper.venue, str(paper.year) if paper.year else None) if p)
        authors = escape(render.authors_line(paper.authors))
        lines.append(
            f"{number}. <b>{escape(paper.title)}</b>\n    {authors}"
            + (f" · {escape(where)}" if where else "")
        )
        buttons.append(
            InlineKeyboardButton(
                str(number), callback_data=button_data(Action.PICK, number - 1, int(then_submit))
            )
        )
    text = "Not in the catalog or at arXiv, but Crossref knows these. Which one is it?\n\n"
    await reply(update, context, text + "\n".join(lines), InlineKeyboardMarkup([buttons]))
    return True


def picked_doi(context: BotContext, callback: Callback) -> str:
    """The DOI of the candidate a button names (the list lives in memory until a restart)."""
    dois: list[str] = (context.user_data or {}).get(CANDIDATES, [])
    if not 0 <= callback.arg < len(dois):
        raise NotFound("That list of papers has expired; please search again.")
    return dois[callback.arg]


# /addpaper: a form over several messages, its fields kept as JSON in the user's draft.


@friendly
async def addpaper_command(update: Update, context: BotContext) -> None:
    """Walks a moderator through entering a paper no service knows."""
    require_moderator(context)
    async with context.services.db.transaction() as session:
        await start_draft(session, context.user, DraftKind.ADD_PAPER, body="{}")
        await set_draft_body(session, context.user.id, "{}", parts=0)
    await reply(
        update, context, "Let's add a paper by hand (/cancel stops). " + escape(STEPS[0][1])
    )


def _check(field: str, value: str) -> str | int | list[str] | None:
    if value == SKIP and field not in ("title", "authors"):
        return None
    if field == "authors":
        names = [n.strip() for n in value.replace("\n", ";").split(";") if n.strip()]
        if not names:
            raise InvalidInput("Please send at least one author.")
        return names
    if field == "year":
        year = parse_id(value)
        if year is None or not 1600 <= year <= 2100:
            raise InvalidInput("Please send a year like 2012, or - if unknown.")
        return year
    if field == "url" and not value.startswith(("http://", "https://")):
        raise InvalidInput("Please send a link starting with https://, or - to skip.")
    if field == "aliases":
        keys = value.split()
        for key in keys:
            alias_ref(key)
        return keys
    return value[:1000]


async def add_paper_step(update: Update, context: BotContext, draft: Draft, text: str) -> None:
    """Take one field of the form; after the last, show the card to confirm."""
    require_moderator(context)
    fields = json.loads(draft.body or "{}")
    field, _ = STEPS[draft.parts]
    fields[field] = _check(field, text.replace("\x00", "").strip())
    async with context.services.db.transaction() as session:
        await set_draft_body(session, context.user.id, json.dumps(fields), parts=draft.parts + 1)
    if draft.parts + 1 < len(STEPS):
        await reply(update, context, escape(STEPS[draft.parts + 1][1]))
        return
    card = render.paper_card(_paper(fields), 0).rsplit("\n", 1)[0]
    aliases = " ".join(fields.get("aliases") or []) or "none"
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Add", callback_data=button_data(Action.ADD_PAPER)),
                InlineKeyboardButton("✖️ Cancel", callback_data=button_data(Action.DRAFT_CANCEL)),
            ]
        ]
    )
    await reply(update, context, f"{card}\nAliases: {escape(aliases)}\n\nAdd this paper?", keyboard)


def _data(fields: dict[str, object]) -> PaperData:
    year = fields.get("year")
    return PaperData(
        title=str(fields["title"]),
        authors=list(fields.get("authors") or []),  # type: ignore[call-overload]
        source="manual",
        venue=str(fields["venue"]) if fields.get("venue") else None,
        year=int(year) if isinstance(year, int) else None,
        url=str(fields["url"]) if fields.get("url") else None,
    )


def _paper(fields: dict[str, object]) -> Paper:
    data = _data(fields)
    return Paper(
        title=data.title, authors=data.authors, venue=data.venue, year=data.year, url=data.url
    )


async def on_add_paper(update: Update, context: BotContext, callback: Callback) -> None:
    """The moderator confirmed the card: store the paper."""
    require_moderator(context)
    async with context.services.db.transaction() as session:
        draft = await get_draft(session, context.user.id)
        if draft is None or draft.kind is not DraftKind.ADD_PAPER or draft.parts < len(STEPS):
            raise NotFound("There is no finished paper form to add; start again with /addpaper.")
        fields = json.loads(draft.body)
        paper = await add_manual_paper(
            session, context.user, _data(fields), aliases=fields.get("aliases") or []
        )
        await drop_draft(session, context.user.id)
        paper_id = paper.id
    await answer(update, context, "Added")
    await reply(
        update, context, f"Paper #{paper_id} is in the catalog: /start p_{paper_id} opens it."
    )


# /browse: venues and years with summaries, then one venue-year's summaries.


@friendly
async def browse_command(update: Update, context: BotContext) -> None:
    """Lists venues and years that have summaries, with counts."""
    await show_venues(update, context, 0)


async def show_venues(update: Update, context: BotContext, offset: int) -> None:
    """One page of venues and years."""
    async with context.services.db.sessions() as session:
        venues = await venues_with_summaries(session, limit=VENUE_PAGE + 1, offset=offset)
    if not venues:
        await reply(
            update, context, "No summaries are published yet, so there is nothing to browse."
        )
        return
    page = venues[:VENUE_PAGE]
    lines = [
        f"{n}. {escape(v.venue)}{f' {v.year}' if v.year else ''} ({v.summaries})"
        for n, v in enumerate(page, start=offset + 1)
    ]
    buttons = [
        InlineKeyboardButton(str(n), callback_data=browse_data(v.key))
        for n, v in enumerate(page, start=offset + 1)
    ]
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    if len(venues) > VENUE_PAGE:
        rows.append(
            [
                InlineKeyboardButton(
                    "More ▸", callback_data=button_data(Action.VENUES, offset + VENUE_PAGE)
                )
            ]
        )
    await reply(
        update,
        context,
        "<b>Summaries by venue and year</b>\n\n" + "\n".join(lines),
        InlineKeyboardMarkup(rows),
    )


async def on_browse_button(update: Update, context: BotContext, callback: Callback) -> None:
    """A venue-year's summaries, a page at a time, or more venues."""
    await answer(update, context)
    if callback.action is Action.VENUES:
        await show_venues(update, context, callback.arg)
        return
    async with context.services.db.sessions() as session:
        venue = await find_venue_year(session, callback.key)
        if venue is None:
            raise NotFound("That venue has no published summaries any more.")
        summaries = await venue_summaries(
            session, venue.venue, venue.year, limit=SUMMARY_PAGE, offset=callback.arg
        )
        total = await count_venue_summaries(session, venue.venue, venue.year)
    shown = callback.arg + len(summaries)
    keyboard = render.open_buttons(summaries, None)
    if shown < total:
        more = InlineKeyboardButton("More ▸", callback_data=browse_data(callback.key, shown))
        keyboard = InlineKeyboardMarkup([*keyboard.inline_keyboard, [more]])
    title = f"{venue.venue}{f' {venue.year}' if venue.year else ''}"
    await reply(
        update,
        context,
        f"<b>{escape(title)}</b> · {total} summaries\n\n" + render.summary_list(summaries),
        keyboard,
    )
