"""Summaries, votes and moderation on real databases, with the seed's real summaries."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from markup import TELEGRAM_HTML_VERSION, to_telegram_html
from storage.catalog.arxiv_source import PaperData
from storage.catalog.service import Catalog
from storage.catalog.store import store_paper
from storage.db import Database
from storage.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from storage.models import (
    Publication,
    PublicationState,
    Summary,
    SummaryRevision,
    SummaryStatus,
    User,
)
from storage.summaries import (
    AlreadySummarized,
    approve_summary,
    delete_summary,
    edit_summary,
    get_summary,
    latest_summaries,
    pending_summaries,
    read_page,
    reject_summary,
    render_stale,
    submit_summary,
    user_summaries,
    vote,
)
from storage.users import ensure_user, set_banned
from tests.seed import seed_paper, seed_papers

CHANNELS = ("x", "facebook", "atom")
ADMINS = frozenset({1})


async def _users(db: Database) -> dict[str, User]:
    async with db.transaction() as session:
        return {
            "mod": await ensure_user(session, 1, username="mod", display_name="Mo", admins=ADMINS),
            "alice": await ensure_user(session, 2, username="alice", display_name="Alice"),
            "bob": await ensure_user(session, 3, username="bob", display_name="Bob"),
            "carol": await ensure_user(session, 4, username="carol", display_name="Carol"),
        }


async def _paper_id(catalog: Catalog, ref: str) -> int:
    [paper] = await catalog.lookup(ref)
    return paper.id


async def test_seed_summaries_round_trip_byte_for_byte(db: Database, catalog: Catalog) -> None:
    users = await _users(db)
    ids = {}
    for seed in seed_papers():
        if seed.arxiv_id is None:  # AlexNet has no arXiv record: entered by hand
            async with db.transaction() as session:
                manual = PaperData(
                    seed.title, seed.authors, "manual", venue=seed.venue, year=seed.year
                )
                paper_id = (await store_paper(session, manual)).id
        else:
            paper_id = await _paper_id(catalog, seed.title)
        async with db.transaction() as session:
            summary = await submit_summary(
                session, users["alice"], paper_id, seed.summary, moderated=False, channels=CHANNELS
            )
            ids[seed.title] = summary.id
    async with db.sessions() as session:
        for seed in seed_papers():
            stored = await get_summary(session, ids[seed.title])
            assert stored.body == seed.summary
            assert stored.paper.arxiv_id == seed.arxiv_id
            assert stored.paper.title == seed.title
            assert stored.status is SummaryStatus.APPROVED
            assert stored.html == to_telegram_html(seed.summary), "rendered when written"
            assert stored.html_version == TELEGRAM_HTML_VERSION
    zhang = seed_paper("Understanding deep learning").summary
    assert "$\\Rightarrow$" in zhang and "$p_c \\in [0, 1]$" in zhang


async def test_moderated_submission_waits_then_is_approved_and_enqueued(
    db: Database, catalog: Catalog
) -> None:
    users = await _users(db)
    paper_id = await _paper_id(catalog, "1512.03385")
    body = seed_paper("Deep Residual").summary
    async with db.transaction() as session:
        summary = await submit_summary(
            session, users["alice"], paper_id, body, moderated=True, channels=CHANNELS
        )
    assert summary.status is SummaryStatus.PENDING
    async with db.sessions() as session:
        assert [s.id for s in await pending_summaries(session)] == [summary.id]
        assert await session.scalar(select(Publication.id)) is None
        page = await read_page(session, "id", paper_id)
        assert page is not None and (page.paper.id, page.summary, page.total) == (paper_id, None, 0)
        assert await read_page(session, "id", paper_id + 1000) is None, "no such paper"

    async with db.transaction() as session:
        with pytest.raises(PermissionDenied):
            await approve_summary(session, users["bob"], summary.id, channels=CHANNELS)
    async with db.transaction() as session:
        await approve_summary(session, users["mod"], summary.id, channels=CHANNELS)
    async with db.sessions() as session:
        rows = (await session.scalars(select(Publication))).all()
        assert sorted(p.channel for p in rows) == sorted(CHANNELS)
        assert {p.state for p in rows} == {PublicationState.PENDING}
        assert [s.id for s in await latest_summaries(session)] == [summary.id]
    async with db.transaction() as session:
        with pytest.raises(Conflict, match="already approved"):
            await approve_summary(session, users["mod"], summary.id, channels=CHANNELS)


async def test_moderator_summary_is_approved_at_once(db: Database, catalog: Catalog) -> None:
    users = await _users(db)
    paper_id = await _paper_id(catalog, "1703.06870")
    async with db.transaction() as session:
        summary = await submit_summary(
            session,
            users["mod"],
            paper_id,
            seed_paper("Mask").summary,
            moderated=True,
            channels=CHANNELS,
        )
    assert summary.status is SummaryStatus.APPROVED


async def test_reject_then_edit_resubmits(db: Database, catalog: Catalog) -> None:
    users = await _users(db)
    paper_id = await _paper_id(catalog, "1511.06434")
    body = seed_paper("Unsupervised").summary
    async with db.transaction() as session:
        summary = await submit_summary(
            session, users["bob"], paper_id, body, moderated=True, channels=CHANNELS
        )
        with pytest.raises(PermissionDenied):
            await reject_summary(session, users["alice"], summary.id, "nope")
        await reject_summary(session, users["mod"], summary.id, "Please add the results.")
    async with db.transaction() as session:
        edited = await edit_summary(
            session, users["bob"], summary.id, body + "\n\n## Results\nGood."
        )
        assert edited.status is SummaryStatus.PENDING
        assert edited.reject_reason is None
        history = (await session.scalars(select(SummaryRevision.body))).all()
        assert history == [body]


async def test_one_summary_per_user_per_paper(db: Database, catalog: Catalog) -> None:
    users = await _users(db)
    paper_id = await _paper_id(catalog, "1611.03530")
    body = seed_paper("Understanding").summary
    async with db.transaction() as session:
        first = await submit_summary(
            session, users["alice"], paper_id, body, moderated=False, channels=()
        )
    async with db.transaction() as session:
        with pytest.raises(AlreadySummarized) as err:
            await submit_summary(
                session, users["alice"], paper_id, body, moderated=False, channels=()
            )
    assert err.value.summary_id == first.id
    assert f"/edit {first.id}" in str(err.value)
    async with db.transaction() as session:  # another user may summarize the same paper
        await submit_summary(session, users["bob"], paper_id, body, moderated=False, channels=())


async def test_length_bounds_are_explained(db: Database, catalog: Catalog) -> None:
    users = await _users(db)
    paper_id = await _paper_id(catalog, "1611.03530")
    async with db.transaction() as session:
        with pytest.raises(InvalidInput, match="at least 200 characters; this one has 10"):
            await submit_summary(
                session, users["alice"], paper_id, "Too short. ", moderated=False, channels=()
            )
        with pytest.raises(InvalidInput, match="at most 20,000 characters; this one has 20,001"):
            await submit_summary(
                session, users["alice"], paper_id, "x" * 20_001, moderated=False, channels=()
            )


async def test_edit_and_delete_are_for_the_author_or_a_moderator(
    db: Database, catalog: Catalog
) -> None:
    users = await _users(db)
    paper_id = await _paper_id(catalog, "1512.03385")
    body = seed_paper("Deep Residual").summary
    async with db.transaction() as session:
        summary = await submit_summary(
            session, users["alice"], paper_id, body, moderated=False, channels=CHANNELS
        )
    async with db.transaction() as session:
        with pytest.raises(PermissionDenied, match="Only the author or a moderator can edit"):
            await edit_summary(session, users["bob"], summary.id, body + " More.")
        with pytest.raises(PermissionDenied, match="can delete"):
            await delete_summary(session, users["bob"], summary.id)
    async with db.transaction() as session:
        await edit_summary(session, users["mod"], summary.id, body + " Edited by a moderator.")
    async with db.transaction() as session:
        await delete_summary(session, users["alice"], summary.id)
    async with db.sessions() as session:
        with pytest.raises(NotFound):
            await get_summary(session, summary.id)
        states = set((await session.scalars(select(Publication.state))).all())
        assert states == {PublicationState.CANCELLED}
        assert await user_summaries(session, users["alice"].id) == []
    async with db.transaction() as session:  # a deleted summary may be written anew
        again = await submit_summary(
            session, users["alice"], paper_id, body, moderated=False, channels=()
        )
        assert again.id == summary.id and again.status is SummaryStatus.APPROVED


async def _alices_summary(db: Database, catalog: Catalog) -> tuple[dict[str, User], Summary]:
    """The users, and Alice's published summary of Zhang et al. (the seed's text)."""
    users = await _users(db)
    zhang = await _paper_id(catalog, "1611.03530")
    body = seed_paper("Understanding").summary
    async with db.transaction() as session:
        a = await submit_summary(session, users["alice"], zhang, body, moderated=False, channels=())
    return users, a


async def test_votes_one_per_user_changeable_not_own(db: Database, catalog: Catalog) -> None:
    users, a = await _alices_summary(db, catalog)
    zhang, body = a.paper_id, a.body
    async with db.transaction() as session:
        b = await submit_summary(
            session, users["bob"], zhang, body + " (Bob's take.)", moderated=False, channels=()
        )
    async with db.transaction() as session:
        with pytest.raises(Conflict, match="your own summary"):
            await vote(session, users["alice"], a.id, 1)
        assert (await vote(session, users["bob"], a.id, 1)).score == 1
        assert (await vote(session, users["carol"], a.id, 1)).score == 2
        changed = await vote(session, users["carol"], a.id, -1)
        assert (changed.score, changed.my_vote) == (0, -1)
        withdrawn = await vote(session, users["carol"], a.id, -1)
        assert (withdrawn.score, withdrawn.my_vote) == (1, 0)
        assert (await vote(session, users["alice"], b.id, -1)).score == -1
        with pytest.raises(InvalidInput):
            await vote(session, users["carol"], a.id, 5)
    async with db.sessions() as session:
        pages = [await read_page(session, "id", zhang, index) for index in (0, 1, 2)]
        assert [(p.summary.id if p.summary else None, p.total) for p in pages if p] == [
            (a.id, 2),
            (b.id, 2),
            (None, 2),
        ], "best voted first; past the last, no summary but the count"
        assert pages[0] and pages[0].summary and pages[0].summary.author.id == users["alice"].id


async def test_votes_at_once_on_one_summary_all_count(db: Database, catalog: Catalog) -> None:
    users, a = await _alices_summary(db, catalog)

    async def vote_alone(voter: User) -> int:
        async with db.transaction() as session:
            return (await vote(session, voter, a.id, 1)).score

    async with db.transaction() as session:
        assert (await vote(session, users["bob"], a.id, 1)).score == 1
        second = asyncio.create_task(vote_alone(users["carol"]))
        await asyncio.sleep(0.3)  # it reaches the summary while this vote is not committed
        assert not second.done(), "the second vote waits for the first"
    assert await second == 2
    async with db.sessions() as session:
        assert await session.scalar(select(Summary.score).where(Summary.id == a.id)) == 2


async def test_banned_users_cannot_submit_or_vote(db: Database, catalog: Catalog) -> None:
    users = await _users(db)
    paper_id = await _paper_id(catalog, "1611.03530")
    async with db.transaction() as session:
        with pytest.raises(PermissionDenied):
            await set_banned(session, users["alice"], users["bob"].id, True)
        with pytest.raises(PermissionDenied, match="Moderators cannot be banned"):
            await set_banned(session, users["mod"], users["mod"].id, True)
        banned = await set_banned(session, users["mod"], users["bob"].id, True)
        with pytest.raises(PermissionDenied, match="banned"):
            await submit_summary(session, banned, paper_id, "x" * 300, moderated=False, channels=())


async def test_summaries_without_a_current_render_are_rendered_once(
    db: Database, catalog: Catalog
) -> None:
    """Rows from before renders were stored, or from an older renderer, get today's HTML."""
    users = await _users(db)
    seeds = seed_papers()[:3]
    ids = []
    paper_id = await _paper_id(catalog, "1512.03385")
    for seed, name in zip(seeds, ("alice", "bob", "carol"), strict=True):
        async with db.transaction() as session:
            summary = await submit_summary(
                session, users[name], paper_id, seed.summary, moderated=False, channels=CHANNELS
            )
            ids.append(summary.id)
    async with db.transaction() as session:
        await session.execute(
            update(Summary).where(Summary.id == ids[0]).values(html=None, html_version=None)
        )
        await session.execute(
            update(Summary)
            .where(Summary.id == ids[1])
            .values(html="<b>old</b>", html_version=TELEGRAM_HTML_VERSION - 1)
        )
    assert await render_stale(db, batch=1) == 2, "the current one is left alone"
    assert await render_stale(db) == 0
    async with db.sessions() as session:
        rows = (await session.execute(select(Summary).where(Summary.id.in_(ids)))).scalars()
        for summary in rows:
            assert summary.html == to_telegram_html(summary.body)
            assert summary.html_version == TELEGRAM_HTML_VERSION


async def test_an_edit_renders_the_new_text(db: Database, catalog: Catalog) -> None:
    users = await _users(db)
    paper_id = await _paper_id(catalog, "1512.03385")
    first, second = (seed.summary for seed in seed_papers()[:2])
    async with db.transaction() as session:
        summary = await submit_summary(
            session, users["alice"], paper_id, first, moderated=False, channels=CHANNELS
        )
    async with db.transaction() as session:
        edited = await edit_summary(session, users["alice"], summary.id, second + " $\\alpha$")
    assert edited.html == to_telegram_html(second + " $\\alpha$") and "α" in edited.html
