"""A local Crossref REST API: ``/works/{doi}`` and ``/works?query.bibliographic=...``.

It serves the real recorded answers of shared/corpus/crossref-api (a recorded request is
answered with its recording, byte for byte) and the works written in tests/data/crossref.
Unknown DOIs get Crossref's 404 with the plain-text body ``Resource not found.``; searches
rank every known work by the words it shares with the query, as a ``work-list`` whose
``message.items`` hold the works. Every answer carries Crossref's rate-limit headers.
Faults (429 with ``Retry-After``, 5xx, a stall longer than the client's timeout) come from
`FakeServer`: ``reply_next("GET /works", Reply(429, ...))``, ``stall_next(...)``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes._server import FakeServer, Reply, Request
from tests.paths import CROSSREF_CORPUS, DATA

NOT_FOUND = "Resource not found."
_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _request_key(path: str, query: str) -> tuple[str, tuple[str, ...]]:
    return unquote(path).lower(), tuple(sorted(unquote(query.replace("+", " ")).split("&")))


def _load() -> tuple[dict[str, dict[str, Any]], dict[tuple[str, tuple[str, ...]], bytes]]:
    """Works by lower-case DOI, and recorded search answers by request."""
    works: dict[str, dict[str, Any]] = {}
    recorded: dict[tuple[str, tuple[str, ...]], bytes] = {}
    index = json.loads((CROSSREF_CORPUS / "index.json").read_text(encoding="utf-8"))
    files: list[Path] = []
    for entry in index:
        if entry["status"] != 200:
            continue
        path = CROSSREF_CORPUS / entry["file"]
        url = urlsplit(entry["request"].split(" ", 1)[1])
        if url.query:
            recorded[_request_key(url.path, url.query)] = path.read_bytes()
        files.append(path)
    files.extend(sorted((DATA / "crossref").glob("*.json")))
    for path in files:
        message = json.loads(path.read_text(encoding="utf-8"))["message"]
        for work in message.get("items", [message]):
            works.setdefault(work["DOI"].lower(), work)
    return works, recorded


class FakeCrossref(FakeServer):
    """The fake server; point `CrossrefSource` at `url`."""

    def __init__(self) -> None:
        super().__init__()
        self.works, self.recorded = _load()
        self.rate_limit = ("50", "1s")

    @property
    def url(self) -> str:
        """The REST base, as ``SHORTSCI_CROSSREF_API_URL`` wants it."""
        return self.origin

    def handle(self, request: Request) -> Reply:
        """Answer a works look-up or search in Crossref's format."""
        headers = {
            "X-Rate-Limit-Limit": self.rate_limit[0],
            "X-Rate-Limit-Interval": self.rate_limit[1],
            "Access-Control-Allow-Origin": "*",
        }
        if request.path == "/works":
            return Reply(200, self._search(request), headers)
        if request.path.startswith("/works/"):
            doi = unquote(request.path.removeprefix("/works/")).lower()
            if doi in self.works:
                return Reply(200, _envelope("work", self.works[doi]), headers)
        return Reply(404, NOT_FOUND, headers, content_type="text/plain")

    def _search(self, request: Request) -> dict[str, Any] | bytes:
        query = "&".join(f"{k}={v}" for k, vs in request.query.items() for v in vs)
        if (recording := self.recorded.get(_request_key(request.path, query))) is not None:
            return recording
        terms = request.arg("query.bibliographic") or request.arg("query")
        rows = int(request.arg("rows", "20"))
        ranked = self.rank(terms)
        items = [{**work, "score": score} for score, work in ranked[:rows]]
        return _envelope(
            "work-list",
            {
                "facets": {},
                "total-results": len(ranked),
                "items": items,
                "items-per-page": rows,
                "query": {"start-index": 0, "search-terms": terms},
            },
        )

    def rank(self, terms: str) -> list[tuple[float, dict[str, Any]]]:
        """Known works sharing words with `terms`, most shared title words first."""
        wanted = _words(terms)
        scored = []
        for work in self.works.values():
            title = _words(" ".join(work.get("title") or []))
            people = _words(" ".join(a.get("family", "") for a in work.get("author") or []))
            score = len(wanted & title) + 0.5 * len(wanted & people)
            if wanted and score >= len(wanted) / 2:
                scored.append((round(10 * score / len(wanted), 3), work))
        scored.sort(key=lambda pair: -pair[0])
        return scored


def _envelope(kind: str, message: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "message-type": kind, "message-version": "1.0.0", "message": message}
