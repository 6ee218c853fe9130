"""Bulk import of the arXiv metadata snapshot (Kaggle's ``arxiv-metadata-oai-snapshot.json``).

The snapshot is JSON lines, one paper per line::

    {"id": "0704.0001", "authors": "C. Bal\\'azs, E. L. Berger, ...", "title": "...",
     "journal-ref": "Phys.Rev.D76:013009,2007", "doi": "10.1103/PhysRevD.76.013009",
     "categories": "hep-ph", "abstract": "...",
     "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}, ...],
     "update_date": "2008-11-13", "authors_parsed": [["Balázs", "C.", ""], ...], ...}

Each line becomes one `papers` row as the arXiv API source stores it (`source = "arxiv"`).
Papers already stored are **kept as they are** (insert-or-ignore by arXiv id): a stored paper
may have been refreshed from the arXiv API since, and summaries point at it. A paper whose DOI
another stored paper already holds is stored without that DOI (counted in
`ImportReport.doi_conflicts`), so no paper is lost to a shared DOI. Malformed lines are
counted and skipped, never fatal.

Speed (see ``bench/README.md``): parsing JSON is most of the work, so lines are parsed in
worker processes, a few batches ahead, while this process inserts. Rows go in as the Core
``INSERT`` for `Paper`, executemany, one transaction per batch. On SQLite the values are
prepared with the columns' own bind processors (so stored bytes are what
``conn.execute(insert(Paper), rows)`` stores) and handed to the driver as tuples; the FTS5
insert trigger, which would index row by row, is dropped inside the batch's transaction, the
batch indexed with one ``INSERT INTO papers_fts ... SELECT``, and the trigger re-created from
its stored SQL. SQLite's DDL is transactional, so no other connection ever sees the trigger
missing. On PostgreSQL the generated ``search_vector`` column is computed by the insert.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.catalog.refs import MalformedReference, parse_arxiv_id
from storage.models import Paper, utcnow

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger(__name__)

DEFAULT_BATCH = 5000
MAX_ERRORS_KEPT = 20
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_FTS_TRIGGER = "papers_fts_insert"
_VENUE_MAX = 255  # papers.venue is VARCHAR(255)
_DOI_MAX = 255
# A parsed row's values, in this order; the import adds fetched_at and created_at.
_ROW = (
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
_COLUMNS = (*_ROW, "fetched_at", "created_at")
_DOI = 1


class MalformedLine(ValueError):
    """A snapshot line that cannot be read as a paper."""


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        lines: non-blank lines read.
        inserted: new papers stored.
        existing: papers already stored (or repeated in the input), left as they were.
        malformed: lines skipped because they are not a readable paper.
        doi_conflicts: papers stored without their DOI, which another paper holds.
        seconds: wall time.
        errors: the first few malformed lines, as ``"line N: reason"``.
    """

    lines: int = 0
    inserted: int = 0
    existing: int = 0
    malformed: int = 0
    doi_conflicts: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Lines handled per second."""
        return self.lines / self.seconds if self.seconds > 0 else 0.0


def _clean(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def parse_created(value: str) -> datetime:
    """An RFC 2822 date as the snapshot writes it (``Mon, 2 Apr 2007 19:18:42 GMT``), UTC."""
    parts = value.split()
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
        try:
            hour, minute, second = parts[4].split(":")
            return datetime(
                int(parts[3]),
                _MONTHS[parts[2]],
                int(parts[1]),
                int(hour),
                int(minute),
                int(second),
                tzinfo=UTC,
            )
        except ValueError:
            pass  # let the general parser decide
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise MalformedLine(f"unreadable date {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
    authors = _clean(record.get("authors"))
    names = []
    for chunk in authors.split(", "):
        names.extend(n.strip() for n in chunk.split(" and "))
    return [n for n in names if n]


def paper_row(record: object) -> dict[str, Any]:
    """One snapshot object as a `papers` row (without timestamps); `MalformedLine` if unusable."""
    if not isinstance(record, dict):
        raise MalformedLine("not a JSON object")
    raw_id = record.get("id")
    if not isinstance(raw_id, str):
        raise MalformedLine("no id")
    try:
        ref = parse_arxiv_id(raw_id)
    except MalformedReference as exc:
        raise MalformedLine(f"invalid arXiv id {raw_id!r}") from exc
    if ref is None:
        raise MalformedLine(f"invalid arXiv id {raw_id!r}")
    title = _clean(record.get("title"))
    if not title:
        raise MalformedLine(f"{raw_id}: no title")
    versions = record.get("versions")
    published = None
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        if isinstance(created, str):
            published = parse_created(created)
    doi = record.get("doi")
    doi = doi.strip().lower() if isinstance(doi, str) and doi.strip() else None
    if doi is not None and (len(doi) > _DOI_MAX or " " in doi):
        doi = doi.split()[0][:_DOI_MAX]  # the snapshot sometimes lists several DOIs
    journal = _clean(record.get("journal-ref"))
    categories = record.get("categories")
    return {
        "arxiv_id": ref.value,
        "doi": doi,
        "title": title,
        "authors": _author_names(record),
        "abstract": _clean(record.get("abstract")) or None,
        "venue": journal[:_VENUE_MAX] if journal else "arXiv",
        "year": published.year if published else None,
        "published": published,
        "categories": categories.split() if isinstance(categories, str) else [],
        "url": f"https://arxiv.org/abs/{ref.value}",
        "source": "arxiv",
    }


def open_snapshot(path: str | Path) -> io.BufferedIOBase:
    """Open a snapshot file for reading lines as bytes (``.gz`` is decompressed).

    Lines stay bytes: each is decoded by ``json.loads`` on its own, so one line that is not
    UTF-8 is one malformed line, not the end of the import.
    """
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


@dataclass
class _Parsed:
    """One chunk of lines, parsed: rows as tuples in `_ROW` order, and what was skipped."""

    rows: list[tuple[Any, ...]]
    lines: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)


_Processor = Callable[[Any], Any]
_PROCESSORS: dict[type[Dialect], list[tuple[int, _Processor]]] = {}


def _processors(dialect_class: type[Dialect]) -> list[tuple[int, _Processor]]:
    """(index in `_ROW`, bind processor) of the Core insert on that dialect, where it has one."""
    if dialect_class in _PROCESSORS:
        return _PROCESSORS[dialect_class]
    compiled = insert(Paper).compile(dialect=dialect_class(), column_keys=list(_COLUMNS))
    if list(compiled.positiontup or []) != list(_COLUMNS):
        raise RuntimeError("the papers insert's parameters are not in the expected order")
    processors = compiled._bind_processors
    steps: list[tuple[int, _Processor]] = []
    for index, key in enumerate(_ROW):
        process = processors.get(key)
        if callable(process):
            steps.append((index, process))
    _PROCESSORS[dialect_class] = steps
    return steps


def _parse_chunk(lines: list[str | bytes], first: int, driver: type[Dialect] | None) -> _Parsed:
    """Parse lines numbered from `first`; with `driver`, values come out as its driver takes them.

    Runs in a worker process: it must stay a picklable, top-level function.
    """
    steps = _processors(driver) if driver is not None else []
    parsed = _Parsed([])
    loads = json.loads
    for number, line in enumerate(lines, first):
        if not line.strip():
            continue
        parsed.lines += 1
        try:
            row = paper_row(loads(line))
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            parsed.malformed += 1
            if len(parsed.errors) < MAX_ERRORS_KEPT:
                reason = str(exc) if isinstance(exc, MalformedLine) else type(exc).__name__
                parsed.errors.append(f"line {number}: {reason}")
            continue
        values = [row[key] for key in _ROW]
        for index, process in steps:
            values[index] = process(values[index])
        parsed.rows.append(tuple(values))
    return parsed


def _chunks(lines: Iterable[str | bytes], size: int) -> Iterator[tuple[int, list[str | bytes]]]:
    """(number of the first line, the lines), `size` lines at a time."""
    chunk: list[str | bytes] = []
    first = 1
    for number, line in enumerate(lines, 1):
        chunk.append(line)
        if len(chunk) >= size:
            yield first, chunk
            chunk, first = [], number + 1
    if chunk:
        yield first, chunk


async def _known(conn: AsyncConnection, column: Any, values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), 10_000):
        chunk = values[start : start + 10_000]
        found.update(await conn.scalars(select(column).where(column.in_(chunk))))
    return found


async def _store(conn: AsyncConnection, rows: list[tuple[Any, ...]], report: ImportReport) -> None:
    """Insert the new papers of one chunk (inside the caller's transaction)."""
    unique: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        unique.setdefault(row[0], row)
    report.existing += len(rows) - len(unique)
    stored = await _known(conn, Paper.arxiv_id, list(unique))
    report.existing += len(stored)
    fresh = [row for key, row in unique.items() if key not in stored]
    if not fresh:
        return
    taken = await _known(conn, Paper.doi, [row[_DOI] for row in fresh if row[_DOI]])
    for index, row in enumerate(fresh):
        doi = row[_DOI]
        if doi is None:
            continue
        if doi in taken:
            fresh[index] = (*row[:_DOI], None, *row[_DOI + 1 :])
            report.doi_conflicts += 1
        else:
            taken.add(doi)
    now = utcnow()
    if conn.dialect.name == "sqlite":
        await _insert_sqlite(conn, fresh, now)
    else:
        dicts = [
            {**dict(zip(_ROW, row, strict=True)), "fetched_at": now, "created_at": now}
            for row in fresh
        ]
        # DO NOTHING: a concurrent writer (the bot fetching a paper) may win the race.
        await conn.execute(pg_insert(Paper).on_conflict_do_nothing(), dicts)
    report.inserted += len(fresh)


async def _insert_sqlite(conn: AsyncConnection, rows: list[tuple[Any, ...]], now: datetime) -> None:
    compiled = insert(Paper).compile(dialect=conn.dialect, column_keys=list(_COLUMNS))
    stamp = compiled._bind_processors["created_at"](now)  # type: ignore[operator]
    values = [(*row, stamp, stamp) for row in rows]
    trigger = await conn.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": _FTS_TRIGGER},
    )
    if trigger is None:  # no full-text index (an old schema): a plain insert
        await conn.exec_driver_sql(str(compiled), values)
        return
    first = await conn.scalar(text("SELECT coalesce(max(id), 0) FROM papers"))
    await conn.execute(text(f"DROP TRIGGER {_FTS_TRIGGER}"))
    # The arxiv ids were checked inside this transaction, which holds SQLite's write lock,
    # so the inserts cannot conflict, and the ids above `first` are this batch's.
    await conn.exec_driver_sql(str(compiled), values)
    await conn.execute(
        text(
            "INSERT INTO papers_fts(rowid, title, authors) "
            "SELECT id, title, authors FROM papers WHERE id > :first"
        ),
        {"first": first},
    )
    await conn.execute(text(trigger))


def default_workers() -> int:
    """Parser processes: one per core, at most 4 (this process mostly waits on them)."""
    return min(4, max(1, os.cpu_count() or 1))


async def import_snapshot(
    db: Database,
    lines: Iterable[str | bytes] | str | Path,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import snapshot lines (or the file at a path) into `papers`.

    Args:
        db: the (migrated) database.
        lines: the snapshot's lines, or the path of a snapshot file (``.gz`` allowed).
        batch: lines per transaction.
        progress: called after each batch with the number of lines handled so far.
        workers: parser processes (None: `default_workers`; 0: one thread of this process).
            A single batch is parsed right here, without starting any.

    Returns:
        What was inserted, kept, and skipped as malformed.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    workers = default_workers() if workers is None else workers
    report = ImportReport()
    started = time.perf_counter()
    opened: io.BufferedIOBase | None = None
    source: Iterable[str | bytes]
    if isinstance(lines, str | Path):
        source = opened = open_snapshot(lines)
    else:
        source = lines
    chunks = _chunks(source, batch)
    driver = type(db.engine.dialect) if db.dialect == "sqlite" else None
    loop = asyncio.get_running_loop()
    pool: Executor | None = None
    inflight: deque[asyncio.Future[_Parsed]] = deque()
    try:
        first = next(chunks, None)
        second = next(chunks, None) if first is not None else None
        if second is None:  # one batch at most: no helpers needed
            ahead: list[Any] = [first] if first is not None else []
            pool = ThreadPoolExecutor(1, thread_name_prefix="snapshot")
        else:
            ahead = [first, second]
            pool = (
                ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
                if workers
                else ThreadPoolExecutor(1, thread_name_prefix="snapshot")
            )
        depth = max(2, 2 * workers)

        def submit() -> None:
            chunk = ahead.pop(0) if ahead else next(chunks, None)
            if chunk is not None:
                assert pool is not None
                inflight.append(
                    loop.run_in_executor(pool, _parse_chunk, chunk[1], chunk[0], driver)
                )

        for _ in range(depth):
            submit()
        while inflight:
            parsed = await inflight.popleft()
            submit()
            report.lines += parsed.lines
            report.malformed += parsed.malformed
            report.errors.extend(parsed.errors[: MAX_ERRORS_KEPT - len(report.errors)])
            if parsed.rows:
                async with db.engine.begin() as conn:
                    if conn.dialect.name == "sqlite":
                        # The write lock from the start: the checks, the id range and the
                        # trigger swap are one transaction no other writer interleaves with.
                        await conn.exec_driver_sql("BEGIN IMMEDIATE")
                    await _store(conn, parsed.rows, report)
            if progress is not None:
                progress(report.lines)
    finally:
        for future in inflight:
            future.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if opened is not None:
            opened.close()
    report.seconds = time.perf_counter() - started
    log.info(
        "import: %d lines, %d new, %d kept, %d malformed, %d DOI conflicts in %.1f s",
        report.lines,
        report.inserted,
        report.existing,
        report.malformed,
        report.doi_conflicts,
        report.seconds,
    )
    return report
