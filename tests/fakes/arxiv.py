"""A local arXiv query API: answers ``/api/query`` with Atom in arXiv's real format.

Entries come from real recorded answers (shared/corpus/arxiv-api) and tests/data/arxiv.
It serves ``id_list`` look-ups (versions optional, old-style ids, several at once),
``search_query`` title searches (``ti:word AND ti:word``) with paging, HTTP 400 with an
error entry for malformed ids as arXiv does, and injectable faults: a status code,
a delay longer than the client's timeout, or an empty page.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tests.paths import ARXIV_CORPUS, DATA

_ENTRY = re.compile(r"  <entry>.*?</entry>\n", re.DOTALL)
_ENTRY_ID = re.compile(r"<id>https?://arxiv\.org/abs/(.+?)</id>")
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)
_VERSION = re.compile(r"v\d+$")
_NEW_ID = re.compile(r"^\d{4}\.\d{4,5}(v\d+)?$")
_OLD_ID = re.compile(r"^[a-z-]+(\.[A-Za-z]{2})?/\d{7}(v\d+)?$")

FEED_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
    "  <id>https://arxiv.org/api/fake</id>\n"
    "  <title>arXiv Query: {query}</title>\n"
    "  <updated>2026-04-12T22:10:19Z</updated>\n"
    "  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>\n"
    "  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
    "  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
)


def load_entries(*files: Path) -> dict[str, str]:
    """Map each versionless arXiv id to its ``<entry>`` XML, from recorded feeds."""
    entries: dict[str, str] = {}
    for path in files:
        for block in _ENTRY.findall(path.read_text(encoding="utf-8")):
            if match := _ENTRY_ID.search(block):
                entries[_VERSION.sub("", match.group(1))] = block
    return entries


def default_entries() -> dict[str, str]:
    """Every recorded entry we have: the arXiv corpus and the seed's four papers."""
    files = [*sorted(ARXIV_CORPUS.glob("id_*.xml")), *sorted(DATA.glob("arxiv/*.xml"))]
    if not files:
        raise FileNotFoundError(f"no recorded arXiv answers under {ARXIV_CORPUS}")
    return load_entries(*files)


@dataclass
class Fault:
    """What to do to the next requests instead of answering normally."""

    status: int | None = None
    delay: float = 0.0
    empty: bool = False


@dataclass
class FakeArxiv:
    """The fake server; use as a context manager, then point the client at `url`."""

    entries: dict[str, str] = field(default_factory=default_entries)
    requests: list[tuple[float, dict[str, list[str]]]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def __enter__(self) -> FakeArxiv:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The query endpoint, as ``SHORTSCI_ARXIV_API_URL`` wants it."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/query"

    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        """Answer the next `count` requests with HTTP `status`."""
        self.faults.extend(Fault(status=status) for _ in range(count))

    def stall_next(self, seconds: float, count: int = 1) -> None:
        """Wait `seconds` before answering the next `count` requests."""
        self.faults.extend(Fault(delay=seconds) for _ in range(count))

    def empty_next(self, count: int = 1) -> None:
        """Answer the next `count` requests with an empty feed."""
        self.faults.extend(Fault(empty=True) for _ in range(count))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        params = parse_qs(urlsplit(handler.path).query, keep_blank_values=True)
        self.requests.append((time.monotonic(), params))
        fault = self.faults.pop(0) if self.faults else Fault()
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status:
            self._send(handler, fault.status, "<html><body>Service unavailable</body></html>")
            return
        start = int(params.get("start", ["0"])[0])
        per_page = int(params.get("max_results", ["10"])[0])
        ids = [i for i in params.get("id_list", [""])[0].split(",") if i]
        query = params.get("search_query", [""])[0]
        bad = [i for i in ids if not (_NEW_ID.match(i) or _OLD_ID.match(i))]
        if bad:
            self._send(handler, 400, self._error_feed(bad[0]))
            return
        matches = [] if fault.empty else self._select(ids, query)
        page = matches[start : start + per_page]
        head = FEED_HEAD.format(
            query=escape(f"search_query={query}&id_list={','.join(ids)}"),
            per_page=per_page,
            total=len(matches),
            start=start,
        )
        self._send(handler, 200, head + "".join(page) + "</feed>\n")

    def _select(self, ids: list[str], query: str) -> list[str]:
        if ids:
            found = []
            for raw in ids:
                key = _VERSION.sub("", raw)
                key = re.sub(r"\.[A-Za-z]{2}/", "/", key)  # math.GT/0309136 is math/0309136
                if key in self.entries:
                    found.append(self.entries[key])
            return found
        words = [w.lower() for w in re.findall(r"ti:(\S+)", query)]
        hits = []
        for block in self.entries.values():
            title_match = _TITLE.search(block)
            title = title_match.group(1).lower() if title_match else ""
            if words and all(re.search(rf"\b{re.escape(w)}", title) for w in words):
                hits.append(block)
        return hits

    @staticmethod
    def _error_feed(bad_id: str) -> str:
        return (
            FEED_HEAD.format(query="error", per_page=1, total=1, start=0)
            + "  <entry>\n"
            + f"    <id>https://arxiv.org/api/errors#incorrect_id_format_for_{escape(bad_id)}</id>\n"
            + "    <title>Error</title>\n"
            + f"    <summary>incorrect id format for {escape(bad_id)}</summary>\n"
            + "    <author>\n      <name>arXiv api core</name>\n    </author>\n"
            + "  </entry>\n</feed>\n"
        )

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: str) -> None:
        data = body.encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
