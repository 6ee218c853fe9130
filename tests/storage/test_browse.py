"""Browsing approved summaries by venue and year, with the seed's real papers and summaries."""

from __future__ import annotations

from storage.browse import (
    VenueYear,
    count_venue_summaries,
    find_venue_year,
    venue_summaries,
    venues_with_summaries,
)
from storage.catalog.arxiv_source import PaperData
from storage.catalog.store import store_paper
from storage.db import Database
from storage.models import User
from storage.summaries import submit_summary, vote
from storage.users import ensure_user
from tests.seed import seed_papers

ADMINS = frozenset({1})


async def _users(db: Database) -> list[User]:
    async with db.transaction() as session:
        return [
            await ensure_user(session, 1, username="mod", display_name="Mo", admins=ADMINS),
            await ensure_user(session, 2, username="alice", display_name="Alice"),
            await ensure_user(session, 3, username="bob", display_name="Bob"),
        ]


async def test_venues_and_years_list_approved_summaries(db: Database) -> None:
    mod, alice, bob = await _users(db)
    summaries: dict[str, int] = {}
    async with db.transaction() as session:
        for seed in seed_papers():  # five papers: NIPS 2012, ICLR 2017, CVPR 2016, ...
            data = PaperData(seed.title, seed.authors, "manual", venue=seed.venue, year=seed.year)
            paper = await store_paper(session, data)
            for author in (mod, alice):
                body = f"{seed.summary}\n\n(read by {author.display_name})"
                summary = await submit_summary(
                    session, author, paper.id, body, moderated=False, channels=()
                )
                summaries[f"{seed.title[:12]}/{author.display_name}"] = summary.id
            # Waiting for a moderator: not listed.
            await submit_summary(session, bob, paper.id, seed.summary, moderated=True, channels=())
        unsummarized = PaperData("A paper nobody summarized", [], "manual", venue="Nowhere")
        await store_paper(session, unsummarized)

    async with db.sessions() as session:
        venues = await venues_with_summaries(session)
    expected = sorted({(p.venue, p.year) for p in seed_papers()}, key=lambda vy: (-vy[1], vy[0]))
    assert [(v.venue, v.year) for v in venues] == expected
    per_venue = {
        (venue, year): sum(1 for p in seed_papers() if (p.venue, p.year) == (venue, year))
        for venue, year in expected
    }
    assert {(v.venue, v.year): v.summaries for v in venues} == {
        key: 2 * n for key, n in per_venue.items()
    }
    assert all(v.venue != "Nowhere" for v in venues)

    alexnet = next(p for p in seed_papers() if p.title.startswith("Imagenet"))
    key = f"{alexnet.title[:12]}/Alice"
    async with db.transaction() as session:
        await vote(session, bob, summaries[key], 1)
    async with db.sessions() as session:
        nips = await find_venue_year(session, VenueYear(alexnet.venue, alexnet.year, 0).key)
        assert nips is not None and (nips.venue, nips.year) == (alexnet.venue, alexnet.year)
        listed = await venue_summaries(session, alexnet.venue, alexnet.year, limit=10)
        total = await count_venue_summaries(session, alexnet.venue, alexnet.year)
        second_page = await venue_summaries(session, alexnet.venue, alexnet.year, offset=1)
        nothing = await venue_summaries(session, alexnet.venue, 1999)
        assert await find_venue_year(session, "000000000000") is None
    assert total == len(listed) == 2
    assert [s.id for s in listed] == [summaries[key], summaries[f"{alexnet.title[:12]}/Mo"]]
    assert listed[0].score == 1, "best voted first"
    assert listed[0].paper.title == alexnet.title
    assert listed[0].author.display_name == "Alice"
    assert listed[0].body.startswith(alexnet.summary[:40])
    assert [s.id for s in second_page] == [listed[1].id]
    assert nothing == []
    assert len(nips.key) == 12 and len(f"browse:{nips.key}:0".encode()) <= 64
