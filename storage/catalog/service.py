"""The catalog service: resolve any reference to a stored paper, fetching it when new.

arXiv ids (and arXiv DOIs) are fetched from arXiv, other DOIs from Crossref. Title words
are searched locally, then at arXiv (whose hits are stored); when both find nothing,
`Catalog.external_candidates` offers Crossref's matches without storing them, and the one
a person picks is stored by resolving its DOI.

Network calls happen outside any database transaction; what a source returns is stored
so the next lookup is local. A source failure is raised as `SourceUnavailable`, never
remembered as "not found".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from storage.catalog.arxiv_source import ArxivSource, PaperData
from storage.catalog.crossref_source import CrossrefSource
from storage.catalog.refs import PaperRef, RefKind, parse_reference
from storage.catalog.search import search_papers
from storage.catalog.store import find_paper, store_paper
from storage.db import Database
from storage.models import Paper

log = logging.getLogger(__name__)


class Catalog:
    """Find papers by any reference form, locally first, then at arXiv or Crossref."""

    def __init__(
        self, db: Database, arxiv: ArxivSource, *, crossref: CrossrefSource | None = None
    ) -> None:
        self._db = db
        self._arxiv = arxiv
        self._crossref = crossref

    async def lookup(self, text: str, *, limit: int = 10) -> list[Paper]:
        """Papers for what a person typed: one for an identifier, ranked ones for words.

        Raises:
            MalformedReference: the text looks like an identifier but is not valid.
            SourceUnavailable: arXiv or Crossref was needed and did not answer.
        """
        ref = parse_reference(text)
        if ref.kind is RefKind.TITLE:
            return await self.search(ref.value, limit=limit)
        paper = await self.resolve(ref)
        return [paper] if paper else []

    async def resolve(self, ref: PaperRef) -> Paper | None:
        """The paper an identifier names: stored, or fetched (arXiv, Crossref) and stored.

        Raises:
            SourceUnavailable: the source was needed and did not answer.
        """
        async with self._db.sessions() as session:
            paper = await find_paper(session, ref)
        if paper is not None:
            return paper
        if ref.kind is RefKind.ARXIV:
            fetched = await self._arxiv.fetch([ref.versioned_id])
        elif ref.kind is RefKind.DOI and self._crossref is not None:
            work = await self._crossref.work(ref.value)
            if work is not None and work.doi != ref.value:  # Crossref answered an alias DOI
                work.aliases.append(ref.alias)
            fetched = [work] if work is not None else []
        else:
            return None
        if not fetched:
            return None
        return (await self.store(fetched))[0]

    async def search(self, words: str, *, limit: int = 10, offset: int = 0) -> list[Paper]:
        """Papers matching title words, best first; asks arXiv when nothing local matches."""
        async with self._db.sessions() as session:
            papers = await search_papers(session, words, limit=limit, offset=offset)
        if papers or offset:
            return papers
        return await self.store(await self._arxiv.search_titles(words, limit=min(limit, 10)))

    async def external_candidates(self, words: str, *, rows: int = 5) -> list[PaperData]:
        """Crossref's best matches for a title (or citation) search, not stored.

        For when `search` found nothing. Each candidate has a DOI: store the one a person
        picks with ``resolve(PaperRef(RefKind.DOI, candidate.doi))``. Empty without Crossref.

        Raises:
            SourceUnavailable: Crossref did not answer.
        """
        if self._crossref is None:
            return []
        return await self._crossref.search(words, rows=rows)

    async def store(self, found: Sequence[PaperData]) -> list[Paper]:
        """Store fetched papers; a concurrent insert of the same paper is merged by retrying."""
        try:
            return await self._store(found)
        except IntegrityError:
            log.info("paper stored concurrently; storing again to merge")
            return await self._store(found)

    async def _store(self, found: Sequence[PaperData]) -> list[Paper]:
        async with self._db.transaction() as session:
            return [await store_paper(session, data) for data in found]
