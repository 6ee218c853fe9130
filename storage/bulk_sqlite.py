"""The snapshot import's SQLite writer: one batch of parsed rows into `papers`, one transaction.

It runs where the batch was parsed (a parser process of `storage.parsers`, or a thread of the
importing process), on its own stdlib ``sqlite3`` connection, so the rows never cross a pipe
or an event loop. The importer lets one batch at a time write, in input order.

In the batch's transaction (``BEGIN IMMEDIATE``: SQLite's write lock from the start) the
papers already stored, and the DOIs other papers hold, are looked up (unless the batch before
found none: then the unique indexes tell, see `Writer.store`); the FTS5 insert trigger, which
would index row by row, is dropped, the new rows inserted, indexed with one ``INSERT INTO
papers_fts ... SELECT``, and the trigger re-created from its stored SQL (SQLite's DDL is
transactional, so no other connection ever sees it missing).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from storage.snapshot import ROW

_FTS_TRIGGER = "papers_fts_insert"
_DOI = ROW.index("doi")
# The stored values among a JSON list of them (one parameter, however many values).
_KNOWN = {
    column: f"SELECT {column} FROM papers WHERE {column} IN (SELECT value FROM json_each(?))"  # noqa: S608 (our names)
    for column in ("arxiv_id", "doi")
}
# The writer's connection: the settings of `storage.db`, and a page cache that holds the
# indexes' hot pages and a batch (for the FTS pass).
_PRAGMAS = (
    "PRAGMA busy_timeout = 30000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -131072",
)
# Unless a `Checkpointer` does it: a WAL checkpoint every ~64 MiB, not 4 MiB.
_AUTOCHECKPOINT_PAGES = 16_384


@dataclass(frozen=True)
class Target:
    """Where a writer stores rows: the SQLite file, and the INSERT of `COLUMNS` (qmark)."""

    path: str
    insert: str
    checkpointed: bool = False  # by a `Checkpointer`: the writers never checkpoint


@dataclass
class Stored:
    """What one batch's transaction did."""

    inserted: int = 0
    existing: int = 0
    doi_conflicts: int = 0


def new_rows(rows: list[tuple[Any, ...]], stored: set[str], stored_out: Stored) -> list[Any]:
    """The rows not stored yet, the first of each arXiv id; the rest counted as existing."""
    unique: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        unique.setdefault(row[0], row)
    stored_out.existing += len(rows) - len(unique) + len(stored & unique.keys())
    if not stored:
        return list(unique.values())
    return [row for key, row in unique.items() if key not in stored]


def drop_taken_dois(rows: list[tuple[Any, ...]], taken: set[str], stored_out: Stored) -> None:
    """Store without its DOI each row whose DOI is `taken` or an earlier row's (in place)."""
    for index, row in enumerate(rows):
        doi = row[_DOI]
        if doi is None:
            continue
        if doi in taken:
            rows[index] = (*row[:_DOI], None, *row[_DOI + 1 :])
            stored_out.doi_conflicts += 1
        else:
            taken.add(doi)


class Writer:
    """A connection to `Target` that stores batches; used by one thread at a time."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._conn = sqlite3.connect(target.path, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            self._conn.execute(pragma)
        pages = 0 if target.checkpointed else _AUTOCHECKPOINT_PAGES
        self._conn.execute(f"PRAGMA wal_autocheckpoint = {pages}")
        self._fresh = True  # no batch found a stored paper or DOI yet

    def _known(self, column: str, values: list[str]) -> set[str]:
        if not values:
            return set()
        query = _KNOWN[column]
        return {value for (value,) in self._conn.execute(query, (json.dumps(values),))}

    def store(self, rows: list[tuple[Any, ...]]) -> Stored:
        """Insert the new papers among `rows` (`COLUMNS` order, driver values), committed.

        While batches find none of their papers or DOIs stored (a fresh import), the next
        is inserted without looking them up (a tenth of the transaction's work): the unique
        indexes refuse a stored one, and then the batch is rolled back and stored again
        with the lookups. Either way the same rows are stored, with the same counts.
        """
        if self._fresh:
            try:
                return self._store(rows, look_up=False)
            except sqlite3.IntegrityError as exc:  # a paper or DOI is stored: look them up
                if exc.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_UNIQUE:
                    raise
        return self._store(rows, look_up=True)

    def _store(self, rows: list[tuple[Any, ...]], look_up: bool) -> Stored:
        """`store`, in one transaction (which holds the write lock from its start)."""
        conn = self._conn
        stored = Stored()
        conn.execute("BEGIN IMMEDIATE")
        try:
            known = self._known("arxiv_id", [row[0] for row in rows]) if look_up else set()
            fresh = new_rows(rows, known, stored)  # (without look-ups: the batch's repeats)
            dois = [row[_DOI] for row in fresh if row[_DOI]]
            taken = self._known("doi", dois) if look_up else set()
            self._fresh = not known and not taken
            drop_taken_dois(fresh, taken, stored)  # (adds this batch's DOIs to `taken`)
            if fresh:
                self._insert(fresh)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # (SQLite rolls back itself on some errors, a full disk)
                conn.execute("ROLLBACK")
            raise
        stored.inserted = len(fresh)
        return stored

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        conn = self._conn
        found = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_FTS_TRIGGER,)
        ).fetchone()
        if found is None:  # no full-text index (an old schema): a plain insert
            conn.executemany(self.target.insert, rows)
            return
        (first,) = conn.execute("SELECT coalesce(max(id), 0) FROM papers").fetchone()
        conn.execute(f"DROP TRIGGER {_FTS_TRIGGER}")
        # This transaction holds the write lock, so the ids above `first` are this batch's.
        conn.executemany(self.target.insert, rows)
        conn.execute(
            "INSERT INTO papers_fts(rowid, title, authors) "
            "SELECT id, title, authors FROM papers WHERE id > ?",
            (first,),
        )
        conn.execute(found[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class Checkpointer:
    """WAL checkpoints of the import's SQLite file, mostly while a writer writes.

    SQLite's automatic checkpoint runs in the commit that fills the WAL, so the batch's
    writer waits for it to copy ~64 MiB into the database file and sync both files. Here
    `start` copies what is committed in the background (``PASSIVE``: writers go on
    appending; the importer starts one every few batches, so that a page several batches
    rewrote is copied once), and `drain`, between two batches, copies the little left,
    after which the next writer starts the WAL over from its beginning (so it stays small).
    Both sync the files as SQLite's own checkpoints do (``synchronous = NORMAL``).
    """

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 30000")
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="checkpoint")
        self._running: Future[Any] | None = None

    def _checkpoint(self) -> None:
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def start(self) -> None:
        """Begin a checkpoint in the background, unless one is running."""
        if self._running is None or self._running.done():
            self._running = self._thread.submit(self._checkpoint)

    async def drain(self) -> None:
        """Wait for the running checkpoint, then checkpoint what is left (no writer writing)."""
        if self._running is not None:
            await asyncio.wrap_future(self._running)
        self._running = self._thread.submit(self._checkpoint)
        await asyncio.wrap_future(self._running)

    def close(self) -> None:
        """Wait for the running checkpoint, if any, and close the connection."""
        self._thread.shutdown(wait=True)
        self._conn.close()
