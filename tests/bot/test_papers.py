"""Papers beyond arXiv in chat: Crossref candidates, /addpaper, /browse (the AlexNet story)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from markup import restore_blocks
from storage.catalog.service import Catalog
from storage.db import Database
from tests.bot.harness import Chat, running_bot
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.crossref import FakeCrossref
from tests.seed import seed_paper

ALEXNET_TITLE = "imagenet classification with deep convolutional neural networks"
NEURIPS_DOI = "10.5555/2999134.2999257"


@pytest.fixture
async def chat(db: Database, crossref_catalog: Catalog) -> AsyncIterator[Chat]:
    async with running_bot(db, crossref_catalog) as running:
        yield running


async def test_alexnet_found_by_title_through_crossref_summarized_then_found_by_doi(
    chat: Chat, fake_arxiv: FakeArxiv, fake_crossref: FakeCrossref
) -> None:
    ada = chat.emu.add_user("Ada", "ada")
    [offer] = await chat.say(ada, f"/submit {ALEXNET_TITLE}")
    assert (offer.text or "").startswith(
        "Not in the catalog or at arXiv, but Crossref knows these."
    )
    lines = (offer.text or "").splitlines()
    neurips_line = next(
        i
        for i, line in enumerate(lines)
        if line.startswith(("1.", "2.", "3.")) and "Neural Information Processing" in lines[i + 1]
    )
    number = lines[neurips_line].split(".", 1)[0]
    _, opened = await chat.press(ada, offer, number)
    assert "Send your summary now" in (opened[-1].text or "")
    card = opened[0].text or ""
    assert card.startswith("ImageNet Classification with Deep Convolutional Neural Networks")

    body = restore_blocks(seed_paper("Imagenet classification").summary)
    await chat.say(ada, body)
    preview = await chat.say(ada, "/done")
    answer, _ = await chat.press(ada, preview[-1], "Submit")
    assert answer == "Saved"
    [queued] = [m for m in await chat.say(chat.mod, "/queue") if m.buttons]
    await chat.press(chat.mod, queued, "Approve")

    searched_before = len(fake_crossref.requests)
    [shown] = await chat.say(ada, f"https://doi.org/{NEURIPS_DOI}")
    card = summary = shown.text or ""
    assert len(fake_crossref.requests) == searched_before, "the picked paper is now local"
    assert "Krizhevsky" in card and "📝 1 summary" in card
    assert "Neural Information Processing Systems" in card and "2012" in card
    assert f"DOI {NEURIPS_DOI}" in card
    assert "Training details" in summary and "0.0005\xa0·\xa0ε" in summary
    [again] = await chat.say(ada, f"/search {ALEXNET_TITLE}")
    assert (again.text or "").startswith(
        f"Papers matching {ALEXNET_TITLE}:\n\n1. ImageNet Classification"
    ), again.text


async def test_a_moderator_adds_a_paper_by_hand_with_a_dblp_alias(chat: Chat, db: Database) -> None:
    mod = chat.mod
    [ask] = await chat.say(mod, "/addpaper")
    assert "What is the paper's title?" in (ask.text or "")
    await chat.say(mod, "Imagenet classification with deep convolutional neural networks")
    await chat.say(mod, "Alex Krizhevsky; Ilya Sutskever; Geoffrey E. Hinton")
    await chat.say(mod, "Neural Information Processing Systems Conference")
    [bad_year] = await chat.say(mod, "twenty twelve")
    assert "Please send a year like 2012" in (bad_year.text or "")
    await chat.say(mod, "2012")
    await chat.say(mod, "https://papers.nips.cc/paper/4824")
    [confirm] = await chat.say(mod, "conf/nips/KrizhevskySH12")
    text = confirm.text or ""
    assert text.startswith("Imagenet classification with deep convolutional neural networks")
    assert "Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton" in text
    assert "Aliases: conf/nips/KrizhevskySH12" in text
    answer, added = await chat.press(mod, confirm, "Add")
    assert answer == "Added"
    ada = chat.emu.add_user("Ada", "ada")
    [card] = await chat.say(ada, "/paper conf/nips/KrizhevskySH12")
    assert (card.text or "").startswith("Imagenet classification")
    eve = chat.emu.add_user("Eve", "eve")
    [refused] = await chat.say(eve, "/addpaper")
    assert refused.text == "This is for moderators only."
    _ = added


async def test_browse_by_venue_and_year(chat: Chat, db: Database, catalog: Catalog) -> None:
    from storage.summaries import submit_summary
    from storage.users import ensure_user

    for ref, seed in (("1512.03385", "Deep Residual"), ("1703.06870", "Mask")):
        [paper] = await catalog.lookup(ref)
        async with db.transaction() as session:
            author = await ensure_user(session, 101, display_name="Author")
            await submit_summary(
                session,
                author,
                paper.id,
                restore_blocks(seed_paper(seed).summary),
                moderated=False,
                channels=(),
            )
    ada = chat.emu.add_user("Ada", "ada")
    [venues] = await chat.say(ada, "/browse")
    text = venues.text or ""
    assert "1. arXiv 2017 (1)" in text and "2. arXiv 2015 (1)" in text
    _, listing = await chat.press(ada, venues, "2")
    assert "arXiv 2015 · 1 summaries" in (listing[0].text or "")
    assert "Deep Residual Learning" in (listing[0].text or "")
