"""Who may do what, forged buttons, bans, spam limits, inline mode, slow arXiv, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from bot.ratelimit import Limit, RateLimiter
from markup import restore_blocks
from storage.catalog.service import Catalog
from storage.db import Database
from storage.models import Summary, SummaryStatus, Vote
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.bot.harness import Chat, running_bot
from tests.fakes.arxiv import FakeArxiv
from tests.seed import seed_paper


@pytest.fixture
async def chat(db: Database, catalog: Catalog) -> AsyncIterator[Chat]:
    async with running_bot(db, catalog) as running:
        yield running


async def _published(db: Database, catalog: Catalog, ref: str, author_id: int = 101) -> int:
    [paper] = await catalog.lookup(ref)
    async with db.transaction() as session:
        author = await ensure_user(session, author_id, display_name="Author")
        body = restore_blocks(seed_paper("Deep Residual").summary)
        summary = await submit_summary(
            session, author, paper.id, body, moderated=False, channels=()
        )
    return summary.id


async def _pending(db: Database, catalog: Catalog) -> int:
    [paper] = await catalog.lookup("1703.06870")
    async with db.transaction() as session:
        author = await ensure_user(session, 102, display_name="Writer")
        body = restore_blocks(seed_paper("Mask").summary)
        summary = await submit_summary(session, author, paper.id, body, moderated=True, channels=())
    return summary.id


@pytest.mark.parametrize(
    "data",
    ["", "x" * 64, "v:1:7", "v:-1:1", "ap:abc", "zz:1", "pg:1", "v:1", "ds:0:0", "op:99999999"],
)
async def test_forged_button_data_is_answered_politely_and_changes_nothing(
    chat: Chat, db: Database, catalog: Catalog, data: str
) -> None:
    summary_id = await _published(db, catalog, "1512.03385")
    ada = chat.emu.add_user("Ada", "ada")
    shown = await chat.say(ada, "/paper 1512.03385")
    answer, _ = await chat.press_data(ada, shown[-1], data, forge=True)
    assert answer in (
        "This button is no longer valid. Send /help to start again.",
        "That paper is not in the catalog.",
        "This preview is no longer current: there is no draft to submit.",
    ), answer
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Vote)) == 0
        summary = await session.get(Summary, summary_id)
        assert summary is not None and summary.status is SummaryStatus.APPROVED


async def test_members_cannot_use_moderator_buttons_or_commands(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    pending = await _pending(db, catalog)
    eve = chat.emu.add_user("Eve", "eve")
    shown = await chat.say(eve, "/start")
    for data in (f"ap:{pending}", f"rj:{pending}"):
        answer, _ = await chat.press_data(eve, shown[-1], data, forge=True)
        assert answer == "This is for moderators only."
    for command in ("/queue", "/ban @mo", "/unban 5"):
        [refused] = await chat.say(eve, command)
        assert refused.text == "This is for moderators only."
    async with db.sessions() as session:
        summary = await session.get(Summary, pending)
        assert summary is not None and summary.status is SummaryStatus.PENDING


async def test_foreign_preview_buttons_touch_only_the_pressers_own_draft(
    chat: Chat, db: Database
) -> None:
    ada, eve = chat.emu.add_user("Ada", "ada"), chat.emu.add_user("Eve", "eve")
    await chat.say(ada, "/submit 1512.03385")
    await chat.say(ada, restore_blocks(seed_paper("Deep Residual").summary))
    preview = await chat.say(ada, "/done")
    shown = await chat.say(eve, "/start")
    answer, _ = await chat.press_data(eve, shown[-1], preview[-1].callback_data[0], forge=True)
    assert answer == "This preview is no longer current: there is no draft to submit."
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Summary)) == 0
    answer, _ = await chat.press(ada, preview[-1], "Submit")
    assert answer == "Saved"


async def test_banned_users_get_a_short_refusal(chat: Chat, db: Database) -> None:
    spammer = chat.emu.add_user("Spam", "spammer")
    await chat.say(spammer, "/start")
    [done] = await chat.say(chat.mod, "/ban @spammer")
    assert done.text == "Spam is banned."
    [refused] = await chat.say(spammer, "/paper 1512.03385")
    assert refused.text == "Sorry, you are banned from using ShortSci."
    [mod_refused] = await chat.say(chat.mod, "/ban @mo")
    assert mod_refused.text == "Moderators cannot be banned."
    [lifted] = await chat.say(chat.mod, "/unban @spammer")
    assert lifted.text == "Spam is unbanned."
    [unknown] = await chat.say(chat.mod, "/ban @nobody")
    assert "I don't know that user" in (unknown.text or "")


async def test_per_user_lookup_limit(db: Database, catalog: Catalog) -> None:
    limiter = RateLimiter({"lookup": Limit(2, 60.0), "update": Limit(100, 60.0)})
    async with running_bot(db, catalog, limiter=limiter) as chat:
        ada, bob = chat.emu.add_user("Ada", "ada"), chat.emu.add_user("Bob", "bob")
        for _ in range(2):
            await chat.say(ada, "/search residual")
        [slow] = await chat.say(ada, "/search residual")
        assert (slow.text or "").startswith("Slow down a little: try again in")
        [fine] = await chat.say(bob, "/search residual")
        assert "Deep Residual Learning" in (fine.text or ""), "limits are per user"


async def test_inline_mode_offers_summarized_papers_with_deep_links(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    await _published(db, catalog, "1512.03385")
    await catalog.lookup("1703.06870")  # known, but no summary: not offered
    ada = chat.emu.add_user("Ada", "ada")
    answer = await chat.emu.wait_for_inline_answer(chat.emu.inline_query(ada, "kaiming"))
    assert [r["title"] for r in answer.results] == ["Deep Residual Learning for Image Recognition"]
    [result] = answer.results
    assert (
        result["reply_markup"]["inline_keyboard"][0][0]["url"]
        == "https://t.me/shortsci_test_bot?start=p_1"
    )
    assert answer.next_offset == ""
    recent = await chat.emu.wait_for_inline_answer(chat.emu.inline_query(ada, ""))
    assert len(recent.results) == 1


async def test_inline_paging_stays_within_fifty(chat: Chat, db: Database, catalog: Catalog) -> None:
    from storage.catalog.arxiv_source import PaperData

    papers = await catalog.store(
        [PaperData(f"Residual networks study {n}", ["A. Author"], "manual") for n in range(45)]
    )
    async with db.transaction() as session:
        author = await ensure_user(session, 101, display_name="Author")
        for paper in papers:
            await submit_summary(session, author, paper.id, "r" * 250, moderated=False, channels=())
    ada = chat.emu.add_user("Ada", "ada")
    first = await chat.emu.wait_for_inline_answer(chat.emu.inline_query(ada, "residual networks"))
    assert len(first.results) == 20 and first.next_offset == "20"
    third = await chat.emu.wait_for_inline_answer(
        chat.emu.inline_query(ada, "residual networks", "40")
    )
    assert len(third.results) == 5 and third.next_offset == ""


async def test_a_slow_arxiv_does_not_stall_other_chats(
    chat: Chat, catalog: Catalog, fake_arxiv: FakeArxiv
) -> None:
    await catalog.lookup("1512.03385")  # known locally
    fake_arxiv.stall_next(0.8)
    ada, bob = chat.emu.add_user("Ada", "ada"), chat.emu.add_user("Bob", "bob")
    chat.emu.send_text(ada, "/paper 1703.06870")  # needs arXiv, which is slow
    chat.emu.send_text(bob, "/paper 1512.03385")
    await chat.emu.wait_for_messages(bob, 1, timeout=0.6)
    assert chat.emu.messages(ada) == [], "Bob was answered while Ada's lookup waited"
    await chat.emu.wait_for_messages(ada, 1, timeout=3)
    await chat.settle()


async def test_unexpected_errors_are_logged_and_the_user_is_told(
    chat: Chat, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    await chat.say(ada, "/start")
    async with db.engine.begin() as conn:  # the summaries table vanishes: a real database error
        await conn.execute(text("ALTER TABLE summaries RENAME TO summaries_gone"))
    try:
        [sorry] = await chat.say(ada, "/latest")
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE summaries_gone RENAME TO summaries"))
    assert sorry.text == "Sorry, something went wrong on our side. Please try again in a moment."
    assert "unhandled error for update" in caplog.text
    [alert] = chat.seen(chat.mod)
    assert alert.text is not None and alert.text.startswith("⚠️ The bot hit an unexpected ")


async def test_concurrent_users_are_all_answered(chat: Chat, catalog: Catalog) -> None:
    await catalog.lookup("1512.03385")
    users = [chat.emu.add_user(f"U{n}", f"u{n}") for n in range(20)]
    for user in users:
        chat.emu.send_text(user, "/paper 1512.03385")
    await asyncio.gather(*(chat.emu.wait_for_messages(u, 1) for u in users))
    await chat.settle()


async def test_moderators_see_status_and_settle_reviews(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    from storage.publications import (
        AttemptResult,
        Outcome,
        begin_attempt,
        claim_due,
        enqueue_publications,
        record_outcome,
    )

    summary_id = await _published(db, catalog, "1512.03385")
    async with db.transaction() as session:
        await enqueue_publications(session, summary_id, ["atom", "x"])
        claimed = await claim_due(session, "w")
    for publication in claimed:
        async with db.transaction() as session:
            attempt = await begin_attempt(session, publication.id, "w")
            await record_outcome(
                session, publication.id, attempt, "w", AttemptResult(Outcome.UNKNOWN, "timeout")
            )
    [status] = await chat.say(chat.mod, "/status")
    assert "review 1" in (status.text or "")
    replies = await chat.say(chat.mod, "/review")
    assert len(replies) == 2 and all(m.buttons for m in replies)
    answer, _ = await chat.press(chat.mod, replies[0], "It is posted")
    assert answer == "Marked as posted"
    answer, _ = await chat.press(chat.mod, replies[1], "Post again")
    assert answer == "It will be posted again"
    [done] = await chat.say(chat.mod, "/review")
    assert done.text == "No publication needs a decision. ✅"
    eve = chat.emu.add_user("Eve", "eve")
    for command in ("/status", "/review", "/resume x"):
        [refused] = await chat.say(eve, command)
        assert refused.text == "This is for moderators only."


async def test_a_button_answered_too_late_still_acts_and_breaks_nothing(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    for author in (101, 102):
        await _published(db, catalog, "1512.03385", author)
    ada = chat.emu.add_user("Ada", "ada")
    [view] = await chat.say(ada, "/paper 1512.03385")
    chat.emu.world.query_ttl = 0.0  # every press is over Telegram's answer window at once
    query = chat.emu.press_button(ada, view, view.buttons[1][0].callback_data or "")
    await chat.settle()
    assert "2 of 2" in (view.text or ""), "the page still turned"
    assert query not in {a.query_id for a in chat.emu.world.callback_answers}
    assert not any("went wrong" in (m.text or "") for m in chat.seen(ada))
    await chat.say(chat.mod, "/ban @ada")
    query = chat.emu.press_button(ada, view, view.buttons[0][0].callback_data or "")
    await chat.settle()
    assert chat.seen(ada)[-1].text == "Sorry, you are banned from using ShortSci."
    late = [(c.method, c.description) for c in chat.emu.errors]
    assert [method for method, _ in late] == ["answerCallbackQuery"] * 2, late
    assert all("too old" in (why or "") for _, why in late)
    chat.emu.calls[:] = [c for c in chat.emu.calls if c.ok]  # refused as expected: forget them
