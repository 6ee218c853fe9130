"""Reading through the real bot: /start, /help, /paper, /search, links, deep links, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from markup import TELEGRAM_HTML_VERSION, restore_blocks
from storage.catalog.service import Catalog
from storage.db import Database
from storage.models import Summary
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.bot.harness import Chat, running_bot
from tests.fakes.arxiv import FakeArxiv
from tests.seed import seed_paper


@pytest.fixture
async def chat(db: Database, catalog: Catalog) -> AsyncIterator[Chat]:
    async with running_bot(db, catalog) as running:
        yield running


async def _publish(db: Database, catalog: Catalog, ref: str, author_id: int, body: str) -> int:
    [paper] = await catalog.lookup(ref)
    async with db.transaction() as session:
        author = await ensure_user(session, author_id, display_name=f"Author {author_id}")
        summary = await submit_summary(
            session, author, paper.id, body, moderated=False, channels=()
        )
    return summary.id


async def test_start_and_help_list_the_commands(chat: Chat) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    [welcome] = await chat.say(ada, "/start")
    assert "ShortSci" in (welcome.text or "")
    assert "/paper <ref>" in (welcome.text or "")
    assert "/queue" not in (welcome.text or ""), "members do not see moderator commands"
    assert {c["command"] for c in chat.emu.commands()} >= {"paper", "submit", "done", "queue"}


async def test_paper_card_by_arxiv_id(chat: Chat, fake_arxiv: FakeArxiv) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    [card] = await chat.say(ada, "/paper 1611.03530")
    text = card.text or ""
    assert text.splitlines()[0] == "Understanding deep learning requires rethinking generalization"
    assert "Chiyuan Zhang, Samy Bengio, Moritz Hardt et al." in text
    assert "arXiv · 2016" in text
    assert "arXiv:1611.03530" in text
    assert "No summaries yet" in text
    assert [b.text for row in card.buttons for b in row] == ["✍️ Write a summary"]


async def test_paper_with_summaries_best_first_and_paging(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    body = restore_blocks(seed_paper("Deep Residual").summary)
    ids = [
        await _publish(db, catalog, "1512.03385", 100 + n, body + f"\n\nTake {n}.")
        for n in range(4)
    ]
    ada, bob = chat.emu.add_user("Ada", "ada"), chat.emu.add_user("Bob", "bob")
    [view] = await chat.say(ada, "https://arxiv.org/abs/1512.03385v1")
    text = view.text or ""
    assert text.startswith("Deep Residual Learning for Image Recognition")
    assert "📝 4 summaries" in text
    assert f"1 of 4 · Summary #{ids[0]} by Author 100" in text and "Evaluation" in text
    assert [[b.text for b in row] for row in view.buttons] == [
        ["👍", "👎"],
        ["Next summary ▸"],
        ["✍️ Write a summary"],
    ]
    # the pages turn in place: one message, edited
    for page in (2, 3, 4):
        _, sent = await chat.press(ada, view, "Next summary ▸")
        assert sent == [] and f"{page} of 4 · Summary #{ids[page - 1]}" in (view.text or "")
    assert [b.text for b in view.buttons[1]] == ["◂ Previous"]
    await chat.press(ada, view, "◂ Previous")
    assert f"3 of 4 · Summary #{ids[2]}" in (view.text or "")
    # a vote on the summary shown updates its score there; a 👍 moves it to the top for others
    answer, _ = await chat.press(ada, view, "👍")
    assert answer == "👍 Thanks for your vote" and view.buttons[0][0].text == "👍 +1"
    assert f"3 of 4 · Summary #{ids[2]}" in (view.text or ""), "the page stays where it was"
    [fresh] = await chat.say(bob, "/paper 1512.03385")
    assert f"1 of 4 · Summary #{ids[2]}" in (fresh.text or "")
    # past the end (an old button): said, and nothing breaks
    paper_id = (view.buttons[-1][0].callback_data or "").split(":")[1]
    answer, _ = await chat.press_data(ada, view, f"pg:{paper_id}:9", forge=True)
    assert answer == "There are no more summaries of this paper."


async def test_the_stored_render_is_shown_only_when_the_renderer_made_it(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    body = restore_blocks(seed_paper("Deep Residual").summary)
    summary_id = await _publish(db, catalog, "1512.03385", 100, body)
    ada = chat.emu.add_user("Ada", "ada")
    for version, shown in (
        (TELEGRAM_HTML_VERSION - 1, "Evaluation"),
        (TELEGRAM_HTML_VERSION, "kept"),
    ):
        async with db.transaction() as session:
            await session.execute(
                update(Summary)
                .where(Summary.id == summary_id)
                .values(html="<b>kept</b>", html_version=version)
            )
        [view] = await chat.say(ada, "/paper 1512.03385")
        assert shown in (view.text or "")
    assert "Evaluation" not in (view.text or ""), "a current render is used as stored"


async def test_a_summary_too_long_to_share_the_card_is_cut_with_a_way_to_read_it_all(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    body = "\n\n".join(
        f"Paragraph {n}: " + "residual learning works well. " * 20 for n in range(12)
    )
    summary_id = await _publish(db, catalog, "1512.03385", 101, body)
    ada = chat.emu.add_user("Ada", "ada")
    [view] = await chat.say(ada, "/paper 1512.03385")
    assert (view.text or "").endswith("…") and "Paragraph 0" in (view.text or "")
    _, whole = await chat.press(ada, view, "Read it all ▸")
    text = "\n".join(m.text or "" for m in whole)
    assert len(whole) == 2 and f"Summary #{summary_id}" in text and "Paragraph 11" in text


async def test_search_lists_papers_and_opens_one(chat: Chat, catalog: Catalog) -> None:
    for ref in ("1512.03385", "1703.06870"):
        await catalog.lookup(ref)
    ada = chat.emu.add_user("Ada", "ada")
    [results] = await chat.say(ada, "/search kaiming")
    assert "Deep Residual Learning for Image Recognition" in (results.text or "")
    assert "Mask R-CNN" in (results.text or "")
    _, opened = await chat.press(ada, results, "2")
    assert opened[0].text and opened[0].text.startswith(("Mask R-CNN", "Deep Residual"))


async def test_deep_links_open_a_paper_and_a_summary(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    summary_id = await _publish(
        db, catalog, "1611.03530", 101, restore_blocks(seed_paper("Understanding").summary)
    )
    ada = chat.emu.add_user("Ada", "ada")
    replies = await chat.say(ada, f"/start s_{summary_id}")
    text = "\n".join(m.text or "" for m in replies)
    assert text.startswith("Understanding deep learning requires rethinking generalization")
    assert "Key contributions" in text
    [card] = await chat.say(ada, "/start p_1")
    assert "📝 1 summary" in (card.text or "")
    [missing] = await chat.say(ada, "/start s_999")
    assert missing.text == "There is no summary #999."


async def test_bad_references_get_a_clear_answer(chat: Chat, fake_arxiv: FakeArxiv) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    [malformed] = await chat.say(ada, "/paper arXiv:12345")
    assert "is not a valid arXiv id" in (malformed.text or "")
    assert "1611.03530" in (malformed.text or ""), "the accepted forms are named"
    [unknown] = await chat.say(ada, "/paper 0901.0001")
    assert "arXiv has no paper 0901.0001, or did not answer in time" in (unknown.text or "")
    fake_arxiv.fail_next(2)
    [down] = await chat.say(ada, "/paper 1703.06870")
    assert down.text == "Could not reach arXiv just now; please try again."
    [empty] = await chat.say(ada, "/paper")
    assert "Which paper?" in (empty.text or "")
    [plain] = await chat.say(ada, "hello there")
    assert "/paper" in (plain.text or "")


async def test_latest_lists_newest_first_with_open_buttons(
    chat: Chat, db: Database, catalog: Catalog
) -> None:
    first = await _publish(
        db, catalog, "1512.03385", 101, restore_blocks(seed_paper("Deep Residual").summary)
    )
    second = await _publish(
        db, catalog, "1703.06870", 102, restore_blocks(seed_paper("Mask").summary)
    )
    ada = chat.emu.add_user("Ada", "ada")
    [listing] = await chat.say(ada, "/latest")
    text = listing.text or ""
    assert text.index(f"#{second}") < text.index(f"#{first}")
    _, opened = await chat.press(ada, listing, f"#{first}")
    assert "Deep Residual Learning" in (opened[0].text or "")
