"""Reading the arXiv metadata snapshot: lines to `papers` rows (the import's parser side).

This runs in the import's parser processes (`storage.parsers`), or in a thread of the
importing process, so it is plain functions of picklable values. A chunk (a byte range of the
file, or a list of lines) becomes a `Parsed`: the rows, and what was skipped. For SQLite the
values are already what its driver is given by SQLAlchemy's Core insert for `Paper`: the
list columns as JSON text (non-ASCII as is), timestamps in SQLAlchemy's SQLite text format
(`storage.importer` checks both against the engine's bind processors before it starts).
"""

from __future__ import annotations

import gzip
import io
import marshal
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses
from pathlib import Path
from typing import Any

from orjson import loads

from storage.catalog.refs import MalformedReference, parse_arxiv_id

MAX_ERRORS = 20
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_VENUE_MAX = 255  # papers.venue is VARCHAR(255)
_DOI_MAX = 255
# A row's values, in this order; the import adds fetched_at and created_at.
ROW = (
    "arxiv_id",
    "doi",
    "title",
    "authors",
    "abstract",
    "venue",
    "year",
    "published",
    "categories",
    "url",
    "source",
)
COLUMNS = (*ROW, "fetched_at", "created_at")
# (yymm, length) of new-style ids such as 0704.0001 seen valid; the rest of such an id is digits.
_VALID_NEW_IDS: set[tuple[str, int]] = set()


class MalformedLine(ValueError):
    """A snapshot line that cannot be read as a paper."""


@dataclass(frozen=True)
class FileRange:
    """Bytes ``[start, end)`` of an uncompressed snapshot file, whole lines."""

    path: str
    start: int
    end: int


Chunk = list[str | bytes] | FileRange


@dataclass
class Parsed:
    """One chunk, parsed.

    Attributes:
        rows: the rows, tuples in `COLUMNS` order with both timestamps filled in for SQLite
            (then ``marshal.dumps`` of the list: cheaper to hand over than a pickle), in `ROW`
            order with Python values otherwise; see `table`.
        lines: non-blank lines.
        numbered: all lines, blank ones included (to number the next chunk's lines).
        malformed: lines skipped.
        errors: the first few skipped lines, as (line number within the chunk, reason).
    """

    rows: bytes | list[tuple[Any, ...]] = b""
    lines: int = 0
    numbered: int = 0
    malformed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def table(self) -> list[tuple[Any, ...]]:
        """The rows as a list of tuples."""
        if isinstance(self.rows, bytes):
            return marshal.loads(self.rows)  # type: ignore[no-any-return]  # noqa: S302 (ours)
        return self.rows


def sqlite_json(items: list[str]) -> str:
    """A list of strings as `storage.db.json_text` writes it (what our JSON columns bind).

    Non-ASCII stays as is, so full-text search finds ``Jürgen`` (not ``J\\u00fcrgen``).
    """
    return "[" + ", ".join(map(encode_basestring, items)) + "]"


def sqlite_timestamp(moment: datetime) -> str:
    """A UTC timestamp as SQLAlchemy's SQLite ``DATETIME`` binds it."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 (the fastest here)
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def clean(value: object) -> str:
    """`value` with each run of whitespace made one space, trimmed ("" if not a string)."""
    if not isinstance(value, str):
        return ""
    text = value.replace("\n", " ").strip()
    # Printable means no whitespace but " " (tabs, NBSP, line separators are not printable),
    # so with no double space there is nothing to collapse: the common case, and cheaper.
    if "  " not in text and text.isprintable():
        return text
    return " ".join(text.split())


def _snapshot_date(value: str) -> tuple[int, int, int, int, int, int] | None:
    """(year, month, day, hour, minute, second) of ``Mon, 2 Apr 2007 19:18:42 GMT``, if valid."""
    parts = value.split()
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
        try:
            hour, minute, second = parts[4].split(":")
            fields = (
                int(parts[3]),
                _MONTHS[parts[2]],
                int(parts[1]),
                int(hour),
                int(minute),
                int(second),
            )
            datetime(*fields)  # a real date and time?
        except ValueError:
            return None  # let the general parser decide
        return fields
    return None


def _sqlite_created(value: str) -> tuple[int, str]:
    """(year, `sqlite_timestamp` text) of a snapshot date; `MalformedLine` if unreadable."""
    fields = _snapshot_date(value)
    if fields is None:
        moment = parse_created(value)
        return moment.year, sqlite_timestamp(moment)
    return fields[0], "%04d-%02d-%02d %02d:%02d:%02d.000000" % fields  # noqa: UP031


def parse_created(value: str) -> datetime:
    """An RFC 2822 date as the snapshot writes it (``Mon, 2 Apr 2007 19:18:42 GMT``), UTC."""
    fields = _snapshot_date(value)
    if fields is not None:
        return datetime(*fields, tzinfo=UTC)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise MalformedLine(f"unreadable date {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _arxiv_id(raw: str) -> str:
    """The canonical arXiv id of the snapshot's ``id``; `MalformedLine` if it is not one."""
    if (
        len(raw) in (9, 10)
        and raw[4] == "."
        and raw.isascii()
        and raw[:4].isdigit()
        and raw[5:].isdigit()
        and (raw[:4], len(raw)) in _VALID_NEW_IDS
    ):
        return raw  # a form `parse_arxiv_id` accepted before, unchanged
    try:
        ref = parse_arxiv_id(raw)
    except MalformedReference as exc:
        raise MalformedLine(f"invalid arXiv id {raw!r}") from exc
    if ref is None:
        raise MalformedLine(f"invalid arXiv id {raw!r}")
    if ref.value == raw and len(raw) in (9, 10) and raw[4] == "." and raw.isascii():
        _VALID_NEW_IDS.add((raw[:4], len(raw)))
    return ref.value


def _author_name(entry: object) -> str:
    """``"First Last Suffix"`` from an ``authors_parsed`` entry ``[last, first, suffix]``."""
    if not isinstance(entry, list) or not all(type(p) is str for p in entry):
        return ""
    name = " ".join((*entry[1:2], *entry[:1], *entry[2:3]))
    return " ".join(name.split())


def _author_names(record: dict[str, Any]) -> list[str]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for entry in parsed:
            if type(entry) is list and len(entry) == 3:  # the usual [last, first, ""]
                last, first, suffix = entry
                if type(first) is str and type(last) is str and first and last and suffix == "":
                    name = f"{first} {last}"
                    if "  " not in name and "\n" not in name and name == name.strip():
                        names.append(name)
                        continue
            if name := _author_name(entry):
                names.append(name)
        if names:
            return names
    authors = clean(record.get("authors"))
    names = []
    for chunk in authors.split(", "):
        names.extend(n.strip() for n in chunk.split(" and "))
    return [n for n in names if n]


def paper_row(record: object, sqlite_stamp: str | None = None) -> tuple[Any, ...]:
    """One snapshot object as a `papers` row; `MalformedLine` if unusable.

    Args:
        record: the parsed JSON line.
        sqlite_stamp: None for Python values in `ROW` order; else SQLite driver values in
            `COLUMNS` order, this (`sqlite_timestamp` text) as fetched_at and created_at.
    """
    if not isinstance(record, dict):
        raise MalformedLine("not a JSON object")
    raw_id = record.get("id")
    if not isinstance(raw_id, str):
        raise MalformedLine("no id")
    arxiv_id = _arxiv_id(raw_id)
    title = clean(record.get("title"))
    if not title:
        raise MalformedLine(f"{raw_id}: no title")
    versions = record.get("versions")
    created = None
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
    if not isinstance(created, str):
        created = None
    doi = record.get("doi")
    doi = doi.strip().lower() if isinstance(doi, str) and doi.strip() else None
    if doi is not None and (len(doi) > _DOI_MAX or " " in doi):
        doi = doi.split()[0][:_DOI_MAX]  # the snapshot sometimes lists several DOIs
    journal = clean(record.get("journal-ref"))
    categories = record.get("categories")
    authors = _author_names(record)
    kinds = categories.split() if isinstance(categories, str) else []
    abstract = clean(record.get("abstract")) or None
    venue = journal[:_VENUE_MAX] if journal else "arXiv"
    url = f"https://arxiv.org/abs/{arxiv_id}"
    if sqlite_stamp is None:
        published = parse_created(created) if created else None
        year = published.year if published else None
        return (
            arxiv_id,
            doi,
            title,
            authors,
            abstract,
            venue,
            year,
            published,
            kinds,
            url,
            "arxiv",
        )
    year, stamp = _sqlite_created(created) if created else (None, None)
    return (
        arxiv_id,
        doi,
        title,
        sqlite_json(authors),
        abstract,
        venue,
        year,
        stamp,
        sqlite_json(kinds),
        url,
        "arxiv",
        sqlite_stamp,
        sqlite_stamp,
    )


def open_snapshot(path: str | Path) -> io.BufferedIOBase:
    """Open a snapshot file for reading lines as bytes (``.gz`` is decompressed).

    Lines stay bytes: each is decoded on its own, so one line that is not UTF-8 is one
    malformed line, not the end of the import.
    """
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def byte_ranges(path: Path, lines: int) -> Generator[FileRange, None, None]:
    """An uncompressed snapshot cut at line ends, about `lines` lines a range.

    The range size comes from the average line length of the file's first MiB.
    """
    size = path.stat().st_size
    with open(path, "rb") as file:
        sample = file.read(1 << 20)
        step = max(1, round(len(sample) / max(1, sample.count(b"\n")) * lines))
        start = 0
        while start < size:
            end = start + step
            if end < size:
                file.seek(end - 1)
                file.readline()  # to the end of the line holding byte end - 1
                end = file.tell()
            yield FileRange(str(path), start, min(end, size))
            start = end


def _read(chunk: Chunk) -> list[str | bytes] | list[bytes]:
    if not isinstance(chunk, FileRange):
        return chunk
    with open(chunk.path, "rb") as file:
        file.seek(chunk.start)
        data = file.read(chunk.end - chunk.start)
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the final newline ends the last line; it does not start another
    return lines


def parse_chunk(chunk: Chunk, sqlite: bool, *, packed: bool = True) -> Parsed:
    """Parse a chunk of lines; with `sqlite`, values come out as SQLite's driver takes them.

    With `sqlite` and `packed`, the rows are marshalled (to cross a pipe); else a list.

    Runs in a worker process: it must stay a picklable, top-level function.
    """
    lines = _read(chunk)
    stamp = sqlite_timestamp(datetime.now(UTC)) if sqlite else None
    parsed = Parsed(numbered=len(lines))
    rows = []
    for number, line in enumerate(lines, 1):
        if not line or line.isspace():  # blank (not stripped: a copy of every line)
            continue
        parsed.lines += 1
        try:
            rows.append(paper_row(loads(line), stamp))
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            parsed.malformed += 1
            if len(parsed.errors) < MAX_ERRORS:
                reason = str(exc) if isinstance(exc, MalformedLine) else type(exc).__name__
                parsed.errors.append((number, reason))
    parsed.rows = marshal.dumps(rows) if sqlite and packed else rows
    return parsed
