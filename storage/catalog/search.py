"""Title search over the local catalog: FTS5 on SQLite, a tsvector column on PostgreSQL.

On SQLite the best matches are found without bm25. bm25 scores every match and, to weigh
each word, first reads the word's whole index entry: three common words cost tens of
milliseconds over a million titles, whatever the page size. Instead a search asks FTS5 for
its first matches in id order, which ends the scan as soon as enough are found, and ranks
those itself:

1. papers holding the words as a phrase (the first `PHRASE_POOL`: titles, or an author's
   full name), those whose title holds the words exactly as typed first, then the shortest
   (the nearest to the words alone); one word is looked for in titles only;
2. if fewer than asked for, the other papers holding all the words but the stop words
   (the first `WORDS_POOL`): titles holding the typed phrase, then titles holding every
   word, then those that hold some only among the authors, shortest first;
3. if nothing at all matches, the same with the last word read as a prefix ("convolutional
   gener"), so a word being typed still finds something.

Matches beyond a pool follow in id order, so every page of a search continues the one
before. A page is usually one statement: the phrase's matches and, only if they do not fill
it, those of all the words, each loaded with its paper.

The slow searches are rare phrases of dense words ("Transformer-based Convex Inference",
with "based" in a quarter of the titles): no LIMIT ends the scan, and FTS5 matches several
words by reading nearly all their index entries (10-30 ns for each paper holding one), a
few milliseconds for every dense word. When the phrase's rarer words are expected on few
enough papers (`CANDIDATES`), a search scans those words only, matches the papers holding
them again in an in-memory FTS5 table with the catalog's tokenizer, and ranks them as
above: the same papers in the same order, from a fraction of the reading (two statements:
the candidates' titles and authors, then the chosen papers). How dense a word is, is read
from the index (where its 64th match from either end lies) the first time it is searched:
in passing by the usual statement, or, in a catalog of `_LARGE` papers or more, by a
statement of its own first; it is kept per database for a while.

Reading the last word as a prefix only when nothing holds it whole keeps a finished query
from paying for a prefix expansion ("for*" is every "for", "forecasting", "formal"...).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import string
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    Row,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import on_postgres
from storage.models import Paper, Summary, SummaryStatus

_TERM = re.compile(r"[^\W_]+")
# Words too common to narrow a search (and the longest index entries to read): a match need
# not hold them, as PostgreSQL's 'english' configuration ignores them, unless in the phrase.
# fmt: off
_STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "in", "into", "is", "it", "its", "of", "on", "or", "the", "to", "via", "what", "when",
    "which", "with",
})
# fmt: on
PHRASE_POOL = 10  # titles holding the phrase, ranked
WORDS_POOL = 20  # other matches of all the words, ranked
MIN_PREFIX = 3  # the shortest last word read as a prefix
# "Typed as is": the title, lower-cased (ASCII only, as SQLite's lower()) and without
# punctuation or spaces, holds the words run together.
_PUNCTUATION = " -:,.;?!()[]'\"/"
_SQUASH = str.maketrans(string.ascii_uppercase, string.ascii_lowercase, _PUNCTUATION)

_SUMMARIZED = (
    " AND EXISTS (SELECT 1 FROM summaries WHERE summaries.paper_id = papers_fts.rowid"
    " AND summaries.status = 'approved')"
)

# Rare phrases of dense words (see the module's docstring). Costs are counted in index
# entries read: matching a candidate again (loading its title and authors, indexing them in
# memory) costs about as much as reading `_MATCH` entries (~7 µs).
CANDIDATES = 300  # the most papers matched again in memory
_MATCH = 500
_GAIN = 1.25  # the phrase's worst cost must be this many times the candidates'
_RANK = 64  # a word's density: where its 64th match from either end of the ids lies
_PROBES = 8  # the most words whose density one statement reads
_LARGE = 10_000  # papers from which new words' densities are read before the search
_KNOWN_FOR = 600.0  # seconds a density is trusted (the catalog grows)
_KNOWN_MAX = 50_000  # densities kept per database
# The catalog's tokenizer (migration 0001): the in-memory table must read text alike.
_TOKENIZE = "porter unicode61 remove_diacritics 2"


@dataclass(frozen=True)
class _Plan:
    """One reading of the searched words, as FTS5 queries and what ranking needs."""

    phrase: str  # FTS5: the words as a phrase (one word: in the title)
    words: str  # FTS5: every word but the stop words, in the title or among the authors
    typed: str  # the words run together, lower-cased
    content: tuple[str, ...]  # the words but the stop words, lower-cased
    terms: tuple[str, ...]  # every word of the phrase, once each, lower-cased
    # For each of `content`, the first word of the compound it was typed in ("fine" for
    # "fine-grained"): a compound's words go together rather than narrow each other.
    compound: tuple[str, ...]


def _quote(term: str) -> str:
    return f'"{term}"'


def _plans(words: str) -> list[_Plan]:
    """The words read whole; then, if the last is long enough, it read as a prefix."""
    terms = [t.lower() for t in _TERM.findall(words)]
    if not terms:
        return []
    content = tuple(dict.fromkeys(t for t in terms if t not in _STOP_WORDS)) or tuple(
        dict.fromkeys(terms)
    )
    typed = "".join(terms)
    first_of: dict[str, str] = {}
    for chunk in words.split():
        parts = [t.lower() for t in _TERM.findall(chunk)]
        for part in parts:
            first_of.setdefault(part, parts[0])
    compound = tuple(first_of.get(t, t) for t in content)
    # No column filter on a phrase of several words: FTS5 would copy the title's positions
    # out of every entry it walks, 5-15 % of a rare phrase's scan; such a phrase is in a
    # title or is an author's full name anyway.
    phrase = ("{title}: " if len(terms) == 1 else "") + _quote(" ".join(terms))
    unique = tuple(dict.fromkeys(terms))
    whole = _Plan(phrase, " ".join(map(_quote, content)), typed, content, unique, compound)
    last = terms[-1]
    if len(last) < MIN_PREFIX:
        return [whole]
    head = [_quote(t) for t in content if t != last]
    unfinished = " ".join([*head, _quote(last) + "*"])
    return [whole, _Plan(phrase + "*", unfinished, typed, content, unique, compound)]


class _Match(Protocol):
    """What ranking reads of a match: a `Paper`, or a candidate's `_Text`."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def authors(self) -> Any: ...


class _Text(NamedTuple):
    """A candidate as ranking reads it (authors decoded as the ORM decodes them)."""

    id: int
    title: str
    authors: Any


_M = TypeVar("_M", bound=_Match)


def _squashed(title: str) -> str:
    return title.translate(_SQUASH)


def _phrase_fit(plan: _Plan) -> Callable[[_Match], tuple[bool, int, int]]:
    """Ranks a phrase match: the words as typed ("networks", not "network"), then short."""

    def key(paper: _Match) -> tuple[bool, int, int]:
        return plan.typed not in _squashed(paper.title), len(paper.title), paper.id

    return key


def _title_fit(plan: _Plan) -> Callable[[_Match], tuple[bool, bool, int, int]]:
    """Ranks a match: the words as typed in its title, all of them there, then short."""

    def key(paper: _Match) -> tuple[bool, bool, int, int]:
        title = _squashed(paper.title)
        authors = str(paper.authors).lower()
        by_author = any(t in authors and t not in title for t in plan.content)
        return plan.typed not in title, by_author, len(paper.title), paper.id

    return key


def _sizes(want: int) -> dict[str, int]:
    """What `_best` needs: the phrase's first :n matches and, if fewer than :want, the
    first max(:pool, :want + their number) matches of all the words."""
    return {"n": max(want, PHRASE_POOL), "want": want, "pool": WORDS_POOL}


def _best(plan: _Plan, phrased: Sequence[_M], found: Sequence[_M], want: int) -> list[_M]:
    """The best `want` of a plan's matches, from those `_sizes` asks for, in id order."""
    ranked = sorted(phrased[:PHRASE_POOL], key=_phrase_fit(plan)) + list(phrased[PHRASE_POOL:])
    if len(ranked) >= want:
        return ranked[:want]
    seen = {p.id for p in phrased}  # all of the phrase's matches: fewer than asked for
    pool = [p for p in found[:WORDS_POOL] if p.id not in seen]
    rest = [p for p in found[WORDS_POOL:] if p.id not in seen]
    return (ranked + sorted(pool, key=_title_fit(plan)) + rest)[:want]


# Densities: how much of its index entry FTS5 reads to match a word --------------------------


@dataclass
class _Densities:
    """What share of one database's papers hold each word (estimated), for a while."""

    top: int = 0  # the largest paper id when last read
    known: dict[str, tuple[float, float]] = field(default_factory=dict)  # word: share, until
    crowded: dict[frozenset[str], float] = field(default_factory=dict)  # words: until

    def share(self, word: str, now: float) -> float | None:
        found = self.known.get(word)
        return found[0] if found is not None and found[1] > now else None

    def unknown(self, plan: _Plan, now: float) -> list[str]:
        """The plan's words whose density is to be read (at most `_PROBES`)."""
        return [t for t in plan.terms if self.share(t, now) is None][:_PROBES]

    def learn(self, top: int, word: str, first: int | None, last: int | None) -> None:
        """`first`, `last`: the ids of the word's `_RANK`-th match from either end, if any."""
        if first is None or last is None:  # fewer matches than that
            share = _RANK / max(top, _RANK)
        else:  # the denser end (the catalog's words change over the years)
            share = max(_RANK / max(first, 1), _RANK / max(top - last + 1, 1))
        if len(self.known) >= _KNOWN_MAX:
            self.known.clear()
        self.top = top
        self.known[word] = min(share, 1.0), time.monotonic() + _KNOWN_FOR

    def too_many(self, words: list[str]) -> None:
        """More than `CANDIDATES` papers hold all these words: their scan is not worth it."""
        if len(self.crowded) >= _KNOWN_MAX:
            self.crowded.clear()
        self.crowded[frozenset(words)] = time.monotonic() + _KNOWN_FOR

    def rare(self, plan: _Plan, now: float) -> list[str] | None:
        """The words to scan for candidates instead of the phrase, if `_GAIN` times cheaper.

        The phrase costs at worst every entry of its words (if it is rare, no LIMIT ends
        the scan); the candidates, the entries of the words scanned (the rarest first) and
        `_MATCH` for each paper expected to hold them all (the words of a compound counted
        once), at most `CANDIDATES` of them.
        """
        share: dict[str, float] = {}
        for word in plan.terms:
            known = self.share(word, now)
            if known is None:
                return None
            share[word] = known
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


_DENSITIES: weakref.WeakKeyDictionary[Any, _Densities] = weakref.WeakKeyDictionary()


def _densities(session: AsyncSession) -> _Densities:
    """The densities known of the session's database."""
    bind = session.sync_session.get_bind()
    engine = getattr(bind, "engine", bind)
    known = _DENSITIES.get(engine)
    if known is None:
        known = _DENSITIES[engine] = _Densities()
    return known


def _measures(probes: int) -> list[str]:
    """Columns: the largest paper id (top), then for each word :probe<i> the ids of its
    `_RANK`-th match from either end (first<i>, last<i>)."""
    nth = (
        "(SELECT rowid FROM papers_fts WHERE papers_fts MATCH :probe{i}"  # noqa: S608 (our names)
        f" ORDER BY rowid{{order}} LIMIT 1 OFFSET {_RANK - 1}) AS {{end}}{{i}}"
    )
    return ["(SELECT max(id) FROM papers) AS top"] + [
        nth.format(i=i, order=order, end=end)
        for i in range(probes)
        for order, end in (("", "first"), (" DESC", "last"))
    ]


def _learn(known: _Densities, probe: list[str], row: Row[Any]) -> None:
    measured = row._mapping
    for i, word in enumerate(probe):
        known.learn(measured["top"], word, measured[f"first{i}"], measured[f"last{i}"])


_READS = [text(f"SELECT {', '.join(_measures(n))}") for n in range(_PROBES + 1)]


async def _read(session: AsyncSession, known: _Densities, probe: list[str]) -> None:
    """Reads the densities of the words to `probe`, in a statement of their own."""
    params = {f"probe{i}": _quote(word) for i, word in enumerate(probe)}
    _learn(known, probe, (await session.execute(_READS[len(probe)], params)).one())


# The usual page: one statement ------------------------------------------------------------


def _page(summarized: str, probes: int) -> Executable:
    """`_sizes`' matches, each with its paper and 1 if it holds the phrase, 0 if it is one
    of the words' matches, each part in id order.

    The words' LIMIT is 0 when the phrase fills the page, and a LIMIT of 0 ends the scan
    before FTS5 reads anything. With `probes`, each row also carries the largest paper id
    and, for each word :probe<i>, the ids of its `_RANK`-th match from either end.
    """
    probing = f", probes AS (SELECT {', '.join(_measures(probes))})"
    carried, joined = (", probes.*", ", probes") if probes else ("", "")
    columns = ", ".join(f"papers.{c.name} AS {c.name}" for c in Paper.__table__.columns)
    sql = (
        "WITH phrase AS (SELECT rowid AS id FROM papers_fts WHERE papers_fts MATCH :phrase"  # noqa: S608 (our names)
        f"{summarized} ORDER BY rowid LIMIT :n),"
        " words AS (SELECT rowid AS id FROM papers_fts WHERE papers_fts MATCH :words"
        f"{summarized} ORDER BY rowid LIMIT (SELECT CASE WHEN count(*) < :want"
        " THEN max(:pool, :want + count(*)) ELSE 0 END FROM phrase))"
        f"{probing if probes else ''}"
        f" SELECT {columns}, 1 AS phrased{carried}"
        f" FROM papers JOIN phrase ON papers.id = phrase.id{joined}"
        f" UNION ALL SELECT {columns}, 0{carried}"
        f" FROM papers JOIN words ON papers.id = words.id{joined}"
        " ORDER BY phrased DESC, id"
    )
    extra = [column("phrased", Integer)]
    if probes:
        extra += [column("top", Integer)]
        extra += [column(f"{end}{i}", Integer) for i in range(probes) for end in ("first", "last")]
    return select(Paper, *extra).from_statement(text(sql).columns(*Paper.__table__.columns, *extra))


_PAGES: dict[tuple[bool, int], Executable] = {}  # by (summarized, probes), built once


async def _page_of(
    session: AsyncSession,
    plan: _Plan,
    want: int,
    summarized: bool,
    known: _Densities | None,
    probe: list[str],
) -> list[Paper]:
    """`_best` of the plan from one statement, which also reads the densities to `probe`."""
    stmt = _PAGES.get((summarized, len(probe)))
    if stmt is None:
        stmt = _page(_SUMMARIZED if summarized else "", len(probe))
        _PAGES[summarized, len(probe)] = stmt
    params: dict[str, Any] = {"phrase": plan.phrase, "words": plan.words, **_sizes(want)}
    params.update({f"probe{i}": _quote(word) for i, word in enumerate(probe)})
    rows: Sequence[Row[Any]] = (await session.execute(stmt, params)).all()
    if known is not None and probe and rows:
        _learn(known, probe, rows[0])
    phrased = [row[0] for row in rows if row.phrased]
    found = [row[0] for row in rows if not row.phrased]
    return _best(plan, phrased, found, want)


# A rare phrase of dense words: its rarer words' papers, matched again in memory -------------

_CANDIDATES_SQL = (
    "WITH c AS MATERIALIZED (SELECT rowid AS id FROM papers_fts WHERE papers_fts MATCH :rare"
    "{summarized} ORDER BY rowid LIMIT :most + 1)"
    " SELECT NULL AS id, NULL AS title, NULL AS authors, count(*) AS n FROM c"
    " UNION ALL SELECT * FROM (SELECT papers.id, papers.title, papers.authors, NULL FROM c"
    " JOIN papers ON papers.id = c.id"
    " LIMIT (SELECT CASE WHEN count(*) <= :most THEN :most ELSE 0 END FROM c))"
)
# The candidates (ids, titles, authors as stored) after a row holding their number; only
# that row if there are more than :most (a LIMIT of 0 loads none).
_CANDIDATES = tuple(text(_CANDIDATES_SQL.format(summarized=s)) for s in ("", _SUMMARIZED))
_BY_IDS = select(Paper).where(Paper.id.in_(bindparam("ids", expanding=True)))


class _Pool(threading.local):
    """An in-memory FTS5 table with the catalog's tokenizer, one per thread."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.execute(
            "CREATE VIRTUAL TABLE pool USING fts5(title, authors, content='', columnsize=0,"
            f" tokenize='{_TOKENIZE}')"
        )

    def match(self, texts: list[tuple[int, str, str]], plan: _Plan, want: int) -> list[_Text]:
        """`_best` of the plan among these papers: what FTS5 finds among them in the
        catalog's index (`_sizes`' matches), found in a table of them alone."""
        sizes = _sizes(want)
        first = "SELECT rowid FROM pool WHERE pool MATCH ? ORDER BY rowid LIMIT ?"
        self.db.execute("BEGIN")
        try:
            self.db.executemany("INSERT INTO pool(rowid, title, authors) VALUES (?, ?, ?)", texts)
            phrased = [i for (i,) in self.db.execute(first, (plan.phrase, sizes["n"]))]
            found: list[int] = []
            if len(phrased) < want:
                most = max(WORDS_POOL, want + len(phrased))
                found = [i for (i,) in self.db.execute(first, (plan.words, most))]
        finally:
            self.db.execute("ROLLBACK")
        by_id = {row[0]: row for row in texts}
        read = {i: _Text(i, by_id[i][1], json.loads(by_id[i][2])) for i in {*phrased, *found}}
        return _best(plan, [read[i] for i in phrased], [read[i] for i in found], want)


_POOL = _Pool()


async def _by_candidates(
    session: AsyncSession, plan: _Plan, rare: list[str], want: int, summarized: bool
) -> list[Paper] | None:
    """`_best` of the plan from the papers holding its `rare` words; None if too many do.

    Two statements: the candidates (or their number, if more than `CANDIDATES`), then the
    chosen papers.
    """
    params = {"rare": " ".join(map(_quote, rare)), "most": CANDIDATES}
    rows = (await session.execute(_CANDIDATES[summarized], params)).all()
    if next(row.n for row in rows if row.id is None) > CANDIDATES:
        _densities(session).too_many(rare)
        return None
    texts = [(row.id, row.title, row.authors) for row in rows if row.id is not None]
    chosen = [t.id for t in _POOL.match(texts, plan, want)] if texts else []
    if not chosen:
        return []
    loaded = {p.id: p for p in await session.scalars(_BY_IDS, {"ids": chosen})}
    return [loaded[i] for i in chosen if i in loaded]  # (unless deleted meanwhile)


async def _ranked(
    session: AsyncSession, plan: _Plan, want: int, summarized: bool, known: _Densities | None
) -> list[Paper]:
    """The first `want` matches of `plan`, best first; none if nothing matches."""
    probe: list[str] = []
    if known is not None:
        now = time.monotonic()
        probe = known.unknown(plan, now)
        if probe and known.top >= _LARGE:
            await _read(session, known, probe)
            probe = []
        rare = known.rare(plan, now)
        if rare is not None:
            found = await _by_candidates(session, plan, rare, want, summarized)
            if found is not None:
                return found
    return await _page_of(session, plan, want, summarized, known, probe)


async def _search_fts5(
    session: AsyncSession, words: str, limit: int, offset: int, summarized: bool
) -> list[Paper]:
    known = _densities(session)
    for index, plan in enumerate(_plans(words)):
        # Densities serve the words read whole (the prefix reading is a rare fallback).
        found = await _ranked(
            session, plan, offset + limit, summarized, known if not index else None
        )
        if found:
            return found[offset:]
    return []


def _tsquery(words: str) -> str | None:
    terms = _TERM.findall(words)
    if not terms:
        return None
    return " & ".join([*terms[:-1], terms[-1] + ":*"])


async def _search_tsvector(
    session: AsyncSession, words: str, limit: int, offset: int, summarized: bool
) -> list[Paper]:
    query = _tsquery(words)
    if query is None:
        return []
    has_summary = exists().where(
        Summary.paper_id == Paper.id, Summary.status == SummaryStatus.APPROVED
    )
    vector: ColumnElement[Any] = literal_column("papers.search_vector")
    # English stemming first (titles); then the words as written, since author names
    # are indexed unstemmed ("Nadolsky" would otherwise be searched as "nadolski").
    for config in ("english", "simple"):
        tsq = func.to_tsquery(config, query)
        stmt = (
            select(Paper)
            .where(vector.op("@@")(tsq), has_summary if summarized else true())
            .order_by(func.ts_rank_cd(vector, tsq).desc(), func.length(Paper.title), Paper.id)
            .limit(limit)
            .offset(offset)
        )
        found = list(await session.scalars(stmt))
        if found:
            return found
    return []


async def search_papers(
    session: AsyncSession,
    words: str,
    *,
    limit: int = 10,
    offset: int = 0,
    with_summaries: bool = False,
) -> list[Paper]:
    """Papers whose title or authors hold all `words`, best first.

    On SQLite (see the module's docstring): titles holding the words as a phrase, then the
    other papers holding every word but the stop words, the titles holding them before the
    authors; shorter titles first. The last word is read as a prefix when no paper holds it
    whole. On PostgreSQL, ranked by cover density (titles weigh more than authors, words
    together more than apart), then shorter titles; the last word is a prefix. With
    `with_summaries`, only papers that have an approved summary.
    """
    if on_postgres(session):
        return await _search_tsvector(session, words, limit, offset, with_summaries)
    return await _search_fts5(session, words, limit, offset, with_summaries)
