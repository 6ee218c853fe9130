"""The catalog end to end: references resolve through the local fake arXiv and are kept."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from storage.catalog.arxiv_source import ArxivSource, PaperData, SourceUnavailable
from storage.catalog.refs import MalformedReference
from storage.catalog.service import Catalog
from storage.catalog.store import search_papers, store_paper
from storage.db import Database
from tests.fakes.arxiv import FakeArxiv
from tests.seed import seed_paper


async def test_new_style_id_is_fetched_once_then_local(
    catalog: Catalog, fake_arxiv: FakeArxiv
) -> None:
    [paper] = await catalog.lookup("1611.03530")
    assert paper.title == "Understanding deep learning requires rethinking generalization"
    assert paper.authors[:2] == ["Chiyuan Zhang", "Samy Bengio"]
    assert paper.arxiv_id == "1611.03530"
    assert paper.year == 2016
    assert paper.categories == ["cs.LG"]
    assert paper.venue == "arXiv"
    assert paper.url == "https://arxiv.org/abs/1611.03530"
    assert len(fake_arxiv.requests) == 1

    for form in (
        "1611.03530v2",
        "arXiv:1611.03530",
        "https://arxiv.org/pdf/1611.03530v2.pdf",
        "http://export.arxiv.org/abs/1611.03530",
        "10.48550/arXiv.1611.03530",
        "https://doi.org/10.48550/arXiv.1611.03530",
    ):
        [again] = await catalog.lookup(form)
        assert again.id == paper.id, form
    assert len(fake_arxiv.requests) == 1, "every later lookup is local"


async def test_old_style_ids_and_versions(catalog: Catalog, fake_arxiv: FakeArxiv) -> None:
    [hot_jupiters] = await catalog.lookup("astro-ph/0601001")
    assert hot_jupiters.arxiv_id == "astro-ph/0601001"
    assert hot_jupiters.title.startswith("Frequency of Hot Jupiters")
    assert hot_jupiters.venue == "ActaAstron.56:1-50,2006"  # arXiv's journal_ref
    [quantum] = await catalog.lookup("quant-ph/0201082v1")
    assert quantum.arxiv_id == "quant-ph/0201082"
    [same] = await catalog.lookup("arxiv.org/abs/quant-ph/0201082")
    assert same.id == quantum.id
    assert len(fake_arxiv.requests) == 2


async def test_missing_optional_fields(catalog: Catalog) -> None:
    [paper] = await catalog.lookup("1605.08386")  # no DOI, no journal_ref
    assert paper.title == "Heat-bath random walks with Markov bases"
    assert paper.doi is None
    assert paper.venue == "arXiv"
    assert paper.categories == ["math.CO", "math.ST"]


async def test_unknown_id_is_not_found_and_not_remembered(
    catalog: Catalog, fake_arxiv: FakeArxiv
) -> None:
    assert await catalog.lookup("0901.0001") == []
    assert await catalog.lookup("0901.0001") == []
    assert len(fake_arxiv.requests) == 2, "a miss is asked again, never cached"


async def test_arxiv_failures_say_try_again_and_are_not_cached(
    catalog: Catalog, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.fail_next(2, status=503)  # the first try and its one retry
    with pytest.raises(SourceUnavailable, match="try again"):
        await catalog.lookup("1512.03385")
    [paper] = await catalog.lookup("1512.03385")
    assert paper.title == "Deep Residual Learning for Image Recognition"


async def test_arxiv_timeout_says_try_again(catalog: Catalog, fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.stall_next(1.5)  # longer than the client's 1 s timeout (not retried)
    with pytest.raises(SourceUnavailable, match="Could not reach arXiv"):
        await catalog.lookup("1703.06870")
    [paper] = await catalog.lookup("1703.06870")
    assert paper.title == "Mask R-CNN"


async def test_malformed_ids_never_reach_arxiv(catalog: Catalog, fake_arxiv: FakeArxiv) -> None:
    for text in ("arXiv:abc", "1613.99999", "https://arxiv.org/abs/12"):
        with pytest.raises(MalformedReference):
            await catalog.lookup(text)
    assert fake_arxiv.requests == []


async def test_title_search_falls_back_to_arxiv_then_is_local(
    catalog: Catalog, fake_arxiv: FakeArxiv, db: Database
) -> None:
    found = await catalog.lookup("deep residual learning")
    assert [p.arxiv_id for p in found] == ["1512.03385"]
    assert fake_arxiv.requests[0][1]["search_query"] == ["ti:deep AND ti:residual AND ti:learning"]
    again = await catalog.lookup("residual learning image")
    assert [p.arxiv_id for p in again] == ["1512.03385"]
    assert len(fake_arxiv.requests) == 1


async def test_local_search_is_ranked_full_text(catalog: Catalog, db: Database) -> None:
    for arxiv_id in ("1611.03530", "1512.03385", "1703.06870", "1511.06434"):
        await catalog.lookup(arxiv_id)
    async with db.sessions() as session:
        by_title = await search_papers(session, "generative adversarial")
        by_author = await search_papers(session, "kaiming")
        by_prefix = await search_papers(session, "convolutional gener")
        stemmed = await search_papers(session, "generalizations rethink")
        nothing = await search_papers(session, "quantum chromodynamics")
        punctuation = await search_papers(session, '"); DROP TABLE papers; --')
    assert [p.arxiv_id for p in by_title] == ["1511.06434"]
    assert {p.arxiv_id for p in by_author} == {"1512.03385", "1703.06870"}
    assert [p.arxiv_id for p in by_prefix] == ["1511.06434"]
    assert [p.arxiv_id for p in stemmed] == ["1611.03530"]
    assert nothing == []
    assert punctuation == []


async def test_search_with_no_match_anywhere(catalog: Catalog) -> None:
    assert await catalog.lookup("zzyzx quixotic") == []


async def test_concurrent_lookups_of_one_paper_store_it_once(
    catalog: Catalog, db: Database
) -> None:
    results = await asyncio.gather(*(catalog.lookup("1707.08567") for _ in range(4)))
    assert len({r[0].id for r in results}) == 1


async def test_requests_keep_arxivs_rate_limit(fake_arxiv: FakeArxiv) -> None:
    source = ArxivSource(fake_arxiv.url, timeout=2.0, delay_seconds=0.3)
    try:
        await asyncio.gather(
            *(source.fetch([i]) for i in ("1611.03530", "1512.03385", "1703.06870"))
        )
    finally:
        source.close()
    times = [t for t, _ in fake_arxiv.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2
    assert min(gaps) >= 0.29, "one request every delay_seconds, even when asked at once"


async def test_slow_arxiv_does_not_block_the_event_loop(
    catalog: Catalog, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.stall_next(0.5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    await catalog.lookup("1511.06434")
    task.cancel()
    assert time.monotonic() - started >= 0.5
    assert ticks >= 10, "the loop kept running while arXiv was slow"


async def test_a_paper_without_arxiv_record_resolves_by_its_dblp_key_and_doi(
    catalog: Catalog, db: Database, fake_arxiv: FakeArxiv
) -> None:
    alexnet = seed_paper("Imagenet classification")
    async with db.transaction() as session:
        stored = await store_paper(
            session,
            PaperData(
                title=alexnet.title,
                authors=alexnet.authors,
                source="manual",
                doi="10.1145/3065386",
                venue=alexnet.venue,
                year=alexnet.year,
                categories=alexnet.keywords,
                aliases=["dblp:conf/nips/KrizhevskySH12"],
            ),
        )
    for form in (
        "conf/nips/KrizhevskySH12",
        "conf/nips/krizhevskysh12",
        "10.1145/3065386",
        "https://doi.org/10.1145/3065386",
    ):
        [paper] = await catalog.lookup(form)
        assert paper.id == stored.id, form
    [by_title] = await catalog.lookup("imagenet classification convolutional")
    assert by_title.id == stored.id
    assert by_title.venue == "Neural Information Processing Systems Conference"
    assert fake_arxiv.requests == [], "known papers never reach arXiv"


async def test_author_names_are_found_as_written(catalog: Catalog, db: Database) -> None:
    async with db.transaction() as session:
        await store_paper(
            session,
            PaperData(
                "Calculation of prompt diphoton production cross sections at Tevatron and LHC"
                " energies",
                ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"],
                "arxiv",
                arxiv_id="0704.0001",
            ),
        )
    async with db.sessions() as session:
        found = await search_papers(session, "Nadolsky")
        both = await search_papers(session, "diphoton Nadolsky")
    assert [p.arxiv_id for p in found] == ["0704.0001"]
    assert [p.arxiv_id for p in both] == ["0704.0001"]
