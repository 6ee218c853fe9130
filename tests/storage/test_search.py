"""Title search: which papers come first, on real titles, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text

from storage.catalog import rare_phrases
from storage.catalog.arxiv_source import PaperData
from storage.catalog.search import search_papers
from storage.catalog.store import store_paper
from storage.db import Database
from storage.summaries import submit_summary
from storage.users import ensure_user
from tests.seed import seed_paper

# Real papers, in the order they are stored: a worse match is stored first, so that
# only the ranking (not the order of storage) can put the better one first.
PAPERS = [
    ("1611.05431", "Aggregated Residual Transformations for Deep Neural Networks", ["Saining Xie"]),
    ("1603.05027", "Identity Mappings in Deep Residual Networks", ["Kaiming He"]),
    ("1605.07146", "Wide Residual Networks", ["Sergey Zagoruyko", "Nikos Komodakis"]),
    (
        "1411.4038",
        "Fully Convolutional Networks for Semantic Segmentation",
        ["Jonathan Long", "Evan Shelhamer", "Trevor Darrell"],
    ),
    ("1503.04069", "LSTM: A Search Space Odyssey", ["Klaus Greff", "Rupesh K. Srivastava"]),
    ("1402.1128", "Long Short-Term Memory Based Recurrent Neural Network Architectures", []),
    ("2010.13154", "Attention is All You Need in Speech Separation", ["Cem Subakan"]),
    ("1706.03762", "Attention Is All You Need", ["Ashish Vaswani", "Noam Shazeer"]),
    ("1409.2329", "Recurrent Neural Network Regularization", ["Wojciech Zaremba"]),
    ("1303.5778", "Speech Recognition with Deep Recurrent Neural Networks", ["Alex Graves"]),
]


async def _store(db: Database, papers: list[tuple[str, str, list[str]]]) -> dict[str, int]:
    async with db.transaction() as session:
        stored = [
            await store_paper(session, PaperData(title, authors, "arxiv", arxiv_id=arxiv_id))
            for arxiv_id, title, authors in papers
        ]
    return {p.title: p.id for p in stored}


async def _titles(
    db: Database, words: str, *, limit: int = 10, offset: int = 0, with_summaries: bool = False
) -> list[str]:
    async with db.sessions() as session:
        found = await search_papers(
            session, words, limit=limit, offset=offset, with_summaries=with_summaries
        )
    return [p.title for p in found]


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent to the database meanwhile."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_the_words_together_in_a_title_come_first(db: Database) -> None:
    await _store(db, PAPERS)
    assert await _titles(db, "residual networks") == [
        "Wide Residual Networks",
        "Identity Mappings in Deep Residual Networks",
        "Aggregated Residual Transformations for Deep Neural Networks",
    ]
    assert (await _titles(db, "Attention Is All You Need"))[0] == "Attention Is All You Need"


async def test_a_title_holding_the_word_comes_before_an_author_of_that_name(
    db: Database,
) -> None:
    await _store(db, PAPERS)
    found = await _titles(db, "long")
    assert found[0] == "Long Short-Term Memory Based Recurrent Neural Network Architectures"
    assert "Fully Convolutional Networks for Semantic Segmentation" in found  # Jonathan Long


async def test_the_words_as_typed_come_before_other_forms(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL ranks both forms alike (cover density), shorter title first")
    await _store(db, PAPERS)
    assert await _titles(db, "recurrent neural networks") == [
        "Speech Recognition with Deep Recurrent Neural Networks",
        "Recurrent Neural Network Regularization",
        "Long Short-Term Memory Based Recurrent Neural Network Architectures",
    ]


async def test_common_words_need_not_be_in_the_title(db: Database) -> None:
    await _store(db, PAPERS)
    assert await _titles(db, "the identity mappings of residual networks") == [
        "Identity Mappings in Deep Residual Networks"
    ]


async def test_the_last_word_may_be_unfinished(db: Database) -> None:
    await _store(db, PAPERS)
    assert await _titles(db, "semantic segm") == [
        "Fully Convolutional Networks for Semantic Segmentation"
    ]
    assert await _titles(db, "shazeer") == ["Attention Is All You Need"]
    assert await _titles(db, "shaz") == ["Attention Is All You Need"]


async def test_pages_continue_each_other(db: Database) -> None:
    kinds = ["Sparse Kernels", "Kernels That Are Sparse", "Learning Sparse Kernels Quickly"]
    await _store(
        db,
        [
            (f"1601.{n:05d}", f"{kinds[n % 3]} for Problem {n}" + " Again" * (n % 4), [])
            for n in range(1, 36)
        ],
    )
    everything = await _titles(db, "sparse kernels", limit=50)
    assert len(everything) == 35
    assert all("Sparse Kernels" in title for title in everything[:23])  # the phrase first
    assert everything[0] == "Sparse Kernels for Problem 12"  # the shortest
    for limit in (5, 10, 20):
        pages = [
            await _titles(db, "sparse kernels", limit=limit, offset=offset)
            for offset in range(0, 50, limit)
        ]
        assert [title for page in pages for title in page] == everything


async def test_only_summarized_papers_when_asked(db: Database) -> None:
    ids = await _store(db, PAPERS)
    async with db.transaction() as session:
        moderator = await ensure_user(session, 1, username="mod", admins=frozenset({1}))
        body = seed_paper("Deep Residual").summary
        paper_id = ids["Identity Mappings in Deep Residual Networks"]
        await submit_summary(session, moderator, paper_id, body, moderated=True, channels=())
    summarized = await _titles(db, "residual networks", with_summaries=True)
    assert summarized == ["Identity Mappings in Deep Residual Networks"]
    assert await _titles(db, "wide residual", with_summaries=True) == []


async def test_a_full_name_finds_its_author(db: Database) -> None:
    await _store(db, PAPERS)
    assert await _titles(db, "Noam Shazeer") == ["Attention Is All You Need"]
    assert await _titles(db, "kaiming he") == ["Identity Mappings in Deep Residual Networks"]


async def test_a_page_costs_one_statement(db: Database) -> None:
    """One, whether titles holding the phrase fill the page or other papers do; and one more
    the first time a word is searched in a while, reading how many papers hold it."""
    papers = [
        (f"1701.{n:05d}", f"Sparse Kernels for Problem {n}", ["Ada Lovelace"]) for n in range(1, 13)
    ]
    await _store(db, [*papers, *PAPERS])
    with _statements(db) as sent:
        found = await _titles(db, "sparse kernels")
    assert len(found) == 10
    assert len(sent) == (2 if db.dialect == "sqlite" else 1)
    with _statements(db) as sent:
        assert await _titles(db, "sparse kernels") == found
    assert len(sent) == 1
    with _statements(db) as sent:
        found = await _titles(db, "deep residual networks")
    assert found == [
        "Identity Mappings in Deep Residual Networks",  # the phrase
        "Aggregated Residual Transformations for Deep Neural Networks",  # all the words
    ]
    assert len(sent) == (2 if db.dialect == "sqlite" else 1)  # "deep", "residual": new words
    with _statements(db) as sent:
        found = await _titles(db, "sparse kernels", limit=5, offset=10)
    assert found == ["Sparse Kernels for Problem 11", "Sparse Kernels for Problem 12"]
    assert len(sent) == 1


# Rare phrases of common words: the papers holding the rarer words, matched again in memory.
GENERATED = [
    (f"2301.{n:05d}", f"{lead} {kind} {what}", [f"Author {n}"])
    for n, (lead, kind, what) in enumerate(
        (
            (lead, kind, what)
            for lead in ("Transformer-based", "Score-based", "Graph-based")
            for kind in ("Convex", "Sparse", "Deep", "Robust")
            for what in ("Inference", "Kernels", "Networks", "Pruning")
        ),
        start=1,
    )
] + [
    ("2302.00001", "Convex Inference for Transformer-based Models", ["Ada Lovelace"]),
    ("2302.00002", "Transformer-based Models of Convex Inference", ["Convex Smith"]),
    ("2302.00003", "Networks: Transformer-based Residual Networks", ["Kaiming He"]),
]
CASES: list[tuple[str, dict[str, Any]]] = [
    ("transformer-based convex inference", {}),
    ("Transformer based convex", {"limit": 3}),
    ("convex inference", {}),
    ("transformer based residual networks", {}),
    ("residual networks", {}),
    ("recurrent neural networks", {}),
    ("the identity mappings of residual networks", {}),
    ("deep residual networks", {}),
    ("graph based deep", {"limit": 5, "offset": 2}),
    ("score based", {"limit": 20, "offset": 10}),
    ("kaiming he", {}),
    ("convex smith", {}),
    ("networks", {"limit": 4}),
    ("attention is all you need", {}),
    ("wide residual", {"with_summaries": True}),
    ("residual networks", {"with_summaries": True}),
]


async def _pages(db: Database) -> list[list[str]]:
    return [await _titles(db, words, **kwargs) for words, kwargs in CASES]


async def _fts5_catalog_pages(db: Database) -> list[list[str]]:
    """The catalog of papers stored (SQLite only: skips elsewhere), and its pages as searched."""
    if db.dialect != "sqlite":
        pytest.skip("FTS5 only")
    await _store(db, [*PAPERS, *GENERATED])
    return await _pages(db)


async def test_the_rarer_words_papers_matched_again_are_found_alike(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scanning some of the words and matching their papers again in memory finds the same
    papers in the same order as the phrase's own scan, whichever words are scanned."""
    if db.dialect != "sqlite":
        pytest.skip("FTS5 only")
    ids = await _store(db, [*PAPERS, *GENERATED])
    async with db.transaction() as session:
        moderator = await ensure_user(session, 1, username="mod", admins=frozenset({1}))
        body = seed_paper("Deep Residual").summary
        for title in ("Identity Mappings in Deep Residual Networks", "Wide Residual Networks"):
            await submit_summary(session, moderator, ids[title], body, moderated=True, channels=())
    expected = await _pages(db)  # a small catalog: the usual statement
    assert expected[0][0] == "Transformer-based Convex Inference"
    for scanned in (slice(None), slice(-1, None), slice(0, 1)):

        def rare(self: object, plan: Any, now: float, scanned: slice = scanned) -> list[str]:
            return list(plan.content[scanned])

        monkeypatch.setattr(rare_phrases.Densities, "rare", rare)
        with _statements(db) as sent:
            assert await _pages(db) == expected
        assert sum("MATERIALIZED" in sql for sql in sent) == len(CASES)


async def test_too_many_candidates_fall_back_to_the_phrase(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await _fts5_catalog_pages(db)
    monkeypatch.setattr(rare_phrases.Densities, "rare", lambda self, plan, now: list(plan.content))
    monkeypatch.setattr(rare_phrases, "CANDIDATES", 1)
    with _statements(db) as sent:
        assert await _pages(db) == expected
    assert any("MATERIALIZED" in sql for sql in sent)  # the candidates' number, then
    assert any("phrase AS" in sql for sql in sent)  # the usual statement


async def test_the_in_memory_match_reads_text_as_the_catalog_does(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("FTS5 only")
    async with db.engine.connect() as conn:
        sql = await conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'papers_fts'"))
    assert f"tokenize='{rare_phrases._TOKENIZE}'" in sql


async def test_densities_read_before_the_search_find_the_same_pages(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new word's density is read first, by a statement of its own."""
    expected = await _fts5_catalog_pages(db)
    db_fresh = Database(db.url)  # densities are kept per database engine
    monkeypatch.setattr(rare_phrases, "_MATCH", 0)  # the candidates whenever they may serve
    try:
        with _statements(db_fresh) as sent:
            assert await _pages(db_fresh) == expected
    finally:
        await db_fresh.dispose()
    assert any("OFFSET 63" in sql and "phrase" not in sql for sql in sent)
    assert any("MATERIALIZED" in sql for sql in sent)


async def test_an_empty_catalog_finds_nothing(db: Database) -> None:
    assert await _titles(db, "residual networks") == []
    assert await _titles(db, "residual networks", with_summaries=True) == []
