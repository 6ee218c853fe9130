"""Writing: /submit, the draft (messages or a .md/.txt file), /done with a preview, /cancel,
/mine, /edit and /delete.

The draft lives in the database, so a restart loses nothing a user sent. Plain messages go
to the draft when there is one; otherwise a link in them is looked up.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from bot import render
from bot.callbacks import Action, Callback, button_data
from bot.context import BotContext, answer, friendly, remove_keyboard, reply
from bot.handlers import moderation
from bot.handlers import papers as papers_module
from bot.handlers.reading import lookup_ref, not_found_text, open_paper, wait_if_limited
from markup import split_html, to_telegram_html
from storage.catalog.refs import PaperRef, RefKind, find_reference, parse_reference
from storage.catalog.store import get_paper
from storage.drafts import append_to_draft, drop_draft, get_draft, start_draft
from storage.errors import InvalidInput, NotFound
from storage.ids import parse_id
from storage.models import Draft, DraftKind, Paper, SummaryStatus
from storage.summaries import (
    check_body,
    check_can_change,
    delete_summary,
    edit_summary,
    find_own_summary,
    get_summary,
    submit_summary,
    user_summaries,
)

log = logging.getLogger(__name__)
MAX_FILE_BYTES = 200_000
TEXT_FILE_SUFFIXES = (".md", ".markdown", ".txt")
WRITE_HINT = (
    "Send your summary now: Markdown, with LaTeX between $…$. You can send it in several "
    "messages, or as a .md or .txt file. Send /done when finished, or /cancel to drop it."
)


def _preview_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Submit", callback_data=button_data(Action.DRAFT_SUBMIT)),
                InlineKeyboardButton("✏️ Edit", callback_data=button_data(Action.DRAFT_EDIT)),
                InlineKeyboardButton("✖️ Cancel", callback_data=button_data(Action.DRAFT_CANCEL)),
            ]
        ]
    )


@friendly
async def submit_command(update: Update, context: BotContext) -> None:
    """Starts a summary of the paper named (after showing its card)."""
    text = " ".join(context.args or [])
    if not text:
        await reply(update, context, "Which paper? For example: /submit 1512.03385")
        return
    if await wait_if_limited(update, context, "lookup"):
        return
    ref = parse_reference(text)
    catalog = context.services.catalog
    papers = await catalog.search(ref.value, limit=5) if ref.kind is RefKind.TITLE else None
    if papers is None:
        paper = await catalog.resolve(ref)
        papers = [paper] if paper else []
    offered = not papers and ref.kind is RefKind.TITLE
    if offered and await papers_module.offer_candidates(
        update, context, ref.value, then_submit=True
    ):
        return
    if len(papers) != 1:
        await _pick_paper(update, context, papers, text)
        return
    await begin_summary(update, context, papers[0])


async def _pick_paper(update: Update, context: BotContext, papers: list[Paper], text: str) -> None:
    if not papers:
        await reply(update, context, not_found_text(text))
        return
    rows = [
        [InlineKeyboardButton(f"✍️ {p.title[:60]}", callback_data=button_data(Action.SUBMIT, p.id))]
        for p in papers
    ]
    await reply(
        update,
        context,
        "Which of these papers do you want to summarize?",
        InlineKeyboardMarkup(rows),
    )


async def begin_summary(update: Update, context: BotContext, paper: Paper) -> None:
    """Show the card and open a draft, or offer to edit the summary already written."""
    async with context.services.db.transaction() as session:
        existing = await find_own_summary(session, context.user.id, paper.id)
        if existing is None:
            await start_draft(session, context.user, DraftKind.SUMMARY, paper_id=paper.id)
    if existing is not None:
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "✏️ Edit it", callback_data=button_data(Action.EDIT, existing.id)
                    )
                ]
            ]
        )
        await reply(
            update,
            context,
            f"You already wrote a summary of this paper (#{existing.id}). Do you want to edit it?",
            keyboard,
        )
        return
    await reply(update, context, render.paper_card(paper, 0).rsplit("\n", 1)[0])
    await reply(update, context, escape(WRITE_HINT))


WRITING = (DraftKind.SUMMARY, DraftKind.EDIT)


@friendly
async def on_text(update: Update, context: BotContext) -> None:
    """Plain text: part of a draft, a reject reason, or a link to look up."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    async with context.services.db.transaction() as session:  # one unit: read and append
        draft = await get_draft(session, context.user.id)
        if draft is not None and draft.kind in WRITING:
            draft = await append_to_draft(session, context.user.id, message.text)
    if draft is not None:
        if draft.kind in WRITING:
            await confirm_saved(update, context, draft)
        else:
            await add_to_draft(update, context, draft, message.text)
        return
    ref = find_reference(message.text)
    if ref is not None:
        await lookup_ref(update, context, ref)
        return
    await reply(
        update,
        context,
        "To look up a paper, send /paper with an arXiv id, DOI or title words, or just the link. "
        "To write a summary, send /submit with the paper. /help lists everything.",
    )


@friendly
async def add_to_draft(update: Update, context: BotContext, draft: Draft, text: str) -> None:
    """Append a message (or a file's text) to the draft and confirm it is saved."""
    if draft.kind is DraftKind.REJECT_REASON:
        await moderation.finish_reject(update, context, draft, text)
        return
    if draft.kind is DraftKind.ADD_PAPER:
        await papers_module.add_paper_step(update, context, draft, text)
        return
    async with context.services.db.transaction() as session:
        saved = await append_to_draft(session, context.user.id, text)
    await confirm_saved(update, context, saved)


async def confirm_saved(update: Update, context: BotContext, draft: Draft) -> None:
    """Say the draft is saved, and how long it is."""
    await reply(
        update,
        context,
        f"Saved ({len(draft.body):,} characters so far). Send more, or /done to preview.",
    )


@friendly
async def on_document(update: Update, context: BotContext) -> None:
    """A .md or .txt file: its text goes to the draft."""
    message = update.effective_message
    document = message.document if message else None
    if document is None:
        return
    async with context.services.db.sessions() as session:
        draft = await get_draft(session, context.user.id)
    if draft is None or draft.kind is DraftKind.REJECT_REASON:
        await reply(
            update, context, "To send a summary as a file, start with /submit &lt;paper&gt;."
        )
        return
    name = (document.file_name or "").lower()
    if not name.endswith(TEXT_FILE_SUFFIXES):
        await reply(
            update, context, "Please send the summary as a .md or .txt file (plain text, UTF-8)."
        )
        return
    if document.file_size and document.file_size > MAX_FILE_BYTES:
        await reply(
            update,
            context,
            f"That file is too large; a summary file can be at most {MAX_FILE_BYTES // 1000} kB.",
        )
        return
    data = await (await document.get_file()).download_as_bytearray()
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        await reply(
            update,
            context,
            "I could not read that file as UTF-8 text. Please save it as UTF-8 and send it again.",
        )
        return
    await add_to_draft(update, context, draft, text)


@friendly
async def done_command(update: Update, context: BotContext) -> None:
    """Shows the rendered draft with Submit / Edit / Cancel buttons."""
    async with context.services.db.sessions() as session:
        draft = await get_draft(session, context.user.id)
    if draft is None or draft.kind is DraftKind.REJECT_REASON:
        await reply(
            update, context, "There is no draft to finish. Start one with /submit &lt;paper&gt;."
        )
        return
    if not draft.body:
        await reply(update, context, "Your draft is still empty. " + escape(WRITE_HINT))
        return
    check_body(draft.body)
    chunks = split_html("<b>Preview</b>\n\n" + to_telegram_html(draft.body))
    for chunk in chunks:
        await reply(update, context, chunk)
    await reply(update, context, "Submit this summary?", _preview_keyboard())


@friendly
async def cancel_command(update: Update, context: BotContext) -> None:
    """Drops the draft (or the reject reason being typed)."""
    async with context.services.db.transaction() as session:
        dropped = await drop_draft(session, context.user.id)
    await reply(update, context, "Draft dropped." if dropped else "There was nothing to cancel.")


@friendly
async def mine_command(update: Update, context: BotContext) -> None:
    """Lists the user's summaries with their status."""
    async with context.services.db.sessions() as session:
        summaries = await user_summaries(session, context.user.id)
    if not summaries:
        await reply(
            update,
            context,
            "You have not written any summaries yet. Start with /submit &lt;paper&gt;.",
        )
        return
    await reply(
        update, context, "<b>Your summaries</b>\n\n" + render.summary_list(summaries, mine=True)
    )


def _summary_id(context: BotContext) -> int | None:
    args = context.args or []
    return parse_id(args[0]) if args else None


@friendly
async def edit_command(update: Update, context: BotContext) -> None:
    """Opens an edit draft for a summary (author or moderator)."""
    summary_id = _summary_id(context)
    if summary_id is None:
        await reply(
            update,
            context,
            "Which summary? For example: /edit 12 (see /mine for your summaries' numbers).",
        )
        return
    await begin_edit(update, context, summary_id)


async def begin_edit(update: Update, context: BotContext, summary_id: int) -> None:
    """Send the current text as a file and collect the new one."""
    async with context.services.db.transaction() as session:
        summary = await get_summary(session, summary_id)
        check_can_change(summary, context.user, "edit")
        await start_draft(session, context.user, DraftKind.EDIT, target_id=summary_id)
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_document(
        chat.id,
        InputFile(summary.body.encode(), filename=f"summary-{summary_id}.md"),
        caption=f"The current text of summary #{summary_id}.",
    )
    await reply(
        update,
        context,
        "Send the new text (it replaces the old one when you submit). " + escape(WRITE_HINT),
    )


@friendly
async def delete_command(update: Update, context: BotContext) -> None:
    """Asks to confirm deleting a summary (author or moderator)."""
    summary_id = _summary_id(context)
    if summary_id is None:
        await reply(update, context, "Which summary? For example: /delete 12")
        return
    async with context.services.db.sessions() as session:
        summary = await get_summary(session, summary_id)
    check_can_change(summary, context.user, "delete")
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "🗑 Delete", callback_data=button_data(Action.DELETE, summary_id)
                ),
                InlineKeyboardButton("Keep it", callback_data=button_data(Action.KEEP, summary_id)),
            ]
        ]
    )
    await reply(
        update,
        context,
        f"Delete summary #{summary_id} of <b>{escape(summary.paper.title)}</b>?",
        keyboard,
    )


async def _submit_draft(update: Update, context: BotContext) -> None:
    services = context.services
    async with services.db.transaction() as session:
        draft = await get_draft(session, context.user.id)
        if draft is None or draft.kind in (DraftKind.REJECT_REASON, DraftKind.ADD_PAPER):
            raise NotFound("This preview is no longer current: there is no draft to submit.")
        if draft.kind is DraftKind.EDIT and draft.target_id is not None:
            summary = await edit_summary(session, context.user, draft.target_id, draft.body)
        else:
            if await wait_if_limited(update, context, "submit"):
                return
            if draft.paper_id is None:
                raise InvalidInput("This draft has no paper; start again with /submit <paper>.")
            summary = await submit_summary(
                session,
                context.user,
                draft.paper_id,
                draft.body,
                moderated=services.moderated,
                channels=services.channels,
            )
        await drop_draft(session, context.user.id)
        summary_id, status = summary.id, summary.status
    await answer(update, context, "Saved")
    query = update.callback_query
    if query is not None:
        await remove_keyboard(update, context)
    if status is SummaryStatus.APPROVED:
        await reply(update, context, f"Thank you! Summary #{summary_id} is published.")
    else:
        await reply(
            update,
            context,
            f"Thank you! Summary #{summary_id} is saved and waits for a moderator; "
            "I will tell you when it is reviewed.",
        )
        await moderation.notify_moderators(context, summary_id)


async def on_pick(update: Update, context: BotContext, callback: Callback) -> None:
    """A paper picked from Crossref's candidates: store it, then show it or start a summary."""
    doi = papers_module.picked_doi(context, callback)
    paper = await context.services.catalog.resolve(PaperRef(RefKind.DOI, doi))
    if paper is None:
        raise NotFound("Crossref no longer knows that paper; please search again.")
    await answer(update, context)
    if callback.extra:
        await begin_summary(update, context, paper)
    else:
        await open_paper(update, context, paper.id)


async def on_draft_button(update: Update, context: BotContext, callback: Callback) -> None:
    """Submit / Edit / Cancel under a preview, Write-a-summary, Edit and Delete buttons."""
    action = callback.action
    if action is Action.DRAFT_SUBMIT:
        await _submit_draft(update, context)
    elif action is Action.DRAFT_EDIT:
        async with context.services.db.transaction() as session:
            draft = await get_draft(session, context.user.id)
            if draft is None or draft.kind not in (DraftKind.SUMMARY, DraftKind.EDIT):
                raise NotFound("There is no draft to edit any more.")
            if not draft.body:
                raise NotFound("Your draft is still empty: send your summary as text or a file.")
            body, draft.body, draft.parts = draft.body, "", 0
        chat = update.effective_chat
        assert chat is not None
        await answer(update, context)
        await context.bot.send_document(
            chat.id, InputFile(body.encode(), filename="draft.md"), caption="Your draft so far."
        )
        await reply(
            update, context, "Change it and send it back, as a file or as text; then /done."
        )
    elif action is Action.DRAFT_CANCEL:
        await cancel_command(update, context)
    elif action is Action.SUBMIT:
        await answer(update, context)
        async with context.services.db.sessions() as session:
            paper = await get_paper(session, callback.arg)
        if paper is None:
            raise NotFound("That paper is not in the catalog.")
        await begin_summary(update, context, paper)
    elif action is Action.EDIT:
        await answer(update, context)
        await begin_edit(update, context, callback.arg)
    elif action is Action.DELETE:
        async with context.services.db.transaction() as session:
            await delete_summary(session, context.user, callback.arg)
        await answer(update, context, "Deleted")
        await reply(update, context, f"Summary #{callback.arg} is deleted.")
    elif action is Action.KEEP:
        await answer(update, context, "Kept")
