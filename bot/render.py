"""What readers see: paper cards, summaries and lists as Telegram HTML, and their buttons.

Every piece of user or paper text is escaped here; summaries go through `markup`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import Action, button_data
from markup import TELEGRAM_HTML_VERSION, TELEGRAM_MESSAGE_LIMIT, split_html, to_telegram_html
from storage.models import Paper, Summary, SummaryStatus, User

MAX_AUTHORS = 3
STATUS_LABELS = {
    SummaryStatus.PENDING: "⏳ waiting for a moderator",
    SummaryStatus.APPROVED: "✅ published",
    SummaryStatus.REJECTED: "❌ rejected",
    SummaryStatus.DRAFT: "📝 draft",
}


def authors_line(authors: Sequence[str]) -> str:
    """First authors, then "et al." when there are more."""
    if not authors:
        return "Unknown authors"
    if len(authors) <= MAX_AUTHORS:
        return ", ".join(authors)
    return ", ".join(authors[:MAX_AUTHORS]) + " et al."


def paper_links(paper: Paper) -> str:
    """The paper's arXiv and DOI links, HTML."""
    links = []
    if paper.arxiv_id:
        url = f"https://arxiv.org/abs/{paper.arxiv_id}"
        links.append(f'<a href="{escape(url)}">arXiv:{escape(paper.arxiv_id)}</a>')
    if paper.doi:
        url = f"https://doi.org/{paper.doi}"
        links.append(f'<a href="{escape(url)}">DOI {escape(paper.doi)}</a>')
    if not links and paper.url:
        links.append(f'<a href="{escape(paper.url)}">link</a>')
    return " · ".join(links)


def venue_line(paper: Paper) -> str:
    """Venue and year, as far as they are known."""
    parts = [p for p in (paper.venue, str(paper.year) if paper.year else None) if p]
    return escape(" · ".join(parts))


def paper_card(paper: Paper, summaries: int) -> str:
    """A paper's card: title, authors, venue and year, links, how many summaries."""
    lines = [f"<b>{escape(paper.title)}</b>", escape(authors_line(paper.authors))]
    if venue := venue_line(paper):
        lines.append(venue)
    if links := paper_links(paper):
        lines.append(links)
    if summaries:
        lines.append(f"📝 {summaries} summar{'y' if summaries == 1 else 'ies'}")
    else:
        lines.append("📝 No summaries yet: be the first to write one.")
    return "\n".join(lines)


def write_button(paper: Paper) -> list[InlineKeyboardButton]:
    """The row that starts a summary of `paper`."""
    return [
        InlineKeyboardButton(
            "✍️ Write a summary", callback_data=button_data(Action.SUBMIT, paper.id)
        )
    ]


def paper_view(
    paper: Paper, total: int, summary: Summary | None = None, index: int = 0
) -> tuple[str, InlineKeyboardMarkup]:
    """A paper in one message: its card and the summary at `index` (best first) of `total`.

    Buttons: votes on the summary shown, paging through the others (the message is edited
    in place), "Read it all" when the summary is too long to share the message, and "Write".
    """
    text = paper_card(paper, total)
    rows = []
    if summary is not None:
        place = f"{index + 1} of {total} · " if total > 1 else ""
        text, whole = _fit(f"{text}\n\n{summary_head(summary, place)}\n\n{summary_html(summary)}")
        rows.append(vote_row(summary.id, summary.score))
        paging = []
        if index > 0:
            paging.append(_page_button("◂ Previous", paper.id, index - 1))
        if index + 1 < total:
            paging.append(_page_button("Next summary ▸", paper.id, index + 1))
        if paging:
            rows.append(paging)
        if not whole:
            rows.append(
                [
                    InlineKeyboardButton(
                        "Read it all ▸", callback_data=button_data(Action.OPEN_SUMMARY, summary.id)
                    )
                ]
            )
    rows.append(write_button(paper))
    return text, InlineKeyboardMarkup(rows)


def _page_button(label: str, paper_id: int, index: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=button_data(Action.PAGE, paper_id, index))


def _fit(html: str) -> tuple[str, bool]:
    """`html` if it fits one message, else its first part and an ellipsis; and whether whole."""
    first, *rest = split_html(html, TELEGRAM_MESSAGE_LIMIT - 2)
    return (first + "\n…", False) if rest else (first, True)


def author_name(user: User) -> str:
    """How a summary's author is credited."""
    if user.display_name:
        return user.display_name
    return f"@{user.username}" if user.username else f"user {user.id}"


def summary_html(summary: Summary) -> str:
    """A summary's body as Telegram HTML: as stored if this renderer made it, else rendered."""
    if summary.html is not None and summary.html_version == TELEGRAM_HTML_VERSION:
        return summary.html
    return body_html(summary.body)


@lru_cache(maxsize=256)
def body_html(body: str) -> str:
    """A summary's Markdown as Telegram HTML (cached: readers ask for the same summaries)."""
    return to_telegram_html(body)


def summary_head(summary: Summary, place: str = "") -> str:
    """The line above a summary: its number and author (`place` like "2 of 5 · ")."""
    return f"✍️ <i>{place}Summary #{summary.id} by {escape(author_name(summary.author))}</i>"


def summary_chunks(summary: Summary, *, with_paper: bool = False) -> list[str]:
    """A summary as one or more messages (each within Telegram's 4096 characters)."""
    head = [f"<b>{escape(summary.paper.title)}</b>"] if with_paper else []
    head.append(summary_head(summary))
    return split_html("\n".join(head) + "\n\n" + summary_html(summary))


def vote_row(summary_id: int, score: int) -> list[InlineKeyboardButton]:
    """👍 / 👎 for a summary, the score on the first."""
    return [
        InlineKeyboardButton(
            f"👍 {score:+d}" if score else "👍",
            callback_data=button_data(Action.VOTE, summary_id, 1),
        ),
        InlineKeyboardButton("👎", callback_data=button_data(Action.VOTE, summary_id, -1)),
    ]


def vote_keyboard(summary: Summary) -> InlineKeyboardMarkup:
    """The vote buttons alone, under a summary shown by itself."""
    return InlineKeyboardMarkup([vote_row(summary.id, summary.score)])


def rescored(
    keyboard: InlineKeyboardMarkup, summary_id: int, score: int
) -> InlineKeyboardMarkup | None:
    """`keyboard` with the summary's vote buttons showing `score`; None if nothing changes."""
    prefix = f"{Action.VOTE}:{summary_id}:"
    fresh = vote_row(summary_id, score)
    rows = [
        fresh
        if any(isinstance(b.callback_data, str) and b.callback_data.startswith(prefix) for b in row)
        else list(row)
        for row in keyboard.inline_keyboard
    ]
    updated = InlineKeyboardMarkup(rows)
    return None if updated == keyboard else updated


def paper_list(papers: Sequence[Paper], counts: dict[int, int]) -> tuple[str, InlineKeyboardMarkup]:
    """Numbered search results with a button to open each."""
    lines = []
    buttons = []
    for number, paper in enumerate(papers, start=1):
        year = f" ({paper.year})" if paper.year else ""
        count = counts.get(paper.id, 0)
        note = f" · 📝 {count}" if count else ""
        authors = escape(authors_line(paper.authors))
        lines.append(f"{number}. <b>{escape(paper.title)}</b>{year}\n    {authors}{note}")
        buttons.append(
            InlineKeyboardButton(
                str(number), callback_data=button_data(Action.OPEN_PAPER, paper.id)
            )
        )
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def summary_list(summaries: Sequence[Summary], *, mine: bool = False) -> str:
    """A compact list of summaries: paper, author or status, score."""
    lines = []
    for summary in summaries:
        who = (
            STATUS_LABELS.get(summary.status, summary.status.value)
            if mine
            else escape(author_name(summary.author))
        )
        line = f"#{summary.id} <b>{escape(summary.paper.title)}</b>\n    {who}"
        if summary.score:
            line += f" · 👍 {summary.score:+d}"
        if mine and summary.status is SummaryStatus.REJECTED and summary.reject_reason:
            line += f"\n    Reason: {escape(summary.reject_reason)}"
        lines.append(line)
    return "\n".join(lines)


def open_buttons(summaries: Sequence[Summary], more_offset: int | None) -> InlineKeyboardMarkup:
    """A button to open each listed summary, and "Older" when there are more."""
    buttons = [
        InlineKeyboardButton(f"#{s.id}", callback_data=button_data(Action.OPEN_SUMMARY, s.id))
        for s in summaries
    ]
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    if more_offset is not None:
        rows.append(
            [InlineKeyboardButton("Older ▸", callback_data=button_data(Action.LATEST, more_offset))]
        )
    return InlineKeyboardMarkup(rows)


def deep_link(bot_username: str, payload: str) -> str:
    """A t.me link that opens the bot with ``/start <payload>``."""
    return f"https://t.me/{bot_username}?start={payload}"
