"""The threaded loopback HTTP server every platform fake builds on.

A fake subclasses `FakeServer` and implements `handle`, answering a parsed `Request` with a
`Reply` in its platform's wire format. This base reads and records every request and applies
the faults tests inject, which model what real platforms do to a client:

- ``reply``: answer with this instead; the request has no effect (429, 5xx, 401, ...);
- ``delay``: act on the request, then answer only after ``delay`` seconds, longer than the
  client's timeout, so the client gives up although the post exists;
- ``reset``: act on the request (unless ``process=False``), then drop the connection with
  an RST and no answer.

Faults apply to the next requests whose ``"METHOD /path"`` starts with the fault's ``route``,
after letting ``skip`` of them through (to break the second post of a thread, say).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    """One request as the fake received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def line(self) -> str:
        """``"METHOD /path"``, what fault routes match against."""
        return f"{self.method} {self.path}"

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """The body (or, for GET, the query) as a form, one value per field."""
        source = self.body.decode("utf-8") if self.method != "GET" else ""
        pairs = parse_qs(source, keep_blank_values=True) if source else self.query
        return {key: values[-1] for key, values in pairs.items()}

    def arg(self, name: str, default: str = "") -> str:
        """A query parameter's last value."""
        return self.query.get(name, [default])[-1]


@dataclass
class Reply:
    """An answer: status, body (dicts and lists are sent as JSON) and extra headers."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        """The body as bytes."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Fault:
    """What to do to the next request on `route` instead of answering normally."""

    route: str = ""
    reply: Reply | None = None
    delay: float = 0.0
    reset: bool = False
    process: bool = True
    skip: int = 0


class FakeServer:
    """A platform fake on 127.0.0.1 (ephemeral port); use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out without a 40 ms stall

            def do_GET(self) -> None:
                fake._serve(self)

            def do_POST(self) -> None:
                fake._serve(self)

            def do_HEAD(self) -> None:
                fake._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, request: Request) -> Reply:
        """Answer one request in the platform's format (subclasses implement this)."""
        raise NotImplementedError

    def inject(self, fault: Fault, count: int = 1) -> None:
        """Apply `fault` to the next `count` requests on its route."""
        with self._lock:
            self.faults.extend(replace(fault) for _ in range(count))

    def reply_next(self, route: str, reply: Reply, count: int = 1) -> None:
        """Answer the next `count` requests on `route` with `reply`, without acting on them."""
        self.inject(Fault(route, reply=reply), count)

    def stall_next(self, route: str, seconds: float, count: int = 1) -> None:
        """Act on the next requests on `route`, but answer only after `seconds`."""
        self.inject(Fault(route, delay=seconds), count)

    def reset_next(self, route: str, count: int = 1, *, processed: bool = True) -> None:
        """Drop the connection of the next requests on `route` without an answer."""
        self.inject(Fault(route, reset=True, process=processed), count)

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self.faults):
                if request.line.startswith(fault.route):
                    if fault.skip:
                        fault.skip -= 1
                        return None
                    return self.faults.pop(index)
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(
            method=handler.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.requests.append(request)
        fault = self._take_fault(request) or Fault()
        if fault.reply is not None:
            reply = fault.reply
        elif fault.reset and not fault.process:
            reply = Reply(500)
        else:
            with self._lock:
                reply = self.handle(request)
        if fault.reset:
            self._drop(handler)
            return
        if fault.delay and self._stopping.wait(fault.delay):
            return
        self._send(handler, reply)

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        """Close the socket with an RST, answering nothing."""
        connection: socket.socket = handler.connection
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
        connection.close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        data = reply.encoded()
        try:
            handler.send_response(reply.status)
            if data:
                handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client gave up (a timeout test)
