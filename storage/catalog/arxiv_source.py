"""arXiv as a paper source, through the `arxiv` package (4.x: ``Client.results(search)``).

One shared `arxiv.Client` keeps arXiv's rule of one request every three seconds; it is
synchronous, so every call runs on one dedicated worker thread (never on the event loop),
which also serialises the requests. Failures become `SourceUnavailable`: never "not found".
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import arxiv
import requests

from storage.catalog.refs import parse_arxiv_id

log = logging.getLogger(__name__)
T = TypeVar("T")


class SourceUnavailable(Exception):
    """A paper source did not answer usably; the message is safe to show to a user."""


@dataclass(slots=True)
class PaperData:
    """A paper as a source describes it, before it is stored."""

    title: str
    authors: list[str]
    source: str
    arxiv_id: str | None = None
    doi: str | None = None
    abstract: str | None = None
    venue: str | None = None
    year: int | None = None
    published: datetime | None = None
    categories: list[str] = field(default_factory=list)
    url: str | None = None
    aliases: list[str] = field(default_factory=list)


class _TimeoutSession(requests.Session):
    """A requests session whose every request has a timeout (arxiv sets none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def _clean(text: str) -> str:
    return " ".join(text.split())


def to_paper_data(result: arxiv.Result) -> PaperData:
    """Convert one arXiv API result into `PaperData`, with its versioned id as an alias."""
    short_id = result.entry_id.rsplit("/abs/", 1)[-1]
    ref = parse_arxiv_id(short_id)
    arxiv_id = ref.value if ref else short_id
    aliases = [f"arxiv:{ref.versioned_id}"] if ref and ref.version else []
    doi = result.doi.strip().lower() if result.doi else None
    published = result.published if result.published != datetime.min else None
    return PaperData(
        title=_clean(result.title),
        authors=[a.name for a in result.authors],
        source="arxiv",
        arxiv_id=arxiv_id,
        doi=doi,
        abstract=_clean(result.summary) or None,
        venue=_clean(result.journal_ref) if result.journal_ref else "arXiv",
        year=published.year if published else None,
        published=published,
        categories=[c for c in dict.fromkeys([result.primary_category, *result.categories]) if c],
        url=f"https://arxiv.org/abs/{arxiv_id}",
        aliases=aliases,
    )


_QUERY_WORD = re.compile(r"\w+")


class ArxivSource:
    """Fetches papers from arXiv by id or title words, one request at a time."""

    def __init__(self, api_url: str, *, timeout: float = 15.0, delay_seconds: float = 3.0) -> None:
        self._client = arxiv.Client(page_size=50, delay_seconds=delay_seconds, num_retries=1)
        self._client.query_url_format = api_url.rstrip("?") + "?{}"
        self._client._session = _TimeoutSession(timeout)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arxiv")

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except (arxiv.ArxivError, requests.RequestException) as exc:
            log.warning("arXiv request failed: %s", type(exc).__name__)
            raise SourceUnavailable("Could not reach arXiv just now; please try again.") from exc

    async def fetch(self, ids: list[str]) -> list[PaperData]:
        """The papers with these arXiv ids; unknown ids are simply absent."""
        search = arxiv.Search(id_list=ids, max_results=len(ids))
        results = await self._run(lambda: list(self._client.results(search)))
        return [to_paper_data(r) for r in results if "/api/errors" not in r.entry_id]

    async def search_titles(self, words: str, limit: int = 5) -> list[PaperData]:
        """Papers whose titles hold all these words, most relevant first."""
        terms = _QUERY_WORD.findall(words)
        if not terms:
            return []
        query = " AND ".join(f"ti:{t}" for t in terms)
        search = arxiv.Search(query=query, max_results=limit)
        results = await self._run(lambda: list(self._client.results(search)))
        return [to_paper_data(r) for r in results if "/api/errors" not in r.entry_id]

    def close(self) -> None:
        """Stop the worker thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)
