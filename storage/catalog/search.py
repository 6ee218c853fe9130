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
before. A page costs one statement, or two when the phrase's matches do not fill it (each
loads its papers). The tail is a rare phrase of common words: FTS5 finds it by walking
its words' whole index entries (several milliseconds over a million titles).

Reading the last word as a prefix only when nothing holds it whole keeps a finished query
from paying for a prefix expansion ("for*" is every "for", "forecasting", "formal"...).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Subquery,
    bindparam,
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
# "Typed as is": the title, lower-cased and without punctuation or spaces, holds the words run
# together. The same in SQL and in Python (SQLite's lower() folds ASCII only).
_PUNCTUATION = " -:,.;?!()[]'\"/"
_SQUASH = str.maketrans(string.ascii_uppercase, string.ascii_lowercase, _PUNCTUATION)

_SUMMARIZED = (
    " AND EXISTS (SELECT 1 FROM summaries WHERE summaries.paper_id = papers_fts.rowid"
    " AND summaries.status = 'approved')"
)
# The first :n matches of :q by id: FTS5 yields rowids in order, so LIMIT ends the scan.
_FIRST = (
    "SELECT rowid AS id FROM papers_fts WHERE papers_fts MATCH :q{summarized}"
    " ORDER BY rowid LIMIT :n"
)


@dataclass(frozen=True)
class _Plan:
    """One reading of the searched words, as FTS5 queries and what ranking needs."""

    phrase: str  # FTS5: the words as a phrase (one word: in the title)
    words: str  # FTS5: every word but the stop words, in the title or among the authors
    typed: str  # the words run together, lower-cased
    content: tuple[str, ...]  # the words but the stop words, lower-cased


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
    # No column filter on a phrase of several words: FTS5 would copy the title's positions
    # out of every entry it walks, 5-15 % of a rare phrase's scan; such a phrase is in a
    # title or is an author's full name anyway.
    phrase = ("{title}: " if len(terms) == 1 else "") + _quote(" ".join(terms))
    whole = _Plan(phrase, " ".join(map(_quote, content)), typed, content)
    last = terms[-1]
    if len(last) < MIN_PREFIX:
        return [whole]
    head = [_quote(t) for t in content if t != last]
    return [whole, _Plan(phrase + "*", " ".join([*head, _quote(last) + "*"]), typed, content)]


def _squashed(title: str) -> str:
    return title.translate(_SQUASH)


def _phrase_fit(plan: _Plan) -> Callable[[Paper], tuple[bool, int, int]]:
    """Ranks a phrase match: the words as typed ("networks", not "network"), then short."""

    def key(paper: Paper) -> tuple[bool, int, int]:
        return plan.typed not in _squashed(paper.title), len(paper.title), paper.id

    return key


def _title_fit(plan: _Plan) -> Callable[[Paper], tuple[bool, bool, int, int]]:
    """Ranks a match: the words as typed in its title, all of them there, then short."""

    def key(paper: Paper) -> tuple[bool, bool, int, int]:
        title = _squashed(paper.title)
        authors = str(paper.authors).lower()
        by_author = any(t in authors and t not in title for t in plan.content)
        return plan.typed not in title, by_author, len(paper.title), paper.id

    return key


def _hits(summarized: str) -> Subquery:
    return text(_FIRST.format(summarized=summarized)).columns(id=Integer).subquery("hits")


def _first_papers(summarized: str) -> Select[tuple[Paper]]:
    """The first :n matches of :q, in id order, loaded."""
    hits = _hits(summarized)
    return select(Paper).join(hits, Paper.id == hits.c.id).order_by(Paper.id)


def _phrase_papers(summarized: str) -> Select[tuple[Paper]]:
    """The best :want of the first :n phrase matches (:q), ranked as `_phrase_fit`, loaded."""
    hits = _hits(summarized)
    squashed = func.lower(Paper.title)
    for mark in _PUNCTUATION:
        squashed = func.replace(squashed, mark, "")
    return (
        select(Paper)
        .join(hits, Paper.id == hits.c.id)
        .order_by(func.instr(squashed, bindparam("typed")) == 0, func.length(Paper.title), Paper.id)
        .limit(bindparam("want"))
    )


# Statements built once: [all papers, only summarized ones].
_FIRST_PAPERS = (_first_papers(""), _first_papers(_SUMMARIZED))
_PHRASE_PAPERS = (_phrase_papers(""), _phrase_papers(_SUMMARIZED))


async def _first(session: AsyncSession, query: str, n: int, summarized: bool) -> list[Paper]:
    """The first `n` matches of an FTS5 query, in id order."""
    return list(await session.scalars(_FIRST_PAPERS[summarized], {"q": query, "n": n}))


async def _ranked(session: AsyncSession, plan: _Plan, want: int, summarized: bool) -> list[Paper]:
    """The first `want` matches of `plan`, best first; none if nothing matches.

    Two statements at most: the phrase's matches, then, if fewer than `want`, those of all
    the words, each loaded with its papers.
    """
    if want <= PHRASE_POOL:  # the usual page: ranked by SQLite, so the page is all it loads
        params = {"q": plan.phrase, "n": PHRASE_POOL, "typed": plan.typed, "want": want}
        phrased = list(await session.scalars(_PHRASE_PAPERS[summarized], params))
        ranked = phrased
    else:
        phrased = await _first(session, plan.phrase, want, summarized)
        ranked = sorted(phrased[:PHRASE_POOL], key=_phrase_fit(plan)) + phrased[PHRASE_POOL:]
    if len(ranked) >= want:
        return ranked[:want]
    seen = {p.id for p in phrased}  # all of the phrase's matches: fewer than asked for
    found = await _first(session, plan.words, max(WORDS_POOL, want + len(seen)), summarized)
    pool = [p for p in found[:WORDS_POOL] if p.id not in seen]
    rest = [p for p in found[WORDS_POOL:] if p.id not in seen]
    return (ranked + sorted(pool, key=_title_fit(plan)) + rest)[:want]


async def _search_fts5(
    session: AsyncSession, words: str, limit: int, offset: int, summarized: bool
) -> list[Paper]:
    for plan in _plans(words):
        ranked = await _ranked(session, plan, offset + limit, summarized)
        if ranked:
            return ranked[offset:]
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
