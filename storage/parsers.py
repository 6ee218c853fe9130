"""Parser processes for the snapshot import: chunks go in by pipe, `Parsed` chunks come back.

Each worker is ``python -m storage.parsers``, which imports only the parsing code
(`storage.snapshot`), not the program that started it (as `multiprocessing`'s spawn would: for
``shortsci`` that is the whole bot, about a second of CPU and 100 MiB per worker). A task is
a pickled ``(chunk, sqlite)`` on the worker's stdin, its answer a pickled `Parsed` on its
stdout, each framed by an 8-byte length; a worker answers its tasks in order, so a reader per
worker resolves the futures `ParserProcesses.submit` returned in that order. A worker ignores
SIGINT (the importing process decides) and ends at the end of its stdin.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sys
from collections import deque

from storage.snapshot import Chunk, Parsed, parse_chunk

_HEADER = 8


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(_HEADER, "little") + payload


def serve() -> None:
    """The worker's loop: parse each task from stdin, answer on stdout, until stdin ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tasks, answers = sys.stdin.buffer, sys.stdout.buffer
    while header := tasks.read(_HEADER):
        chunk, sqlite = pickle.loads(tasks.read(int.from_bytes(header, "little")))  # noqa: S301
        answer = pickle.dumps(parse_chunk(chunk, sqlite), protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(len(answer).to_bytes(_HEADER, "little"))
        answers.write(answer)
        answers.flush()


class ParserProcesses:
    """Worker processes running `serve`; tasks go to them in turn."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self._processes = processes
        self._pending: list[deque[asyncio.Future[Parsed]]] = [deque() for _ in processes]
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

    def submit(self, chunk: Chunk, sqlite: bool) -> asyncio.Future[Parsed]:
        """Send `chunk` to the next worker; the future holds its `Parsed` chunk."""
        index = self._turn % len(self._processes)
        self._turn += 1
        stdin = self._processes[index].stdin
        assert stdin is not None
        # Written without waiting: the transport buffers what the pipe cannot take yet.
        stdin.write(_frame(pickle.dumps((chunk, sqlite), protocol=pickle.HIGHEST_PROTOCOL)))
        future: asyncio.Future[Parsed] = asyncio.get_running_loop().create_future()
        self._pending[index].append(future)
        return future

    @staticmethod
    async def _read(
        process: asyncio.subprocess.Process, pending: deque[asyncio.Future[Parsed]]
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
