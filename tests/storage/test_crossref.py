"""DOIs and title searches through the local fake Crossref, on real recorded answers."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from storage.catalog.arxiv_source import ArxivSource, PaperData, SourceUnavailable
from storage.catalog.crossref_source import CrossrefSource, jats_to_text, to_paper_data
from storage.catalog.service import Catalog
from storage.catalog.store import search_papers, store_paper
from storage.db import Database
from storage.models import Paper
from tests.conftest import CONTACT
from tests.fakes._server import Reply
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.crossref import FakeCrossref
from tests.paths import CROSSREF_CORPUS

ALEXNET_TITLE = "imagenet classification with deep convolutional neural networks"
ALEXNET_NIPS = "10.5555/2999134.2999257"
NUMPY_DOI = "10.1038/s41586-020-2649-2"


class ManualClock:
    """A monotonic clock that moves only when told to (or when the source sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


async def _count_papers(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count(Paper.id))) or 0)


async def test_doi_is_fetched_from_crossref_once_then_local(
    crossref_catalog: Catalog, fake_crossref: FakeCrossref
) -> None:
    [paper] = await crossref_catalog.lookup("https://doi.org/10.1002/JOR.1100150407")
    assert paper.title == (
        "Growth hormone secretagogue increases muscle strength during remobilization "
        "after canine hindlimb immobilization"
    )
    assert paper.authors[:3] == ["Richard L. Lieber", "Thomas M. Jacks", "Randall L. Mohler"]
    assert paper.venue == "Journal of Orthopaedic Research"
    assert paper.year == 1997  # published-print, not the 2005 online scan
    assert paper.doi == "10.1002/jor.1100150407"
    assert paper.url == "https://doi.org/10.1002/jor.1100150407"
    assert paper.source == "crossref"
    assert paper.abstract is not None
    assert paper.abstract.startswith("Twenty‐two beagles were divided into two equal groups")
    assert "(p < 0.001)" in paper.abstract
    assert "<" not in paper.abstract.replace("p < 0", "") and "jats" not in paper.abstract
    assert not paper.abstract.startswith("Abstract")
    assert [r.path for r in fake_crossref.requests] == ["/works/10.1002/jor.1100150407"]

    for form in ("10.1002/jor.1100150407", "doi:10.1002/JOR.1100150407"):
        [again] = await crossref_catalog.lookup(form)
        assert again.id == paper.id, form
    assert len(fake_crossref.requests) == 1, "every later lookup is local"


async def test_recorded_works_map_their_quirks(crossref_catalog: Catalog) -> None:
    [proceedings] = await crossref_catalog.lookup("10.1109/icdcsw.2003.1203662")
    assert proceedings.venue == (
        "23rd International Conference on Distributed Computing Systems Workshops, 2003. "
        "Proceedings."
    )
    assert proceedings.year is None  # Crossref's date-parts are [[null]]
    assert proceedings.abstract is None
    assert proceedings.authors == ["V. Arya", "T. Turletti"]
    [family_only] = await crossref_catalog.lookup("10.3892/ijo_00000353")
    assert family_only.authors[0] == "Stravopodis"
    assert family_only.year == 2009
    [pone] = await crossref_catalog.lookup("10.1371/journal.pone.0033693")
    assert pone.venue == "PLoS ONE"
    assert pone.year == 2012
    [srep] = await crossref_catalog.lookup("10.1038/srep16696")
    assert srep.abstract is not None and srep.abstract.startswith("Oligomers of alpha-synuclein")


async def test_unknown_doi_is_not_found_and_not_remembered(
    crossref_catalog: Catalog, fake_crossref: FakeCrossref
) -> None:
    assert await crossref_catalog.lookup("10.1371/notarealdoi") == []
    assert fake_crossref.requests[0].path == "/works/10.1371/notarealdoi"
    assert await crossref_catalog.lookup("10.1371/notarealdoi") == []
    assert len(fake_crossref.requests) == 2, "a miss is asked again, never cached"


async def test_user_agent_names_the_contact(
    crossref_catalog: Catalog, fake_crossref: FakeCrossref
) -> None:
    await crossref_catalog.lookup("10.1038/srep16696")
    agent = fake_crossref.requests[0].headers["user-agent"]
    assert agent.startswith("ShortSci/0.1 (https://github.com/shortsci")
    assert f"mailto:{CONTACT}" in agent


async def test_arxiv_dois_still_go_to_arxiv(
    crossref_catalog: Catalog, fake_arxiv: FakeArxiv, fake_crossref: FakeCrossref
) -> None:
    [paper] = await crossref_catalog.lookup("https://doi.org/10.48550/arXiv.1611.03530")
    assert paper.arxiv_id == "1611.03530"
    assert len(fake_arxiv.requests) == 1
    assert fake_crossref.requests == []


async def test_without_crossref_a_new_doi_is_not_found(
    catalog: Catalog, fake_arxiv: FakeArxiv
) -> None:
    assert await catalog.lookup("10.1038/srep16696") == []
    assert await catalog.external_candidates(ALEXNET_TITLE) == []
    assert fake_arxiv.requests == []


async def test_rate_limited_crossref_says_try_again_and_is_left_alone_until_retry_after(
    db: Database, arxiv_source: ArxivSource, fake_crossref: FakeCrossref
) -> None:
    clock = ManualClock()
    source = CrossrefSource(
        fake_crossref.url, contact_email=None, timeout=1.0, clock=clock, sleep=clock.sleep
    )
    catalog = Catalog(db, arxiv_source, crossref=source)
    fake_crossref.reply_next(
        "GET /works", Reply(429, "Too many requests", {"Retry-After": "30"}, "text/plain")
    )
    try:
        with pytest.raises(SourceUnavailable, match="try again"):
            await catalog.lookup("10.1038/srep16696")
        clock.now += 20
        with pytest.raises(SourceUnavailable, match="try again in 10 s"):
            await catalog.lookup("10.1038/srep16696")
        with pytest.raises(SourceUnavailable, match="try again"):
            await catalog.external_candidates(ALEXNET_TITLE)
        assert len(fake_crossref.requests) == 1, "nothing is sent before Retry-After"
        assert await _count_papers(db) == 0, "a failure is not remembered"
        clock.now += 11
        [paper] = await catalog.lookup("10.1038/srep16696")
    finally:
        await source.aclose()
    assert paper.venue == "Scientific Reports"
    assert "ShortSci/0.1" in fake_crossref.requests[-1].headers["user-agent"]
    assert "mailto" not in fake_crossref.requests[-1].headers["user-agent"]


async def test_crossref_timeout_says_try_again_and_is_not_cached(
    crossref_catalog: Catalog, fake_crossref: FakeCrossref, db: Database
) -> None:
    fake_crossref.stall_next("GET /works", 1.5)  # longer than the client's 1 s timeout
    with pytest.raises(SourceUnavailable, match="Could not reach Crossref"):
        await crossref_catalog.lookup("10.1038/srep16696")
    assert await _count_papers(db) == 0
    [paper] = await crossref_catalog.lookup("10.1038/srep16696")
    assert paper.title.startswith("Single-molecule FRET studies")


@pytest.mark.parametrize(
    "reply",
    [
        Reply(503, "<html><body>Service Unavailable</body></html>", content_type="text/html"),
        Reply(200, "<html><body>Maintenance</body></html>", content_type="text/html"),
        Reply(200, {"status": "failed", "message-type": "validation-failure", "message": []}),
    ],
    ids=["5xx", "not-json", "not-ok"],
)
async def test_unusable_answers_say_try_again(
    crossref_catalog: Catalog, fake_crossref: FakeCrossref, reply: Reply
) -> None:
    fake_crossref.reply_next("GET /works", reply)
    with pytest.raises(SourceUnavailable, match="please try again"):
        await crossref_catalog.lookup("10.1038/srep16696")
    fake_crossref.reply_next("GET /works", reply)
    with pytest.raises(SourceUnavailable, match="please try again"):
        await crossref_catalog.external_candidates(ALEXNET_TITLE)
    [paper] = await crossref_catalog.lookup("10.1038/srep16696")
    assert paper.venue == "Scientific Reports"


async def test_requests_are_paced_by_the_advertised_rate_limit(
    fake_crossref: FakeCrossref,
) -> None:
    fake_crossref.rate_limit = ("5", "1s")
    clock = ManualClock()
    source = CrossrefSource(
        fake_crossref.url, contact_email=CONTACT, timeout=1.0, clock=clock, sleep=clock.sleep
    )
    try:
        for doi in ("10.1038/srep16696", "10.3892/ijo_00000353", "10.1371/notarealdoi"):
            await source.work(doi)
    finally:
        await source.aclose()
    assert clock.sleeps == [0.2, 0.2], "five requests a second: one every 0.2 s"


async def test_title_search_offers_crossref_candidates_and_stores_the_pick(
    crossref_catalog: Catalog, fake_arxiv: FakeArxiv, fake_crossref: FakeCrossref, db: Database
) -> None:
    assert await crossref_catalog.lookup(ALEXNET_TITLE) == []
    assert len(fake_arxiv.requests) == 1, "arXiv was asked and has no AlexNet"

    candidates = await crossref_catalog.external_candidates(ALEXNET_TITLE)
    [search] = fake_crossref.requests
    assert search.path == "/works"
    assert search.query["query.bibliographic"] == [ALEXNET_TITLE]
    assert search.query["rows"] == ["5"]
    by_doi = {c.doi: c for c in candidates}
    nips = by_doi[ALEXNET_NIPS]
    assert nips.title == "ImageNet Classification with Deep Convolutional Neural Networks"
    assert nips.authors == ["Alex Krizhevsky", "Ilya Sutskever", "Geoffrey E. Hinton"]
    assert nips.venue == "Advances in Neural Information Processing Systems 25"
    assert nips.year == 2012
    assert by_doi["10.1145/3065386"].venue == "Communications of the ACM"
    assert all(len(f"pick:{c.doi}".encode()) <= 64 for c in candidates), "fits a callback"
    assert await _count_papers(db) == 0, "candidates are not stored"

    [picked] = await crossref_catalog.lookup(ALEXNET_NIPS)  # the person's pick, by DOI
    assert picked.venue == "Advances in Neural Information Processing Systems 25"
    assert picked.abstract is not None and picked.abstract.startswith("We trained a large")
    asked = len(fake_crossref.requests)
    assert [p.id for p in await crossref_catalog.lookup(f"https://doi.org/{ALEXNET_NIPS}")] == [
        picked.id
    ]
    assert [p.id for p in await crossref_catalog.lookup(ALEXNET_TITLE)] == [picked.id]
    assert len(fake_crossref.requests) == asked, "after the pick, lookups are local"
    assert len(fake_arxiv.requests) == 1


async def test_nothing_anywhere_gives_no_candidates(crossref_catalog: Catalog) -> None:
    assert await crossref_catalog.lookup("zzyzx quixotic") == []
    assert await crossref_catalog.external_candidates("zzyzx quixotic") == []


async def test_preprint_first_then_published_record_is_one_paper(
    crossref_catalog: Catalog,
    crossref_source: CrossrefSource,
    fake_crossref: FakeCrossref,
    db: Database,
) -> None:
    [preprint] = await crossref_catalog.lookup("2006.10256")
    assert preprint.doi == NUMPY_DOI  # from arXiv's <arxiv:doi>
    assert preprint.venue == "Nature 585, 357-362 (2020)"  # arXiv's journal_ref
    [by_doi] = await crossref_catalog.lookup(NUMPY_DOI)
    assert by_doi.id == preprint.id
    assert fake_crossref.requests == [], "the DOI was known from arXiv"

    [candidate] = [c for c in await crossref_catalog.external_candidates("array programming numpy")]
    assert candidate.doi == NUMPY_DOI
    [merged] = await crossref_catalog.store([candidate])
    assert merged.id == preprint.id
    assert (merged.arxiv_id, merged.doi) == ("2006.10256", NUMPY_DOI)
    assert (merged.venue, merged.year, merged.source) == ("Nature", 2020, "crossref")
    assert merged.categories == ["cs.MS", "stat.CO", "Multidisciplinary"]
    assert await _count_papers(db) == 1


async def test_published_record_first_then_preprint_is_one_paper(
    crossref_catalog: Catalog, fake_arxiv: FakeArxiv, db: Database
) -> None:
    [published] = await crossref_catalog.lookup(f"https://doi.org/{NUMPY_DOI}")
    assert published.arxiv_id is None
    assert (published.venue, published.year) == ("Nature", 2020)
    assert published.authors[2] == "Stéfan J. van der Walt"
    assert published.abstract is not None
    assert published.abstract.startswith("Array programming provides a powerful")
    assert "gravitational waves1 and" in published.abstract  # <jats:sup> kept as text

    [preprint] = await crossref_catalog.lookup("arXiv:2006.10256v1")
    assert preprint.id == published.id
    assert len(fake_arxiv.requests) == 1
    assert (preprint.arxiv_id, preprint.doi) == ("2006.10256", NUMPY_DOI)
    assert (preprint.venue, preprint.year) == ("Nature", 2020), "the published venue stays"
    assert preprint.url == f"https://doi.org/{NUMPY_DOI}"
    assert preprint.categories == ["Multidisciplinary", "cs.MS", "stat.CO"]
    [again] = await crossref_catalog.lookup("2006.10256v1")
    assert again.id == published.id
    assert await _count_papers(db) == 1


async def test_preprint_and_published_record_stored_apart_are_left_apart(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.transaction() as session:
        preprint = await store_paper(
            session, PaperData("Array Programming with NumPy", [], "arxiv", arxiv_id="2006.10256")
        )
        published = await store_paper(
            session, PaperData("Array programming with NumPy", [], "crossref", doi=NUMPY_DOI)
        )
    with caplog.at_level(logging.WARNING, logger="storage.catalog.store"):
        async with db.transaction() as session:
            linked = PaperData(
                "Array Programming with NumPy", [], "arxiv", arxiv_id="2006.10256", doi=NUMPY_DOI
            )
            again = await store_paper(session, linked)
    assert again.id == preprint.id
    assert again.doi is None, "the DOI stays with the paper that has it"
    assert "stored as two papers" in caplog.text
    async with db.sessions() as session:
        by_title = await search_papers(session, "array programming numpy")
    assert {p.id for p in by_title} == {preprint.id, published.id}


def test_crossref_preprint_relation_names_the_arxiv_id() -> None:
    work = {
        "DOI": NUMPY_DOI.upper(),
        "title": ["Array programming with <i>NumPy</i>"],
        "author": [{"name": "NumPy Developers", "sequence": "first"}],
        "container-title": ["Lecture Notes in Computer Science", "Proceedings of SciPy 2020"],
        "issued": {"date-parts": [[2020, 9]]},
        "relation": {
            "has-preprint": [
                {"id-type": "doi", "id": "10.48550/arXiv.2006.10256", "asserted-by": "subject"}
            ]
        },
    }
    data = to_paper_data(work)
    assert data is not None
    assert (data.doi, data.arxiv_id) == (NUMPY_DOI, "2006.10256")
    assert data.title == "Array programming with NumPy"
    assert data.authors == ["NumPy Developers"]
    assert data.venue == "Proceedings of SciPy 2020"
    assert (data.year, data.published) == (2020, None)
    assert data.url == f"https://doi.org/{NUMPY_DOI}"
    assert to_paper_data({"title": ["No DOI"]}) is None


def test_jats_abstracts_become_plain_text() -> None:
    markup = (
        "<jats:sec><jats:title>Background</jats:title>\n  <jats:p>Water is H<jats:sub>2</jats:sub>O"
        " &amp; ice,\n   <jats:italic>mostly</jats:italic>.</jats:p></jats:sec>"
        "<jats:sec><jats:title>Results</jats:title><jats:p>p &lt; 0.05</jats:p></jats:sec>"
    )
    assert jats_to_text(markup) == (
        "Background\n\nWater is H2O & ice, mostly.\n\nResults\n\np < 0.05"
    )
    assert jats_to_text("<jats:title>Abstract</jats:title><jats:p>One  line.</jats:p>") == (
        "One line."
    )
    assert jats_to_text("<p>Plain <b>HTML</b> too</p>") == "Plain HTML too"


async def test_a_recorded_search_answer_is_read_as_candidates(
    fake_crossref: FakeCrossref, crossref_source: CrossrefSource
) -> None:
    recorded = (CROSSREF_CORPUS / "test_works_query_0.json").read_bytes()
    fake_crossref.reply_next("GET /works", Reply(200, recorded))
    found = await crossref_source.search("ecology", rows=2)
    assert [(c.title, c.venue, c.year) for c in found] == [
        ("Communicating Ecology", "Ecology", 2022),
        ("Chemical Ecology", "Ecology", 2012),
    ]
    assert found[0].authors == []
    assert found[1].authors == ["André Kessler"]
    assert found[0].abstract is not None
    assert found[0].abstract.startswith("Communication is perhaps the most important")
    assert all(c.source == "crossref" and c.doi for c in found)
