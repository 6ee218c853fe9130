"""Parser processes for the snapshot import: chunks go in by pipe, what became of them comes back.

Each worker is ``python -m storage.parsers``, which imports only the parsing code
(`storage.snapshot`) and the SQLite writer (`storage.bulk_sqlite`), not the program that
started it (as `multiprocessing`'s spawn would: for ``shortsci`` that is the whole bot, about
a second of CPU and 100 MiB per worker). Messages are pickles framed by an 8-byte length:

- ``("parse", chunk, sqlite)``: the answer is the `Parsed` chunk, rows included (PostgreSQL);
- ``("load", chunk, target)``: the worker parses the chunk, then waits for a ``("go",)``
  and stores the rows itself into the SQLite file of `target` (one transaction); the answer
  is ``(parsed, stored)``, the `Parsed` chunk without its rows and the `Stored` counts (or
  the exception that stopped the transaction). The importer sends each "go" in input order,
  after the batch before is committed, so batches are written in order, one at a time,
  while the other workers parse.

A worker answers its tasks in order, so a reader per worker resolves the futures
`ParserProcesses.submit` returned in that order. A worker ignores SIGINT (the importing
process decides) and ends at the end of its stdin.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

from storage.bulk_sqlite import Stored, Target, Writer
from storage.snapshot import Chunk, Parsed, parse_chunk

_HEADER = 8
_GO = ("go",)
Loaded = tuple[Parsed, Stored | BaseException]


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(_HEADER, "little") + payload


def store(writer: Writer, parsed: Parsed) -> Loaded:
    """Store the rows of `parsed` with `writer`; the chunk without its rows, and the counts."""
    rows = parsed.table()
    parsed.rows = []
    try:
        return parsed, writer.store(rows) if rows else Stored()
    except Exception as exc:
        return parsed, exc


def load(writer: Writer, chunk: Chunk) -> Loaded:
    """Parse `chunk` and store its rows with `writer` (in the importing process)."""
    return store(writer, parse_chunk(chunk, sqlite=True, packed=False))


def _wait_for_go(receive: Callable[[], Any], queued: deque[Any]) -> bool:
    """Read messages until a "go" (True), queueing the tasks before it; False at the end."""
    while (message := receive()) != _GO:
        if message is None:
            return False
        queued.append(message)
    return True


def serve() -> None:
    """The worker's loop: do each task from stdin, answer on stdout, until stdin ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tasks, answers = sys.stdin.buffer, sys.stdout.buffer
    queued: deque[Any] = deque()
    writer: Writer | None = None

    def receive_new() -> Any:
        header = tasks.read(_HEADER)
        if not header:
            return None
        return pickle.loads(tasks.read(int.from_bytes(header, "little")))  # noqa: S301

    while (task := queued.popleft() if queued else receive_new()) is not None:
        if task[0] == "parse":
            answer: Any = parse_chunk(task[1], task[2])
        else:
            chunk, target = task[1], task[2]
            parsed = parse_chunk(chunk, sqlite=True, packed=False)
            if not _wait_for_go(receive_new, queued):
                break  # stdin ended: the import stopped before this batch's turn
            if writer is None or writer.target != target:
                writer = Writer(target)
            answer = store(writer, parsed)
        payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(len(payload).to_bytes(_HEADER, "little"))
        answers.write(payload)
        answers.flush()
    if writer is not None:
        writer.close()


class ParserProcesses:
    """Worker processes running `serve`; tasks go to them in turn."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self._processes = processes
        self._pending: list[deque[asyncio.Future[Any]]] = [deque() for _ in processes]
        self._readers = [
            asyncio.create_task(self._read(process, pending))
            for process, pending in zip(processes, self._pending, strict=True)
        ]
        self._turn = 0

    @classmethod
    async def start(cls, count: int) -> ParserProcesses:
        """Start `count` workers (they find this package on this process's `sys.path`)."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        processes = []
        try:
            for _ in range(count):
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        __name__,
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        env=env,
                    )
                )
        except BaseException:
            for process in processes:
                process.kill()
                await process.wait()
            raise
        return cls(processes)

    def _send(self, index: int, message: tuple[Any, ...]) -> None:
        stdin = self._processes[index].stdin
        assert stdin is not None
        # Written without waiting: the transport buffers what the pipe cannot take yet.
        stdin.write(_frame(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)))

    def _next(self, message: tuple[Any, ...]) -> tuple[int, asyncio.Future[Any]]:
        index = self._turn % len(self._processes)
        self._turn += 1
        self._send(index, message)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[index].append(future)
        return index, future

    def submit(self, chunk: Chunk, sqlite: bool) -> asyncio.Future[Parsed]:
        """Send `chunk` to the next worker; the future holds its `Parsed` chunk."""
        return self._next(("parse", chunk, sqlite))[1]

    def submit_load(self, chunk: Chunk, target: Target) -> tuple[int, asyncio.Future[Loaded]]:
        """Send `chunk` to the next worker to parse and, once let `go`, store into `target`.

        Returns:
            The worker's index (for `go`), and the future of what became of the chunk.
        """
        return self._next(("load", chunk, target))

    def go(self, index: int) -> None:
        """Let worker `index` store its oldest parsed chunk."""
        self._send(index, _GO)

    @staticmethod
    async def _read(
        process: asyncio.subprocess.Process, pending: deque[asyncio.Future[Any]]
    ) -> None:
        stdout = process.stdout
        assert stdout is not None
        try:
            while True:
                size = int.from_bytes(await stdout.readexactly(_HEADER), "little")
                parsed = pickle.loads(await stdout.readexactly(size))  # noqa: S301 (our worker)
                future = pending.popleft()
                if not future.done():
                    future.set_result(parsed)
        except asyncio.IncompleteReadError:
            code = await process.wait()
            while pending:
                future = pending.popleft()
                if not future.done():
                    future.set_exception(RuntimeError(f"a parser process stopped (exit {code})"))

    async def close(self, *, kill: bool = False) -> None:
        """End the workers once their tasks are done (`kill`: at once) and wait for them."""
        for process in self._processes:
            if kill and process.returncode is None:
                process.kill()
            elif process.stdin is not None:
                process.stdin.close()
        for process in self._processes:
            await process.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


if __name__ == "__main__":
    serve()
