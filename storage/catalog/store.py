"""The local catalog: find papers by alias or identifier, store fetched ones, search titles."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal_column, or_, select, text, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.catalog.arxiv_source import PaperData
from storage.catalog.refs import PaperRef, RefKind
from storage.models import Paper, PaperAlias, Summary, SummaryStatus, utcnow

log = logging.getLogger(__name__)
_TERM = re.compile(r"[^\W_]+")
_FTS_ALL = text(
    "SELECT rowid FROM papers_fts WHERE papers_fts MATCH :q"
    " ORDER BY bm25(papers_fts, 10.0, 1.0), rowid LIMIT :limit OFFSET :offset"
)
_FTS_SUMMARIZED = text(
    "SELECT rowid FROM papers_fts WHERE papers_fts MATCH :q AND EXISTS (SELECT 1 FROM summaries"
    " WHERE summaries.paper_id = papers_fts.rowid AND summaries.status = 'approved')"
    " ORDER BY bm25(papers_fts, 10.0, 1.0), rowid LIMIT :limit OFFSET :offset"
)


async def find_paper(session: AsyncSession, ref: PaperRef) -> Paper | None:
    """The stored paper this (non-title) reference names, or None."""
    column = {RefKind.ARXIV: Paper.arxiv_id, RefKind.DOI: Paper.doi}.get(ref.kind)
    if column is not None:
        paper: Paper | None = await session.scalar(select(Paper).where(column == ref.value))
        if paper is not None:
            return paper
    aliases = [ref.alias, f"{ref.kind}:{ref.value}".lower()]
    aliased: Paper | None = await session.scalar(
        select(Paper)
        .join(PaperAlias, PaperAlias.paper_id == Paper.id)
        .where(PaperAlias.alias.in_(aliases))
    )
    return aliased


async def get_paper(session: AsyncSession, paper_id: int) -> Paper | None:
    """A paper by its internal id."""
    return await session.get(Paper, paper_id)


async def add_aliases(session: AsyncSession, paper_id: int, aliases: Sequence[str]) -> None:
    """Attach aliases to a paper; ones that already exist are left as they are."""
    rows = [
        {"alias": a.lower() if a.startswith("dblp:") else a, "paper_id": paper_id} for a in aliases
    ]
    if not rows:
        return
    dialect = session.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(PaperAlias).values(rows).on_conflict_do_nothing())


# Whose description of a paper wins when two sources describe it: the published record
# (Crossref) over the preprint (arXiv), and what people entered by hand over both.
SOURCE_RANK = {"arxiv": 1, "crossref": 2, "manual": 3}


async def _matching_papers(session: AsyncSession, data: PaperData) -> list[Paper]:
    """The stored papers `data` names by its arXiv id or its DOI (two if stored apart)."""
    conditions = []
    if data.arxiv_id:
        conditions.append(Paper.arxiv_id == data.arxiv_id)
    if data.doi:
        conditions.append(Paper.doi == data.doi)
    if not conditions:
        return []
    found = list(await session.scalars(select(Paper).where(or_(*conditions)).order_by(Paper.id)))
    if len(found) > 1:
        log.warning(
            "arXiv %s and DOI %s are stored as two papers (%s); not merging them",
            data.arxiv_id,
            data.doi,
            ", ".join(str(p.id) for p in found),
        )
    return found


async def store_paper(session: AsyncSession, data: PaperData) -> Paper:
    """Insert or refresh a paper from a source, matched by arXiv id or DOI; returns it.

    A preprint and its published version are one paper: whichever arrives second is merged
    into the first. The published record's title, authors, venue, year and URL win over the
    preprint's (`SOURCE_RANK`); fields a source leaves empty are kept.
    """
    found = await _matching_papers(session, data)
    by_arxiv = [p for p in found if data.arxiv_id and p.arxiv_id == data.arxiv_id]
    paper: Paper | None = next(iter(by_arxiv or found), None)
    rank = SOURCE_RANK.get
    leads = paper is None or rank(data.source, 0) >= rank(paper.source, 0)
    if paper is None:
        paper = Paper(title=data.title, authors=data.authors, source=data.source)
        session.add(paper)
    same_source = paper.source == data.source
    if leads:
        paper.source, paper.title, paper.authors = data.source, data.title, data.authors
    paper.arxiv_id = paper.arxiv_id or data.arxiv_id
    if paper.doi is None and not any(p.doi == data.doi for p in found if p is not paper):
        paper.doi = data.doi
    for name in ("abstract", "venue", "year", "published", "url"):
        value = getattr(data, name)
        if value is not None and (leads or getattr(paper, name) is None):
            setattr(paper, name, value)
    known = paper.categories or []
    if same_source:
        paper.categories = data.categories or known
    else:
        paper.categories = list(dict.fromkeys([*known, *data.categories]))
    paper.fetched_at = utcnow()
    await session.flush()
    aliases = list(data.aliases)
    if data.doi:
        aliases.append(f"doi:{data.doi}")
    await add_aliases(session, paper.id, aliases)
    return paper


def _fts5_query(words: str) -> str | None:
    terms = _TERM.findall(words)
    if not terms:
        return None
    quoted = [f'"{t}"' for t in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery(words: str) -> str | None:
    terms = _TERM.findall(words)
    if not terms:
        return None
    return " & ".join([*terms[:-1], terms[-1] + ":*"])


async def search_papers(
    session: AsyncSession,
    words: str,
    *,
    limit: int = 10,
    offset: int = 0,
    with_summaries: bool = False,
) -> list[Paper]:
    """Papers whose title or authors hold all `words` (the last may be a prefix), best first.

    With `with_summaries`, only papers that have an approved summary.
    """
    summarized = exists().where(
        Summary.paper_id == Paper.id, Summary.status == SummaryStatus.APPROVED
    )
    if session.bind.dialect.name == "postgresql":
        query = _tsquery(words)
        if query is None:
            return []
        vector: ColumnElement[Any] = literal_column("papers.search_vector")
        # English stemming first (titles); then the words as written, since author names
        # are indexed unstemmed ("Nadolsky" would otherwise be searched as "nadolski").
        for config in ("english", "simple"):
            tsq = func.to_tsquery(config, query)
            stmt = (
                select(Paper)
                .where(vector.op("@@")(tsq), summarized if with_summaries else true())
                .order_by(func.ts_rank_cd(vector, tsq).desc(), Paper.id)
                .limit(limit)
                .offset(offset)
            )
            found = list(await session.scalars(stmt))
            if found:
                return found
        return []
    match = _fts5_query(words)
    if match is None:
        return []
    ids = await session.execute(
        _FTS_SUMMARIZED if with_summaries else _FTS_ALL,
        {"q": match, "limit": limit, "offset": offset},
    )
    order = [row[0] for row in ids]
    if not order:
        return []
    by_id = {p.id: p for p in await session.scalars(select(Paper).where(Paper.id.in_(order)))}
    return [by_id[i] for i in order if i in by_id]
