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
it, those of all the words, each loaded with its paper; a word not searched for a while
first costs one more, which reads how many papers hold it. A rare phrase of dense words is
found another way, to the same papers in the same order (`storage.catalog.rare_phrases`).

Reading the last word as a prefix only when nothing holds it whole keeps a finished query
from paying for a prefix expansion ("for*" is every "for", "forecasting", "formal"...).
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
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

from storage.catalog.rare_phrases import SUMMARIZED, Densities, densities, match_again
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


@dataclass(frozen=True)
class Plan:
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


def _plans(words: str) -> list[Plan]:
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
    whole = Plan(phrase, " ".join(map(_quote, content)), typed, content, unique, compound)
    last = terms[-1]
    if len(last) < MIN_PREFIX:
        return [whole]
    head = [_quote(t) for t in content if t != last]
    unfinished = " ".join([*head, _quote(last) + "*"])
    return [whole, Plan(phrase + "*", unfinished, typed, content, unique, compound)]


class _Match(Protocol):
    """What ranking reads of a match: a `Paper`, or a `rare_phrases.Candidate`."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def authors(self) -> Any: ...


_M = TypeVar("_M", bound=_Match)


def _squashed(title: str) -> str:
    return title.translate(_SQUASH)


def _phrase_fit(plan: Plan) -> Callable[[_Match], tuple[bool, int, int]]:
    """Ranks a phrase match: the words as typed ("networks", not "network"), then short."""

    def key(paper: _Match) -> tuple[bool, int, int]:
        return plan.typed not in _squashed(paper.title), len(paper.title), paper.id

    return key


def _title_fit(plan: Plan) -> Callable[[_Match], tuple[bool, bool, int, int]]:
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


def _best(plan: Plan, phrased: Sequence[_M], found: Sequence[_M], want: int) -> list[_M]:
    """The best `want` of a plan's matches, best first, from those `_sizes` asks for (the
    phrase's, then all the words', each in id order)."""
    ranked = sorted(phrased[:PHRASE_POOL], key=_phrase_fit(plan)) + list(phrased[PHRASE_POOL:])
    if len(ranked) >= want:
        return ranked[:want]
    seen = {p.id for p in phrased}  # all of the phrase's matches: fewer than asked for
    pool = [p for p in found[:WORDS_POOL] if p.id not in seen]
    rest = [p for p in found[WORDS_POOL:] if p.id not in seen]
    return (ranked + sorted(pool, key=_title_fit(plan)) + rest)[:want]


def _page(summarized: str) -> Executable:
    """`_sizes`' matches, each with its paper and 1 if it holds the phrase, 0 if it is one
    of the words' matches, each part in id order.

    The words' LIMIT is 0 when the phrase fills the page, and a LIMIT of 0 ends the scan
    before FTS5 reads anything.
    """
    columns = ", ".join(f"papers.{c.name} AS {c.name}" for c in Paper.__table__.columns)
    sql = (
        "WITH phrase AS (SELECT rowid AS id FROM papers_fts WHERE papers_fts MATCH :phrase"  # noqa: S608 (our names)
        f"{summarized} ORDER BY rowid LIMIT :n),"
        " words AS (SELECT rowid AS id FROM papers_fts WHERE papers_fts MATCH :words"
        f"{summarized} ORDER BY rowid LIMIT (SELECT CASE WHEN count(*) < :want"
        " THEN max(:pool, :want + count(*)) ELSE 0 END FROM phrase))"
        f" SELECT {columns}, 1 AS phrased FROM papers JOIN phrase ON papers.id = phrase.id"
        f" UNION ALL SELECT {columns}, 0 FROM papers JOIN words ON papers.id = words.id"
        " ORDER BY phrased DESC, id"
    )
    phrased = column("phrased", Integer)
    return select(Paper, phrased).from_statement(
        text(sql).columns(*Paper.__table__.columns, phrased)
    )


_PAGES = (_page(""), _page(SUMMARIZED))  # by `with_summaries`
_BY_IDS = select(Paper).where(Paper.id.in_(bindparam("ids", expanding=True)))


async def _page_of(session: AsyncSession, plan: Plan, want: int, summarized: bool) -> list[Paper]:
    """`_best` of the plan from the usual statement."""
    params = {"phrase": plan.phrase, "words": plan.words, **_sizes(want)}
    rows = (await session.execute(_PAGES[summarized], params)).all()
    phrased = [row[0] for row in rows if row.phrased]
    return _best(plan, phrased, [row[0] for row in rows if not row.phrased], want)


async def _load(session: AsyncSession, ids: list[int]) -> list[Paper]:
    """These papers in this order (but any deleted meanwhile)."""
    if not ids:
        return []
    loaded = {p.id: p for p in await session.scalars(_BY_IDS, {"ids": ids})}
    return [loaded[i] for i in ids if i in loaded]


async def _ranked(
    session: AsyncSession, plan: Plan, want: int, summarized: bool, known: Densities | None
) -> list[Paper]:
    """The first `want` matches of `plan`, best first; none if nothing matches."""
    if known is not None:
        now = time.monotonic()
        await known.read(session, plan, now)
        rare = known.rare(plan, now)
        if rare is not None:
            found = await match_again(session, plan, rare, _sizes(want), summarized, known)
            if found is not None:
                return await _load(session, [c.id for c in _best(plan, *found, want)])
    return await _page_of(session, plan, want, summarized)


async def _search_fts5(
    session: AsyncSession, words: str, limit: int, offset: int, summarized: bool
) -> list[Paper]:
    known = densities(session)
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
