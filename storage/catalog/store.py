"""The local catalog: find papers by alias or identifier, store fetched ones, search titles.

Title search lives in `storage.catalog.search`; `search_papers` is also importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.catalog.arxiv_source import PaperData
from storage.catalog.refs import PaperRef, RefKind
from storage.catalog.search import search_papers as search_papers
from storage.db import insert_for
from storage.models import Paper, PaperAlias, utcnow
from storage.summaries import PageKey, PaperPage, read_page

log = logging.getLogger(__name__)


# The columns that hold a reference's identifier; other references are found by alias.
_ID_COLUMNS: dict[RefKind, PageKey] = {RefKind.ARXIV: "arxiv_id", RefKind.DOI: "doi"}
# Built once: look-ups are hot, so SQLAlchemy need not rebuild and re-key them.
_BY_ID = {
    kind: select(Paper).where(getattr(Paper, column) == bindparam("value"))
    for kind, column in _ID_COLUMNS.items()
}


async def find_paper(session: AsyncSession, ref: PaperRef) -> Paper | None:
    """The stored paper this (non-title) reference names, or None."""
    by_id = _BY_ID.get(ref.kind)
    if by_id is not None:
        paper: Paper | None = await session.scalar(by_id, {"value": ref.value})
        if paper is not None:
            return paper
    return await _find_by_alias(session, ref)


async def find_page(session: AsyncSession, ref: PaperRef, index: int = 0) -> PaperPage | None:
    """The stored paper this reference names with its `index`-th best summary, or None.

    One query when the identifier is the paper's own (the usual case), two by alias.
    """
    key = _ID_COLUMNS.get(ref.kind)
    if key is not None and (page := await read_page(session, key, ref.value, index)):
        return page
    paper = await _find_by_alias(session, ref)
    return None if paper is None else await read_page(session, "id", paper.id, index)


async def _find_by_alias(session: AsyncSession, ref: PaperRef) -> Paper | None:
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
    await session.execute(insert_for(session, PaperAlias).values(rows).on_conflict_do_nothing())


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
