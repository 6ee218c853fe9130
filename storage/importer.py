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
counted and skipped, never fatal. An import is one transaction per batch, so one that stops
half-way (killed, crashed) leaves whole batches behind, and running it again adds the rest.

Speed (see ``bench/README.md``): every per-paper step in Python runs in parser processes
(`storage.parsers`), a few batches ahead: JSON parsing (orjson), the row, and on SQLite the
values as its driver takes them (`storage.snapshot`: JSON and timestamp text, the bytes
SQLAlchemy's Core insert would store, checked against this engine's bind processors before an
import starts). A parser reads its byte range of the file itself and hands back one
marshalled list of row tuples, so this process only checks which papers are new and passes
the tuples to the driver's ``executemany``. On SQLite the FTS5 insert trigger, which would
index row by row, is dropped inside the batch's transaction, the batch indexed with one
``INSERT INTO papers_fts ... SELECT``, and the trigger re-created from its stored SQL
(SQLite's DDL is transactional, so no other connection ever sees it missing). While it runs,
the import's connection has a larger page cache and checkpoints the WAL every ~64 MiB instead
of ~4 MiB. ``synchronous`` stays ``NORMAL``: a crash of the import loses only the batch in
progress, a power cut at most the batches since the last checkpoint, and neither corrupts the
database; running the import again adds what is missing. On PostgreSQL the rows go in through
SQLAlchemy (``ON CONFLICT DO NOTHING``); the insert computes ``search_vector``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, aclosing, closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import Paper, utcnow
from storage.parsers import ParserProcesses
from storage.snapshot import (
    COLUMNS,
    MAX_ERRORS,
    ROW,
    Chunk,
    Parsed,
    byte_ranges,
    open_snapshot,
    parse_chunk,
    sqlite_json,
    sqlite_timestamp,
)

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger(__name__)

DEFAULT_BATCH = 5000
MAX_ERRORS_KEPT = MAX_ERRORS  # per import, as per chunk
_FTS_TRIGGER = "papers_fts_insert"
_DOI = ROW.index("doi")
# The import's own SQLite connection, while it runs: a page cache that holds the indexes'
# hot pages and a batch (for the FTS pass), and a WAL checkpoint every ~64 MiB, not 4 MiB.
_SQLITE_CACHE_KIB = 128 * 1024
_SQLITE_CHECKPOINT_PAGES = 16_384


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


def _sqlite_values_match(dialect: Dialect) -> bool:
    """Whether `storage.snapshot`'s SQLite values are what this engine's Core insert binds."""
    compiled = insert(Paper).compile(dialect=dialect, column_keys=list(COLUMNS))
    processors = compiled._bind_processors
    names = ["Balázs, C.", 'quote " and \\ slash', "\u2028tab\t", "日本"]
    moment = datetime(2007, 4, 2, 19, 18, 42, 5, tzinfo=UTC)
    probes: list[tuple[str, Any, str]] = [
        ("authors", names, sqlite_json(names)),
        ("categories", [], sqlite_json([])),
        ("published", moment, sqlite_timestamp(moment)),
        ("fetched_at", moment, sqlite_timestamp(moment)),
        ("created_at", moment, sqlite_timestamp(moment)),
    ]
    for key, value, ours in probes:
        process = processors.get(key)
        if not callable(process) or process(value) != ours:
            return False
    return all(
        not callable(processors.get(key))
        for key in COLUMNS
        if key not in ("authors", "categories", "published", "fetched_at", "created_at")
    )


def _lines_chunks(lines: Iterable[str | bytes], size: int) -> Generator[Chunk, None, None]:
    """Lines in chunks of `size` (a list of lines, or any iterable such as stdin)."""
    chunk: list[str | bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _known(conn: AsyncConnection, column: Any, values: list[str]) -> set[str]:
    """The `values` of `column` already stored."""
    if not values:
        return set()
    if conn.dialect.name == "sqlite":  # one parameter, however many values
        listed = func.json_each(json.dumps(values)).table_valued("value")
        return set(await conn.scalars(select(column).where(column.in_(select(listed.c.value)))))
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
    fresh = (
        list(unique.values())
        if not stored
        else [row for key, row in unique.items() if key not in stored]
    )
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
    if conn.dialect.name == "sqlite":
        await _insert_sqlite(conn, fresh)
    else:
        now = utcnow()
        dicts = [
            {**dict(zip(ROW, row, strict=True)), "fetched_at": now, "created_at": now}
            for row in fresh
        ]
        # DO NOTHING: a concurrent writer (the bot fetching a paper) may win the race.
        await conn.execute(pg_insert(Paper).on_conflict_do_nothing(), dicts)
    report.inserted += len(fresh)


async def _insert_sqlite(conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    """Rows of driver values in `COLUMNS` order, and their full-text entries."""
    statement = str(insert(Paper).compile(dialect=conn.dialect, column_keys=list(COLUMNS)))
    trigger = await conn.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": _FTS_TRIGGER},
    )
    if trigger is None:  # no full-text index (an old schema): a plain insert
        await conn.exec_driver_sql(statement, rows)
        return
    first = await conn.scalar(text("SELECT coalesce(max(id), 0) FROM papers"))
    await conn.execute(text(f"DROP TRIGGER {_FTS_TRIGGER}"))
    # The arxiv ids were checked inside this transaction, which holds SQLite's write lock,
    # so the inserts cannot conflict, and the ids above `first` are this batch's.
    await conn.exec_driver_sql(statement, rows)
    await conn.execute(
        text(
            "INSERT INTO papers_fts(rowid, title, authors) "
            "SELECT id, title, authors FROM papers WHERE id > :first"
        ),
        {"first": first},
    )
    await conn.execute(text(trigger))


async def _sqlite_bulk_settings(conn: AsyncConnection, stack: AsyncExitStack) -> None:
    """Give the import's connection its bulk settings, set back when `stack` closes."""
    settings = {"cache_size": -_SQLITE_CACHE_KIB, "wal_autocheckpoint": _SQLITE_CHECKPOINT_PAGES}
    before = {name: int(await conn.scalar(text(f"PRAGMA {name}")) or 0) for name in settings}

    async def apply(values: dict[str, int]) -> None:
        for name, value in values.items():
            await conn.exec_driver_sql(f"PRAGMA {name} = {int(value)}")
        await conn.commit()

    await apply(settings)
    stack.push_async_callback(apply, before)


def default_workers() -> int:
    """Parser processes: one per core, at most 4 (this process does the database work)."""
    return min(4, max(1, os.cpu_count() or 1))


@contextmanager
def _chunks(lines: Iterable[str | bytes] | str | Path, batch: int) -> Iterator[Iterator[Chunk]]:
    """The input in chunks of `batch` lines: byte ranges of a plain file, else lists of lines."""
    if isinstance(lines, str | Path) and not str(lines).endswith(".gz"):
        ranges = byte_ranges(Path(lines), batch)
        with closing(ranges):
            yield ranges
    elif isinstance(lines, str | Path):
        with open_snapshot(lines) as opened:
            yield _lines_chunks(opened, batch)
    else:
        yield _lines_chunks(lines, batch)


async def _parsed(
    chunks: Iterator[Chunk], sqlite: bool, workers: int
) -> AsyncGenerator[Parsed, None]:
    """The chunks parsed, in order, a few ahead: in `workers` processes, else in a thread."""
    loop = asyncio.get_running_loop()
    ahead = list(islice(chunks, 2))
    processes: ParserProcesses | None = None
    thread: ThreadPoolExecutor | None = None
    if workers and len(ahead) > 1:  # a single chunk is parsed without starting processes
        processes = await ParserProcesses.start(workers)
    else:
        thread = ThreadPoolExecutor(1, thread_name_prefix="snapshot")

    def submit(chunk: Chunk) -> asyncio.Future[Parsed]:
        if processes is not None:
            return processes.submit(chunk, sqlite)
        return loop.run_in_executor(thread, parse_chunk, chunk, sqlite)

    depth = max(2, 2 * workers)
    pending = deque(submit(chunk) for chunk in chain(ahead, islice(chunks, depth - len(ahead))))
    try:
        while pending:
            parsed = await pending.popleft()
            if (chunk := next(chunks, None)) is not None:
                pending.append(submit(chunk))
            yield parsed
    finally:
        for future in pending:
            future.cancel()
        if processes is not None:
            await processes.close(kill=bool(pending))
        if thread is not None:
            thread.shutdown(wait=True, cancel_futures=True)


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
        batch: lines per transaction (about that many from an uncompressed file, which is
            cut into byte ranges by the length of its first lines).
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
    sqlite = db.dialect == "sqlite"
    if sqlite and not _sqlite_values_match(db.engine.dialect):
        raise RuntimeError("this engine binds papers' values differently; import unsupported")
    numbered = 0  # lines before the chunk at hand (for "line N" in errors)
    async with AsyncExitStack() as stack:
        chunks = stack.enter_context(_chunks(lines, batch))
        conn = await stack.enter_async_context(db.engine.connect())
        if sqlite:
            await _sqlite_bulk_settings(conn, stack)
        parsed_chunks = await stack.enter_async_context(aclosing(_parsed(chunks, sqlite, workers)))
        async for parsed in parsed_chunks:
            report.lines += parsed.lines
            report.malformed += parsed.malformed
            for offset, reason in parsed.errors[: MAX_ERRORS_KEPT - len(report.errors)]:
                report.errors.append(f"line {numbered + offset}: {reason}")
            numbered += parsed.numbered
            if parsed.lines > parsed.malformed:
                rows = parsed.table()
                async with conn.begin():
                    if sqlite:
                        # The write lock from the start: the checks, the id range and the
                        # trigger swap are one transaction no other writer interleaves with.
                        await conn.exec_driver_sql("BEGIN IMMEDIATE")
                    await _store(conn, rows, report)
            if progress is not None:
                progress(report.lines)
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
