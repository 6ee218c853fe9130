"""The local catalog: find papers by alias or identifier, store fetched ones, search titles."""

from __future__ import annotations

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


async def store_paper(session: AsyncSession, data: PaperData) -> Paper:
    """Insert or refresh a paper from a source, matched by arXiv id or DOI; returns it."""
    conditions = []
    if data.arxiv_id:
        conditions.append(Paper.arxiv_id == data.arxiv_id)
    if data.doi:
        conditions.append(Paper.doi == data.doi)
    paper = await session.scalar(select(Paper).where(or_(*conditions))) if conditions else None
    if paper is None:
        paper = Paper(title=data.title, authors=data.authors, source=data.source)
        session.add(paper)
    paper.title = data.title
    paper.authors = data.authors
    paper.arxiv_id = paper.arxiv_id or data.arxiv_id
    paper.doi = paper.doi or data.doi
    for name in ("abstract", "venue", "year", "published", "url"):
        value = getattr(data, name)
        if value is not None:
            setattr(paper, name, value)
    paper.categories = data.categories or paper.categories or []
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
        tsq = func.to_tsquery("english", query)
        vector: ColumnElement[Any] = literal_column("papers.search_vector")
        stmt = (
            select(Paper)
            .where(vector.op("@@")(tsq), summarized if with_summaries else true())
            .order_by(func.ts_rank_cd(vector, tsq).desc(), Paper.id)
            .limit(limit)
            .offset(offset)
        )
        return list(await session.scalars(stmt))
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
    papers = {p.id: p for p in await session.scalars(select(Paper).where(Paper.id.in_(order)))}
    return [papers[i] for i in order if i in papers]
