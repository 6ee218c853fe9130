"""Rare phrases of dense words: the papers holding their rarer words, matched again in memory.

The slow searches are rare phrases of dense words ("Transformer-based Convex Inference",
with "based" in a quarter of the titles): no LIMIT ends the scan, and FTS5 matches several
words by reading nearly all their index entries (10-30 ns for each paper holding one), a
few milliseconds for every dense word. When the phrase's rarer words are expected on few
enough papers (`CANDIDATES`), a search scans those words only, matches the papers holding
them again in an in-memory FTS5 table with the catalog's tokenizer, and ranks them as the
usual statement's: the same papers in the same order, from a fraction of the reading (two
statements: the candidates' titles and authors, then the chosen papers).

How dense a word is, is read from the index (where its 64th match from either end lies:
a few index seeks) the first time it is searched, and kept per database for a while.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from storage.catalog.search import Plan

# Costs are counted in index entries read: matching a candidate again (loading its title and
# authors, indexing them in memory) costs about as much as reading `_MATCH` entries (~7 µs).
CANDIDATES = 300  # the most papers matched again in memory
_MATCH = 500
_GAIN = 1.25  # the phrase's worst cost must be this many times the candidates'
_RANK = 64  # a word's density: where its 64th match from either end of the ids lies
_PROBES = 8  # the most words whose density one statement reads
_KNOWN_FOR = 600.0  # seconds a density is trusted (the catalog grows)
_KNOWN_MAX = 50_000  # densities kept per database
# The catalog's tokenizer (migration 0001): the in-memory table must read text alike.
_TOKENIZE = "porter unicode61 remove_diacritics 2"

# Only papers with an approved summary (a filter on papers_fts, here and in `search`).
SUMMARIZED = (
    " AND EXISTS (SELECT 1 FROM summaries WHERE summaries.paper_id = papers_fts.rowid"
    " AND summaries.status = 'approved')"
)


def _nth_match(probe: int, order: str) -> str:
    """The id of word :probe<probe>'s `_RANK`-th match, in `order` of the ids."""
    return (
        f"(SELECT rowid FROM papers_fts WHERE papers_fts MATCH :probe{probe}"  # noqa: S608 (our names)
        f" ORDER BY rowid{order} LIMIT 1 OFFSET {_RANK - 1})"
    )


# By the number of words: the largest paper id, then each word's `_nth_match` from either end.
_READS = [
    text(
        "SELECT "  # noqa: S608 (our names)
        + ", ".join(
            ["(SELECT max(id) FROM papers)"]
            + [_nth_match(i, order) for i in range(n) for order in ("", " DESC")]
        )
    )
    for n in range(_PROBES + 1)
]


@dataclass
class Densities:
    """What share of one database's papers hold each word (estimated), for a while."""

    top: int = 0  # the largest paper id when last read
    known: dict[str, tuple[float, float]] = field(default_factory=dict)  # word: share, until
    crowded: dict[frozenset[str], float] = field(default_factory=dict)  # words: until

    def share(self, word: str, now: float) -> float | None:
        found = self.known.get(word)
        return found[0] if found is not None and found[1] > now else None

    async def read(self, session: AsyncSession, plan: Plan, now: float) -> None:
        """Reads the densities of the plan's words not known yet (at most `_PROBES`), in a
        statement of their own."""
        words = [t for t in plan.terms if self.share(t, now) is None][:_PROBES]
        if not words:
            return
        params = {f"probe{i}": f'"{word}"' for i, word in enumerate(words)}
        top, *ends = (await session.execute(_READS[len(words)], params)).one()
        self.top = top or 0  # (none in an empty catalog)
        if len(self.known) + len(words) > _KNOWN_MAX:
            self.known.clear()
        until = time.monotonic() + _KNOWN_FOR
        for word, first, last in zip(words, ends[::2], ends[1::2], strict=True):
            if first is None or last is None:  # fewer than `_RANK` matches
                share = _RANK / max(self.top, _RANK)
            else:  # the denser end (the catalog's words change over the years)
                share = max(_RANK / max(first, 1), _RANK / max(self.top - last + 1, 1))
            self.known[word] = min(share, 1.0), until

    def too_many(self, words: list[str]) -> None:
        """More than `CANDIDATES` papers hold all these words: their scan is not worth it."""
        if len(self.crowded) >= _KNOWN_MAX:
            self.crowded.clear()
        self.crowded[frozenset(words)] = time.monotonic() + _KNOWN_FOR

    def rare(self, plan: Plan, now: float) -> list[str] | None:
        """The words to scan for candidates instead of the phrase, if `_GAIN` times cheaper.

        The phrase costs at worst every entry of its words (if it is rare, no LIMIT ends
        the scan); the candidates, the entries of the words scanned (the rarest first) and
        `_MATCH` for each paper expected to hold them all (the words of a compound counted
        once), at most `CANDIDATES` of them.
        """
        share = {t: s for t in plan.terms if (s := self.share(t, now)) is not None}
        if len(share) < len(plan.terms):
            return None
        worst = sum(share.values()) * self.top
        best: tuple[float, list[str]] | None = None
        read = 0.0
        narrowest: dict[str, float] = {}  # compound: the smallest share of its words chosen
        chosen: list[str] = []
        for word, compound in sorted(
            zip(plan.content, plan.compound, strict=True), key=lambda c: share[c[0]]
        ):
            chosen.append(word)
            read += share[word] * self.top
            narrowest[compound] = min(share[word], narrowest.get(compound, 1.0))
            expected = math.prod(narrowest.values()) * self.top
            if expected > CANDIDATES or self.crowded.get(frozenset(chosen), 0.0) > now:
                continue
            cost = read + _MATCH * expected
            if best is None or cost < best[0]:
                best = cost, list(chosen)
        return best[1] if best is not None and best[0] * _GAIN < worst else None


_DENSITIES: weakref.WeakKeyDictionary[Any, Densities] = weakref.WeakKeyDictionary()


def densities(session: AsyncSession) -> Densities:
    """The densities known of the session's database."""
    bind = session.sync_session.get_bind()
    return _DENSITIES.setdefault(getattr(bind, "engine", bind), Densities())


class Candidate(NamedTuple):
    """A paper holding the rare words, as ranking reads it (authors decoded as the ORM does)."""

    id: int
    title: str
    authors: Any


# The number of papers holding the words :rare (`n`, in a row of its own), then, unless more
# than :most, those papers (ids, titles, authors as stored): a LIMIT of 0 loads none.
_CANDIDATES = tuple(
    text(
        "WITH c AS MATERIALIZED (SELECT rowid AS id FROM papers_fts WHERE papers_fts MATCH :rare"  # noqa: S608 (our names)
        f"{summarized} ORDER BY rowid LIMIT :most + 1)"
        " SELECT NULL AS id, NULL AS title, NULL AS authors, count(*) AS n FROM c"
        " UNION ALL SELECT * FROM (SELECT papers.id, papers.title, papers.authors, NULL FROM c"
        " JOIN papers ON papers.id = c.id"
        " LIMIT (SELECT CASE WHEN count(*) <= :most THEN :most ELSE 0 END FROM c))"
    )
    for summarized in ("", SUMMARIZED)
)
_POOLS = threading.local()  # an in-memory FTS5 connection per thread, made when first needed


def _pool() -> sqlite3.Connection:
    """This thread's in-memory FTS5 table with the catalog's tokenizer."""
    db: sqlite3.Connection | None = getattr(_POOLS, "db", None)
    if db is None:
        db = _POOLS.db = sqlite3.connect(":memory:", isolation_level=None)
        db.execute(
            "CREATE VIRTUAL TABLE pool USING fts5(title, authors, content='', columnsize=0,"
            f" tokenize='{_TOKENIZE}')"
        )
    return db


async def match_again(
    session: AsyncSession,
    plan: Plan,
    rare: list[str],
    sizes: dict[str, int],
    summarized: bool,
    known: Densities,
) -> tuple[list[Candidate], list[Candidate]] | None:
    """What the usual statement would find among the papers holding the `rare` words.

    That is, in id order, the first :n papers holding the phrase and, if fewer than :want,
    the first max(:pool, :want + their number) holding all the words (`sizes`). None if
    more than `CANDIDATES` papers hold the rare words, or none does (or a word FTS5 reads
    no token in, which a query of all the words skips): the usual statement serves.
    """
    params = {"rare": " ".join(f'"{word}"' for word in rare), "most": CANDIDATES}
    rows = (await session.execute(_CANDIDATES[summarized], params)).all()
    if next(row.n for row in rows if row.id is None) > CANDIDATES:
        known.too_many(rare)
        return None
    texts = [(row.id, row.title, row.authors) for row in rows if row.id is not None]
    if not texts:
        return None
    db, first = _pool(), "SELECT rowid FROM pool WHERE pool MATCH ? ORDER BY rowid LIMIT ?"
    db.execute("BEGIN")
    try:
        db.executemany("INSERT INTO pool(rowid, title, authors) VALUES (?, ?, ?)", texts)
        phrased = [i for (i,) in db.execute(first, (plan.phrase, sizes["n"]))]
        found: list[int] = []
        if len(phrased) < sizes["want"]:
            most = max(sizes["pool"], sizes["want"] + len(phrased))
            found = [i for (i,) in db.execute(first, (plan.words, most))]
    finally:
        db.execute("ROLLBACK")
    by_id = {row[0]: row for row in texts}
    read = {i: Candidate(i, by_id[i][1], json.loads(by_id[i][2])) for i in {*phrased, *found}}
    return [read[i] for i in phrased], [read[i] for i in found]
