"""Writing through the real bot: drafts over messages and files, preview, moderation, votes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.emulator.state import Message, User
from markup import restore_blocks
from storage.catalog.service import Catalog
from storage.db import Database
from storage.models import Draft, Publication, Summary, SummaryStatus
from tests.bot.harness import Chat, running_bot
from tests.seed import seed_paper, seed_papers


@pytest.fixture
async def chat(db: Database, catalog: Catalog) -> AsyncIterator[Chat]:
    async with running_bot(db, catalog) as running:
        yield running


def _text(messages: list[Message]) -> str:
    return "\n".join(m.text or "" for m in messages)


async def _write(chat: Chat, user: User, ref: str, body: str) -> list[Message]:
    """/submit, the text in two messages (split at a paragraph), /done: the preview."""
    opened = await chat.say(user, f"/submit {ref}")
    assert "Send your summary now" in _text(opened), _text(opened)
    cut = body.find("\n\n", len(body) // 3)
    assert cut > 0, "the seed summaries have paragraphs"
    first = await chat.say(user, body[:cut])
    assert "Saved (" in _text(first)
    await chat.say(user, body[cut:])
    return await chat.say(user, "/done")


async def test_five_seed_summaries_submitted_moderated_and_read(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    mod = chat.mod
    alexnet = seed_paper("Imagenet")
    from storage.catalog.arxiv_source import PaperData

    await catalog.store(
        [
            PaperData(
                alexnet.title, alexnet.authors, "manual", venue=alexnet.venue, year=alexnet.year
            )
        ]
    )
    for seed in seed_papers():
        body = restore_blocks(seed.summary)
        preview = await _write(chat, ada, seed.arxiv_id or seed.title, body)
        assert preview[0].text and preview[0].text.startswith("Preview")
        question = preview[-1]
        assert question.text == "Submit this summary?"
        answer, done = await chat.press(ada, question, "Submit")
        assert answer == "Saved"
        assert "waits for a moderator" in _text(done)
    async with db.sessions() as session:
        stored = (await session.scalars(select(Summary).order_by(Summary.id))).all()
    assert [s.status for s in stored] == [SummaryStatus.PENDING] * 5
    assert stored[0].body == restore_blocks(seed_papers()[0].summary)

    notices = chat.seen(mod)
    assert sum("waits for review" in (m.text or "") for m in notices) == 5
    queue = await chat.say(mod, "/queue")
    decisions = [m for m in queue if m.buttons]
    assert len(decisions) == 5
    for message in decisions:
        answer, _ = await chat.press(mod, message, "Approve")
        assert answer == "Approved"
    assert sum("is approved and published" in (m.text or "") for m in chat.seen(ada)) == 5
    async with db.sessions() as session:
        queued = (await session.scalars(select(Publication.channel))).all()
    assert queued == ["atom"] * 5, "approval hands each summary to the publisher"

    bob = chat.emu.add_user("Bob", "bob")
    [summary] = await chat.say(bob, "/paper 1611.03530")
    text = summary.text or ""
    assert "Key contributions" in text
    assert any(
        e["type"] == "bold" and summary.entity_text(e) == "Key contributions"
        for e in summary.entities
    ), "the heading is a bold line"
    assert "⇒" in text and "$\\Rightarrow$" not in text
    assert "• Deep neural networks easily fit random labels" in text
    assert any(
        e["type"] == "text_link" and e["url"] == "https://openreview.net/pdf?id=rJv6ZgHYg"
        for e in summary.entities
    )
    resnet = _text(await chat.say(bob, "/paper 1512.03385"))
    assert "10⁻⁴" in resnet
    assert "• ImageNet ILSVRC 2015: 3.57% (ensemble)" in resnet


async def test_votes_are_one_per_user_changeable_and_not_own(chat: Chat, db: Database) -> None:
    ada, bob = chat.emu.add_user("Ada", "ada"), chat.emu.add_user("Bob", "bob")
    mod = chat.mod
    preview = await _write(
        chat, mod, "1512.03385", restore_blocks(seed_paper("Deep Residual").summary)
    )
    await chat.press(mod, preview[-1], "Submit")  # a moderator's summary is published at once
    shown = await chat.say(ada, "/paper 1512.03385")
    last = shown[-1]
    answer, _ = await chat.press(ada, last, "👍")
    assert answer == "👍 Thanks for your vote"
    last = chat.seen(ada)[-1]
    assert last.buttons[0][0].text == "👍 +1"
    answer, _ = await chat.press(ada, last, "👎")
    assert chat.seen(ada)[-1].buttons[0][0].text == "👍 -1"
    answer, _ = await chat.press(ada, chat.seen(ada)[-1], "👎")
    assert answer == "Vote withdrawn"
    own = (await chat.say(mod, "/paper 1512.03385"))[-1]
    answer, _ = await chat.press(mod, own, "👍")
    assert answer == "You cannot vote on your own summary."
    _ = bob


async def test_a_file_is_a_draft_and_limits_are_explained(chat: Chat, db: Database) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    await chat.say(ada, "/submit 1703.06870")
    [short] = await chat.say(ada, "Too short to be a summary.")
    assert "Saved (26 characters so far)" in (short.text or "")
    [refused] = await chat.say(ada, "/done")
    assert "at least 200 characters; this one has 26" in (refused.text or "")
    [wrong] = await chat.upload(ada, "summary.pdf", b"%PDF-1.4")
    assert "as a .md or .txt file" in (wrong.text or "")
    [binary] = await chat.upload(ada, "summary.md", b"\xff\xfe\x00bad")
    assert "UTF-8" in (binary.text or "")
    await chat.upload(ada, "summary.md", restore_blocks(seed_paper("Mask").summary).encode())
    async with db.sessions() as session:
        draft = await session.get(Draft, ada.id)
    assert draft is not None and "RoIAlign" in draft.body and draft.parts == 2
    preview = await chat.say(ada, "/done")
    assert "Methodology" in _text(preview)


async def test_second_submit_offers_to_edit_and_edit_replaces_text(
    chat: Chat, db: Database
) -> None:
    mod = chat.mod
    body = restore_blocks(seed_paper("Unsupervised").summary)
    preview = await _write(chat, mod, "1511.06434", body)
    await chat.press(mod, preview[-1], "Submit")
    [offer] = await chat.say(mod, "/submit 1511.06434")
    assert "You already wrote a summary of this paper" in (offer.text or "")
    _, opened = await chat.press(mod, offer, "Edit it")
    assert opened[0].document is not None and opened[0].document.content == body.encode()
    await chat.say(mod, body + "\n\n## Update\nThe code is on GitHub.")
    preview = await chat.say(mod, "/done")
    await chat.press(mod, preview[-1], "Submit")
    async with db.sessions() as session:
        summary = await session.scalar(select(Summary))
    assert summary is not None and summary.body.endswith("The code is on GitHub.")


async def test_reject_with_reason_tells_the_author(chat: Chat, db: Database) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    mod = chat.mod
    preview = await _write(
        chat, ada, "1512.03385", restore_blocks(seed_paper("Deep Residual").summary)
    )
    await chat.press(ada, preview[-1], "Submit")
    [queued] = [m for m in await chat.say(mod, "/queue") if m.buttons]
    _, asked = await chat.press(mod, queued, "Reject")
    assert "Send the reason" in _text(asked)
    [confirmed] = await chat.say(mod, "Please add the <b>results</b> & a link.")
    assert "is rejected" in (confirmed.text or "")
    told = chat.seen(ada)[-1].text or ""
    assert "was not approved" in told and "Please add the <b>results</b> & a link." in told
    [mine] = await chat.say(ada, "/mine")
    assert "❌ rejected" in (mine.text or "")


async def test_cancel_drop_and_delete(chat: Chat, db: Database) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    await chat.say(ada, "/submit 1512.03385")
    await chat.say(ada, "Some words")
    [dropped] = await chat.say(ada, "/cancel")
    assert dropped.text == "Draft dropped."
    [nothing] = await chat.say(ada, "/cancel")
    assert nothing.text == "There was nothing to cancel."
    preview = await _write(
        chat, ada, "1512.03385", restore_blocks(seed_paper("Deep Residual").summary)
    )
    await chat.press(ada, preview[-1], "Submit")
    bob = chat.emu.add_user("Bob", "bob")
    [refused] = await chat.say(bob, "/delete 1")
    assert "Only the author or a moderator can delete summary #1" in (refused.text or "")
    [confirm] = await chat.say(ada, "/delete 1")
    answer, _ = await chat.press(ada, confirm, "Delete")
    assert answer == "Deleted"
    async with db.sessions() as session:
        summary = await session.scalar(select(Summary))
    assert summary is not None and summary.status is SummaryStatus.DELETED


async def test_edit_button_on_an_empty_draft_sends_no_empty_file(chat: Chat) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    await chat.say(ada, "/submit 1512.03385")
    shown = chat.seen(ada)
    answer, sent = await chat.press_data(ada, shown[-1], "de:0", forge=True)
    assert answer == "Your draft is still empty: send your summary as text or a file."
    assert sent == []
