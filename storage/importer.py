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

Speed (see ``bench/README.md``): every per-paper step runs in parser processes
(`storage.parsers`), a few batches ahead: JSON parsing (orjson), the row, and on SQLite the
values as its driver takes them (`storage.snapshot`: JSON and timestamp text, the bytes
SQLAlchemy's Core insert would store, checked against this engine's bind processors before an
import starts). A parser reads its byte range of the file itself. On SQLite it also stores
its batch, on its own connection (`storage.bulk_sqlite`), when this process lets it: one
batch at a time, in input order, while the other parsers parse; so the rows never cross a
pipe, and this process only keeps count and copies the WAL into the database file beside
the writers (`storage.bulk_sqlite.Checkpointer`), not inside their commits, every few batches
(a page that several of them rewrite is copied once), all of it before the import returns.
``synchronous`` stays ``NORMAL``: a crash of the import loses only the batch in progress, a
power cut at most the batches since the last checkpoint (a few), and neither corrupts the
database; running the import again adds what is missing. On PostgreSQL the parsed rows come
back to this process and go in through SQLAlchemy (``ON CONFLICT DO NOTHING``); the insert
computes ``search_vector``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, aclosing, closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.bulk_sqlite import (
    Checkpointer,
    Stored,
    Target,
    Writer,
    drop_taken_dois,
    new_rows,
)
from storage.models import Paper, utcnow
from storage.parsers import Loaded, ParserProcesses, load
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
_DOI = ROW.index("doi")
# Batches between two drained checkpoints (so the WAL starts over): ~120 MiB of snapshot.
_DRAIN_EVERY = 20
# Batches between two checkpoints in the background: a page that several batches rewrite (the
# DOI index's leaves: over a third of a batch's WAL) is copied once for them all, not once each.
# The last few batches before a drain each start one, so the drain, which the next writer
# waits for, has little left to copy.
_CHECKPOINT_EVERY = 5
_CLOSE_TO_DRAIN = 3


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
    found: set[str] = set()
    for start in range(0, len(values), 10_000):
        chunk = values[start : start + 10_000]
        found.update(await conn.scalars(select(column).where(column.in_(chunk))))
    return found


async def _store(conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> Stored:
    """Insert the new papers of one chunk, Python values in `ROW` order (PostgreSQL)."""
    stored = Stored()
    ids = list(dict.fromkeys(row[0] for row in rows))
    fresh = new_rows(rows, await _known(conn, Paper.arxiv_id, ids), stored)
    if fresh:
        dois = [row[_DOI] for row in fresh if row[_DOI]]
        drop_taken_dois(fresh, await _known(conn, Paper.doi, dois), stored)
        now = utcnow()
        dicts = [
            {**dict(zip(ROW, row, strict=True)), "fetched_at": now, "created_at": now}
            for row in fresh
        ]
        # DO NOTHING: a concurrent writer (the bot fetching a paper) may win the race.
        await conn.execute(pg_insert(Paper).on_conflict_do_nothing(), dicts)
    stored.inserted = len(fresh)
    return stored


def _sqlite_target(db: Database) -> Target:
    """The import's SQLite file and insert; `RuntimeError` if its values would differ."""
    dialect = db.engine.dialect
    if not _sqlite_values_match(dialect):
        raise RuntimeError("this engine binds papers' values differently; import unsupported")
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise RuntimeError("the import needs an SQLite database file")
    statement = str(insert(Paper).compile(dialect=dialect, column_keys=list(COLUMNS)))
    return Target(str(Path(database).expanduser().resolve()), statement)


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


async def _parsed(chunks: Iterator[Chunk], workers: int) -> AsyncGenerator[Parsed, None]:
    """The chunks parsed (Python values), in order, a few ahead: in processes, else a thread."""
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
            return processes.submit(chunk, False)
        return loop.run_in_executor(thread, parse_chunk, chunk, False)

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


async def _loaded(
    chunks: Iterator[Chunk], target: Target, workers: int
) -> AsyncGenerator[Loaded, None]:
    """The chunks parsed and stored into SQLite, in order, each committed when it comes.

    In `workers` processes, a few chunks ahead, each storing its own when let go (one at a
    time); else parsed and stored one by one in a thread. A `Checkpointer` copies the WAL
    into the database file meanwhile (every few batches), and all of it at the end: the
    import is on disk when it says it is done.
    """
    target = replace(target, checkpointed=True)
    checkpoints = Checkpointer(target.path)
    ahead = list(islice(chunks, 2))
    if workers and len(ahead) > 1:  # a single chunk is parsed without starting processes
        batches = _by_processes(chain(ahead, chunks), target, workers)
    else:
        batches = _by_thread(chain(ahead, chunks), target)
    try:
        async with aclosing(batches):
            written = 0
            async for loaded in batches:
                yield loaded
                written += 1
                if written % _DRAIN_EVERY == 0:  # between two batches: the WAL starts over
                    await checkpoints.drain()
                elif (
                    written % _CHECKPOINT_EVERY == 0
                    or written % _DRAIN_EVERY >= _DRAIN_EVERY - _CLOSE_TO_DRAIN
                ):
                    checkpoints.start()  # what the batches so far wrote, while the next writes
        await checkpoints.drain()
    finally:
        checkpoints.close()


async def _by_thread(chunks: Iterator[Chunk], target: Target) -> AsyncGenerator[Loaded, None]:
    """Each chunk parsed and stored in a thread of this process."""
    loop = asyncio.get_running_loop()
    writer = Writer(target)
    with ThreadPoolExecutor(1, thread_name_prefix="snapshot") as thread:
        try:
            for chunk in chunks:
                yield await loop.run_in_executor(thread, load, writer, chunk)
        finally:
            await loop.run_in_executor(thread, writer.close)


async def _by_processes(
    chunks: Iterator[Chunk], target: Target, workers: int
) -> AsyncGenerator[Loaded, None]:
    """The chunks sent to `workers` processes, a few ahead, each let store its own in turn."""
    processes = await ParserProcesses.start(workers)
    depth = max(2, 2 * workers)
    pending = deque(processes.submit_load(chunk, target) for chunk in islice(chunks, depth))
    try:
        while pending:
            index, future = pending[0]
            processes.go(index)
            loaded = await future
            pending.popleft()
            if (chunk := next(chunks, None)) is not None:
                pending.append(processes.submit_load(chunk, target))
            yield loaded
    finally:
        for _, waiting in pending:
            waiting.cancel()
        await processes.close(kill=bool(pending))


async def _stored(
    db: Database, chunks: Iterator[Chunk], workers: int
) -> AsyncGenerator[Loaded, None]:
    """The chunks parsed and stored through SQLAlchemy, in order, each committed when it comes."""
    async with db.engine.connect() as conn, aclosing(_parsed(chunks, workers)) as parsed_chunks:
        async for parsed in parsed_chunks:
            stored = Stored()
            if parsed.lines > parsed.malformed:
                async with conn.begin():
                    stored = await _store(conn, parsed.table())
            yield parsed, stored


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
    target = _sqlite_target(db) if db.dialect == "sqlite" else None
    numbered = 0  # lines before the chunk at hand (for "line N" in errors)
    async with AsyncExitStack() as stack:
        chunks = stack.enter_context(_chunks(lines, batch))
        batches = await stack.enter_async_context(
            aclosing(
                _loaded(chunks, target, workers)
                if target is not None
                else _stored(db, chunks, workers)
            )
        )
        async for parsed, stored in batches:
            if isinstance(stored, BaseException):
                raise stored
            report.lines += parsed.lines
            report.malformed += parsed.malformed
            for offset, reason in parsed.errors[: MAX_ERRORS_KEPT - len(report.errors)]:
                report.errors.append(f"line {numbered + offset}: {reason}")
            numbered += parsed.numbered
            report.inserted += stored.inserted
            report.existing += stored.existing
            report.doi_conflicts += stored.doi_conflicts
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
