"""An Atom feed file of the most recent summaries, rendered in full.

The feed is derived data. Its entries live in a JSON sidecar next to it (``feed.xml.json``
for ``feed.xml``), and every change rewrites both from that list: publishing a summary
adds or replaces its entry (an edit keeps the entry id and first-published time and moves
``updated``), `remove` drops it, and only the `max_entries` most recently updated are kept.
Parsing our own XML back would be more fragile than reading a list we wrote.

Both files are written atomically: a temporary file in the same directory, flushed and
fsynced, then ``os.replace``, so a reader (or a crash) never sees half a feed. The sidecar
is written first; `rebuild` re-renders the feed from it. Entry ids are stable tag URIs,
``tag:shortsci,2026:summary-{summary_id}``, so feed readers recognise an edited entry.
"""

from __future__ import annotations

import asyncio
import fcntl
import html
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, TypeVar

from feedgen.feed import FeedGenerator

from publisher.channels._common import Clock, utc_now
from publisher.channels.base import Limits, Post, Published, RetryLater

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

TAG = "tag:shortsci,2026:"
MAX_LENGTH = 1_000_000


def entry_id(summary_id: int) -> str:
    """The stable Atom id of a summary's entry."""
    return f"{TAG}summary-{summary_id}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry as the sidecar stores it (times in ISO 8601)."""

    summary_id: int
    title: str
    link: str
    html: str
    updated: str
    published: str


class AtomChannel:
    """Keeps an Atom feed file of the latest summaries."""

    name: ClassVar[str] = "atom"

    def __init__(
        self,
        *,
        path: Path,
        public_url: str | None = None,
        title: str = "ShortSci",
        subtitle: str = "Short, readable summaries of research papers",
        max_entries: int = 50,
        clock: Clock = utc_now,
    ) -> None:
        """Build the channel; files are written on the first publish.

        Args:
            path: the feed file (``settings.resolved_feed_path``).
            public_url: the site's base URL, for the feed's own links.
            title: the feed's title.
            subtitle: the feed's subtitle.
            max_entries: how many of the most recently updated summaries the feed holds.
            clock: the current time, used when a post carries no ``updated``.
        """
        self.limits = Limits(MAX_LENGTH, link_required=False)
        self.path = path
        self.sidecar = path.with_name(path.name + ".json")
        self._public_url = public_url.rstrip("/") if public_url else None
        self._title = title
        self._subtitle = subtitle
        self._max_entries = max_entries
        self._clock = clock
        self._lock = asyncio.Lock()

    async def publish(self, post: Post) -> Published:
        """Add the summary's entry, or replace it if the summary was edited."""
        async with self._lock:
            await asyncio.to_thread(self._locked, self._upsert, post)
        log.info("atom: publication %s wrote summary %s", post.publication_id, post.summary_id)
        return Published(entry_id(post.summary_id), post.link)

    async def update(self, post: Post, external_id: str) -> Published:
        """An edited summary replaces its entry (same id, new ``updated``)."""
        return await self.publish(post)

    async def withdraw(self, post: Post, external_id: str) -> None:
        """A deleted summary leaves the feed."""
        await self.remove(post.summary_id)

    async def remove(self, summary_id: int) -> bool:
        """Drop a summary's entry (it was deleted); False if it was not in the feed."""
        async with self._lock:
            removed = await asyncio.to_thread(self._locked, self._remove, summary_id)
        log.info("atom: summary %s %s", summary_id, "removed" if removed else "was not in the feed")
        return removed

    async def find_existing(self, post: Post) -> Published | None:
        """The summary's entry, if the feed has one for this link."""
        entries = await asyncio.to_thread(self._load)
        for entry in entries:
            if entry.summary_id == post.summary_id and entry.link == post.link:
                return Published(entry_id(entry.summary_id), entry.link)
        return None

    async def rebuild(self) -> None:
        """Re-render the feed file from the sidecar."""
        async with self._lock:
            await asyncio.to_thread(lambda: self._write_feed(self._load()))

    async def aclose(self) -> None:
        """Nothing to release."""

    def _locked(self, change: Callable[[T], R], argument: T) -> R:
        """Run a read-modify-write of the feed under a lock file shared by every process."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return change(argument)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _upsert(self, post: Post) -> None:
        now = (post.updated or self._clock()).isoformat()
        entries = self._load()
        previous = next((e for e in entries if e.summary_id == post.summary_id), None)
        body = post.html if post.html is not None else _paragraphs(post.text)
        entry = Entry(
            summary_id=post.summary_id,
            title=post.title or post.text.split("\n", 1)[0][:120],
            link=post.link,
            html=body,
            updated=now,
            published=previous.published if previous else now,
        )
        others = [e for e in entries if e.summary_id != post.summary_id]
        self._save([entry, *others])

    def _remove(self, summary_id: int) -> bool:
        entries = self._load()
        kept = [e for e in entries if e.summary_id != summary_id]
        if len(kept) == len(entries):
            return False
        self._save(kept)
        return True

    def _load(self) -> list[Entry]:
        try:
            data = json.loads(self.sidecar.read_text(encoding="utf-8"))
            return [Entry(**item) for item in data["entries"]]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            aside = self.sidecar.with_name(self.sidecar.name + ".corrupt")
            log.error("atom: %s is unreadable (%s); moved to %s", self.sidecar, exc, aside)
            os.replace(self.sidecar, aside)
            return []

    def _save(self, entries: list[Entry]) -> None:
        entries = sorted(entries, key=lambda e: datetime.fromisoformat(e.updated), reverse=True)
        entries = entries[: self._max_entries]
        data = {"version": 1, "entries": [asdict(e) for e in entries]}
        try:
            _write_atomically(self.sidecar, json.dumps(data, ensure_ascii=False, indent=1).encode())
            self._write_feed(entries)
        except OSError as exc:
            raise RetryLater(f"atom: cannot write {self.path.name} ({exc.strerror})") from exc

    def _write_feed(self, entries: list[Entry]) -> None:
        feed = FeedGenerator()
        feed.id(f"{TAG}feed")
        feed.title(self._title)
        feed.subtitle(self._subtitle)
        feed.author({"name": self._title})
        if self._public_url:
            feed.link(href=f"{self._public_url}/{self.path.name}", rel="self")
            feed.link(href=self._public_url, rel="alternate")
        feed.language("en")
        newest = max((datetime.fromisoformat(e.updated) for e in entries), default=self._clock())
        feed.updated(newest)
        for item in entries:
            entry = feed.add_entry(order="append")
            entry.id(entry_id(item.summary_id))
            entry.title(item.title)
            entry.link(href=item.link, rel="alternate")
            entry.content(item.html, type="html")
            entry.updated(datetime.fromisoformat(item.updated))
            entry.published(datetime.fromisoformat(item.published))
        _write_atomically(self.path, feed.atom_str(pretty=True))


def _paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, for posts without a rich rendering."""
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    return "".join(f"<p>{html.escape(b).replace(chr(10), '<br/>')}</p>" for b in blocks)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
