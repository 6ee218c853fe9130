"""Crossref as a paper source: DOI look-ups (``/works/{doi}``) and bibliographic search.

Crossref asks clients to name themselves with a contact address in the ``User-Agent`` (the
"polite pool") and to keep to the rate it advertises in ``X-Rate-Limit-Limit`` and
``X-Rate-Limit-Interval``; request starts are spaced accordingly. After a 429 (or a 503)
with ``Retry-After`` no request is sent before that time: calls fail at once instead.

Failures (timeouts, connection errors, 5xx, 429, answers that are not Crossref JSON) raise
`SourceUnavailable` with a message fit for a user; only a 404 on a DOI means "not found".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import httpx

from storage.catalog.arxiv_source import PaperData, SourceUnavailable
from storage.catalog.refs import RefKind, parse_reference

log = logging.getLogger(__name__)

USER_AGENT = "ShortSci/0.1 (https://github.com/shortsci{contact})"
UNAVAILABLE = "Could not reach Crossref just now; please try again."
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 3600.0
VENUE_MAX = 255  # papers.venue is VARCHAR(255)

_DATE_FIELDS = ("published-print", "published-online", "issued", "published")
_PREFERRED_VENUE = re.compile(
    r"proceedings|conference|symposium|workshop|journal|transactions|letters|advances in",
    re.IGNORECASE,
)
_NOT_PAPERS = frozenset(
    {
        "component",
        "dataset",
        "grant",
        "journal",
        "journal-issue",
        "journal-volume",
        "peer-review",
        "proceedings",
        "book-series",
        "book-set",
        "report-series",
    }
)
_BLOCK_TAGS = frozenset({"p", "title", "sec", "list-item", "label", "caption", "abstract"})
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class _JatsText(HTMLParser):
    """Collects the text of JATS (or HTML) markup, one list of pieces per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[list[str]] = [[]]

    def _break(self, tag: str) -> None:
        if tag.rsplit(":", 1)[-1] in _BLOCK_TAGS and self.blocks[-1]:
            self.blocks.append([])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        self._break(tag)

    def handle_data(self, data: str) -> None:
        self.blocks[-1].append(data)


def jats_to_text(markup: str) -> str:
    """Plain text of a JATS abstract: tags dropped, paragraphs kept apart, spaces collapsed.

    A leading "Abstract" heading is dropped; paragraphs are separated by a blank line.
    """
    parser = _JatsText()
    parser.feed(markup)
    parser.close()
    paragraphs = [" ".join("".join(block).split()) for block in parser.blocks]
    paragraphs = [p for p in paragraphs if p]
    if len(paragraphs) > 1 and paragraphs[0].rstrip(":").lower() in ("abstract", "summary"):
        paragraphs = paragraphs[1:]
    return "\n\n".join(paragraphs)


def _inline(markup: str) -> str:
    return " ".join(jats_to_text(markup).split())


def _first(value: Any) -> str | None:
    values = value if isinstance(value, list) else [value]
    texts = [_inline(v) for v in values if isinstance(v, str)]
    return next((t for t in texts if t), None)


def _date_parts(work: dict[str, Any]) -> list[int] | None:
    for name in _DATE_FIELDS:
        parts = (work.get(name) or {}).get("date-parts") or [[]]
        first = parts[0] if isinstance(parts, list) and parts else []
        if isinstance(first, list) and first and isinstance(first[0], int):
            return [p for p in first if isinstance(p, int)]
    return None


def _venue(work: dict[str, Any]) -> str | None:
    titles = [_inline(t) for t in work.get("container-title") or [] if isinstance(t, str)]
    titles = [t for t in titles if t]
    preferred = [t for t in titles if _PREFERRED_VENUE.search(t)]
    venue = next(iter(preferred or titles), None)
    if venue is None and isinstance(work.get("event"), dict):
        venue = _first(work["event"].get("name"))
    return venue[:VENUE_MAX] if venue else None


def _authors(work: dict[str, Any]) -> list[str]:
    names = []
    for person in work.get("author") or []:
        if not isinstance(person, dict):
            continue
        parts = [person.get("given"), person.get("family")]
        name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        name = name or str(person.get("name") or "").strip()
        if name:
            names.append(name)
    return names


def _preprint_arxiv_id(work: dict[str, Any]) -> str | None:
    """The arXiv id Crossref's ``relation.has-preprint`` names, if it names one."""
    relation = work.get("relation")
    if not isinstance(relation, dict):
        return None
    for link in relation.get("has-preprint") or []:
        if isinstance(link, dict) and link.get("id-type") == "doi":
            try:
                ref = parse_reference(str(link.get("id", "")))
            except ValueError:
                continue
            if ref.kind is RefKind.ARXIV:
                return ref.value
    return None


def to_paper_data(work: dict[str, Any]) -> PaperData | None:
    """Convert one Crossref work (the ``message`` of ``/works/{doi}``); None without a DOI."""
    doi = str(work.get("DOI") or "").strip().lower()
    if not doi:
        return None
    parts = _date_parts(work)
    published = None
    if parts and len(parts) >= 3:
        with contextlib.suppress(ValueError):
            published = datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
    abstract = work.get("abstract")
    url = work.get("URL")
    return PaperData(
        title=_first(work.get("title")) or doi,
        authors=_authors(work),
        source="crossref",
        arxiv_id=_preprint_arxiv_id(work),
        doi=doi,
        abstract=(jats_to_text(abstract) or None) if isinstance(abstract, str) else None,
        venue=_venue(work),
        year=parts[0] if parts else None,
        published=published,
        categories=[s for s in work.get("subject") or [] if isinstance(s, str)],
        url=url if isinstance(url, str) and url else f"https://doi.org/{doi}",
    )


def _seconds(value: str | None) -> float | None:
    """A ``Retry-After`` value (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class CrossrefSource:
    """Fetches works from the Crossref REST API, politely, one paced request at a time.

    Args:
        api_url: the REST base, ``SHORTSCI_CROSSREF_API_URL``.
        contact_email: sent in the ``User-Agent`` so Crossref can reach the operator.
        timeout: seconds for each request.
        transport: an httpx transport to use instead of the network (tests).
        clock: monotonic seconds; sleep: how to wait (both injectable for tests).
    """

    def __init__(
        self,
        api_url: str,
        *,
        contact_email: str | None,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        contact = f"; mailto:{contact_email}" if contact_email else ""
        self._client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            headers={
                "User-Agent": USER_AGENT.format(contact=contact),
                "Accept": "application/json",
            },
            timeout=timeout,
            transport=transport,
        )
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._spacing = 0.0
        self._next_start = 0.0
        self._blocked_until = 0.0

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` sent with every request."""
        return str(self._client.headers["User-Agent"])

    async def work(self, doi: str) -> PaperData | None:
        """The work with this DOI, or None if Crossref does not know it."""
        payload = await self._get(f"/works/{quote(doi, safe='/')}", {}, missing_ok=True)
        if payload is None:
            return None
        message = payload.get("message")
        if not isinstance(message, dict):
            raise self._malformed("work", doi)
        return to_paper_data(message)

    async def search(self, words: str, rows: int = 5) -> list[PaperData]:
        """Works matching a bibliographic query (title, authors, venue, year), best first."""
        query = " ".join(words.split())
        if not query:
            return []
        params = {"query.bibliographic": query, "rows": str(rows)}
        payload = await self._get("/works", params, missing_ok=False)
        message = payload.get("message") if payload else None
        items = message.get("items") if isinstance(message, dict) else None
        if not isinstance(items, list):
            raise self._malformed("search", query)
        found = []
        for item in items:
            if not isinstance(item, dict) or item.get("type") in _NOT_PAPERS:
                continue
            if (data := to_paper_data(item)) is not None:
                found.append(data)
        return found

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    def _check_backoff(self) -> None:
        left = self._blocked_until - self._clock()
        if left > 0:
            raise SourceUnavailable(
                f"Crossref asked us to slow down; please try again in {max(1, round(left))} s."
            )

    async def _pace(self) -> None:
        """Wait for this request's turn under Crossref's advertised rate."""
        async with self._lock:
            self._check_backoff()
            wait = self._next_start - self._clock()
            if wait > 0:
                await self._sleep(wait)
            self._next_start = self._clock() + self._spacing

    def _learn_limits(self, headers: httpx.Headers) -> None:
        limit, interval = headers.get("X-Rate-Limit-Limit"), headers.get("X-Rate-Limit-Interval")
        if not limit or not interval or not limit.strip().isdigit() or int(limit) < 1:
            return
        if match := _INTERVAL.match(interval):
            seconds = float(match[1]) * _UNIT_SECONDS[(match[2] or "s").lower()]
            self._spacing = seconds / int(limit)
            self._next_start = max(self._next_start, self._clock() + self._spacing)

    def _back_off(self, response: httpx.Response) -> None:
        delay = _seconds(response.headers.get("Retry-After"))
        delay = min(MAX_BACKOFF, DEFAULT_BACKOFF if delay is None else delay)
        self._blocked_until = max(self._blocked_until, self._clock() + delay)
        log.warning("Crossref answered %s; backing off %.0f s", response.status_code, delay)

    async def _get(
        self, path: str, params: dict[str, str], *, missing_ok: bool
    ) -> dict[str, Any] | None:
        self._check_backoff()
        await self._pace()
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            log.warning("Crossref request %s failed: %s", path, type(exc).__name__)
            raise SourceUnavailable(UNAVAILABLE) from exc
        self._learn_limits(response.headers)
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status == 429 or (status == 503 and "Retry-After" in response.headers):
            self._back_off(response)
            self._check_backoff()
        if status != 200:
            log.warning("Crossref answered %s to %s", status, path)
            raise SourceUnavailable(UNAVAILABLE)
        try:
            payload = response.json()
        except ValueError as exc:
            raise self._malformed(path, "not JSON") from exc
        if not isinstance(payload, dict) or payload.get("status") != "ok":
            raise self._malformed(path, "status is not ok")
        return payload

    @staticmethod
    def _malformed(what: str, detail: str) -> SourceUnavailable:
        log.warning("Crossref answer for %s was not usable: %s", what, detail)
        return SourceUnavailable(UNAVAILABLE)
