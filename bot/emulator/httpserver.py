"""A small HTTP/1.1 server on ``asyncio.start_server``: keep-alive, chunked bodies, forms.

It is just enough for httpx (what python-telegram-bot uses): persistent connections, many
connections at once (a long poll holds one while other calls use others), form-encoded and
multipart bodies. It runs in the caller's event loop, so tests and the console chat can share a
loop with the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

_LOGGER = logging.getLogger(__name__)


@dataclass
class Upload:
    """A file part of a multipart body."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class HttpRequest:
    """One parsed request."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    reader: asyncio.StreamReader | None = None

    def client_gone(self) -> bool:
        """Whether the client closed its side (an abandoned long poll)."""
        return self.reader is not None and self.reader.at_eof()

    def form(self) -> tuple[dict[str, str], dict[str, Upload]]:
        """Parameters from the query string and the body, plus uploaded files by field name."""
        params = dict(parse_qsl(self.query, keep_blank_values=True))
        files: dict[str, Upload] = {}
        content_type = self.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            match = re.search(r'boundary="?([^";]+)"?', content_type)
            if match:
                for upload in parse_multipart(self.body, match.group(1).encode("latin-1")):
                    if upload.filename is None:
                        params[upload.field] = upload.content.decode("utf-8", "replace")
                    else:
                        files[upload.field] = upload
        elif content_type.startswith("application/json") and self.body:
            decoded = json.loads(self.body)
            if isinstance(decoded, dict):
                params.update(
                    {k: v if isinstance(v, str) else json.dumps(v) for k, v in decoded.items()}
                )
        elif self.body:
            params.update(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        return params, files


@dataclass
class HttpResponse:
    """A response to write back."""

    status: int
    body: bytes
    content_type: str = "application/json"
    close: bool = False


def parse_multipart(body: bytes, boundary: bytes) -> list[Upload]:
    """Split a ``multipart/form-data`` body into its parts."""
    parts: list[Upload] = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, _, content = chunk.partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = _parse_headers(head.decode("utf-8", "replace").split("\r\n"))
        disposition = headers.get("content-disposition", "")
        name = re.search(r'(?:^|;)\s*name="((?:[^"\\]|\\.)*)"', disposition)
        filename = re.search(r'filename="((?:[^"\\]|\\.)*)"', disposition)
        parts.append(
            Upload(
                field=_unquote_param(name.group(1)) if name else "",
                filename=_unquote_param(filename.group(1)) if filename else None,
                content_type=headers.get("content-type"),
                content=content,
            )
        )
    return parts


def _unquote_param(value: str) -> str:
    return unquote(value.replace('\\"', '"').replace("\\\\", "\\"))


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@dataclass
class _Connection:
    task: asyncio.Task[None]
    busy: bool = False
    writer: asyncio.StreamWriter | None = field(default=None, repr=False)


class HttpServer:
    """Serve ``handler`` on ``host``, on an ephemeral port unless ``port`` is given."""

    def __init__(
        self, handler: Handler, host: str = "127.0.0.1", port: int = 0, max_body: int = 64 << 20
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._max_body = max_body
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._closing = False

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind and listen."""
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def stop(self, grace: float = 1.0) -> None:
        """Stop listening, let in-flight requests finish (up to ``grace`` s), close the rest."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for connection in self._connections.values():
            if not connection.busy and connection.writer is not None:
                connection.writer.close()  # the idle reader sees EOF and the loop ends
        tasks = [c.task for c in self._connections.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connection = _Connection(task, writer=writer)
        self._connections[task] = connection
        try:
            while not self._closing:
                request = await self._read_request(reader)
                if request is None:
                    break
                connection.busy = True
                if isinstance(request, HttpResponse):
                    response = request
                else:
                    try:
                        response = await self._handler(request)
                    except Exception:
                        _LOGGER.exception("emulator handler failed for %s", request.path)
                        response = HttpResponse(
                            500,
                            b'{"ok":false,"error_code":500,"description":"Internal Server Error"}',
                        )
                keep = (
                    not response.close
                    and not self._closing
                    and (
                        request.headers.get("connection", "").lower() != "close"
                        if isinstance(request, HttpRequest)
                        else False
                    )
                )
                await self._write(writer, response, keep)
                connection.busy = False
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            if not self._closing:
                raise
            # Cancelled by stop(): end quietly, asyncio.streams logs cancelled handler tasks.
        finally:
            try:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            except asyncio.CancelledError:
                if not self._closing:
                    raise
            finally:
                # Deregister last, so that stop() waits for the socket to be closed.
                self._connections.pop(task, None)

    async def _read_request(
        self, reader: asyncio.StreamReader
    ) -> HttpRequest | HttpResponse | None:
        line = await reader.readline()
        if not line:
            return None
        try:
            method, target, _version = line.decode("latin-1").split()
        except ValueError:
            return HttpResponse(400, b"bad request line", "text/plain", close=True)
        lines = []
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            lines.append(header.decode("latin-1").rstrip("\r\n"))
        headers = _parse_headers(lines)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(reader)
            if body is None:
                return _too_large()
        else:
            length = int(headers.get("content-length", "0") or 0)
            if length > self._max_body:
                return _too_large()
            body = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        return HttpRequest(method.upper(), unquote(url.path), url.query, headers, body, reader)

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > self._max_body:
                return None
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, response: HttpResponse, keep: bool) -> None:
        phrase = HTTPStatus(response.status).phrase
        head = (
            f"HTTP/1.1 {response.status} {phrase}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + response.body)
        await writer.drain()


def _too_large() -> HttpResponse:
    return HttpResponse(
        413,
        b'{"ok":false,"error_code":413,"description":"Request Entity Too Large"}',
        close=True,
    )
