"""The Bot API server side: routing, tokens, flood simulation, the call log, waiting.

:class:`BotApiServer` answers ``/bot<token>/<method>`` like api.telegram.org and
``/file/bot<token>/<path>`` like its file host. The user side lives in
:class:`bot.emulator.emulator.BotApiEmulator`, which extends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import bot.emulator.messaging
import bot.emulator.methods  # noqa: F401 - importing both registers the Bot API methods
from bot.emulator.errors import ApiError
from bot.emulator.httpserver import HttpRequest, HttpResponse, HttpServer, Upload
from bot.emulator.registry import METHODS, Call, Event
from bot.emulator.state import User, World
from bot.emulator.validate import MAX_UPLOAD

_LOGGER = logging.getLogger(__name__)
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "results",
        "commands",
        "reply_parameters",
        "entities",
        "caption_entities",
        "link_preview_options",
        "scope",
        "allowed_updates",
        "button",
        "media",
    }
)
_RECHECK = 0.02
_API_PATH = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[^/]*)$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]*)/(?P<path>.+)$")


@dataclass
class ApiCall:
    """One recorded Bot API call and Telegram's answer to it."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)
    status: int = 200
    result: Any = None
    description: str | None = None
    simulated: bool = False  # a 429 from simulate_flood, not the bot's fault
    abandoned: bool = False  # the client had gone before the answer (a cancelled long poll)

    @property
    def ok(self) -> bool:
        """Whether Telegram accepted the call."""
        return self.status == 200


@dataclass
class _Flood:
    retry_after: int
    count: int
    methods: frozenset[str] | None


class BotApiServer:
    """An in-process Telegram Bot API on 127.0.0.1.

    Args:
        token: the bot token the server accepts (others get 401); generated when omitted.
        bot_username: the bot's @username (without "@").
        bot_name: the bot's first name.
        host: address to bind; port 0 picks a free port.
        strict_html: refuse unescaped ``&`` and ``>`` in HTML (see :mod:`bot.emulator.entities`).
        max_upload: the sendDocument size limit (50 MB, like Telegram).
        query_ttl: seconds after which a callback/inline query can no longer be answered.
    """

    def __init__(
        self,
        token: str | None = None,
        bot_username: str = "shortsci_test_bot",
        *,
        bot_name: str = "ShortSci",
        host: str = "127.0.0.1",
        port: int = 0,
        strict_html: bool = True,
        max_upload: int = MAX_UPLOAD,
        query_ttl: float = 15.0,
    ) -> None:
        self.token = token or f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(26)}"
        bot_id = int(self.token.split(":", 1)[0]) if self.token.split(":")[0].isdigit() else 1
        self.bot = User(bot_id, bot_name, bot_username, is_bot=True, language_code=None)
        self.world = World(self.bot, query_ttl=query_ttl)
        self.strict_html = strict_html
        self.max_upload = max_upload
        self.closing = False
        self.calls: list[ApiCall] = []
        self._http = HttpServer(self._handle, host, port)
        self._host = host
        self._changed = asyncio.Event()
        self._poll_generation = 0
        self._flood: _Flood | None = None
        self._listeners: list[Callable[[Event], None]] = []
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the port and start answering."""
        self.closing = False
        await self._http.start()
        self._started = True
        _LOGGER.info("Bot API emulator listening on %s", self.base_url.replace(self.token, "***"))

    async def stop(self) -> None:
        """Release pending long polls, finish in-flight calls, close every connection."""
        if not self._started:
            return
        self.closing = True
        self.changed()
        await self._http.stop()
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def api_root(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self._http.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"{self.api_root}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``: PTB appends the token."""
        return f"{self.api_root}/file/bot"

    # -- Core protocol (used by the method implementations) -----------------------------------

    def changed(self) -> None:
        """Wake every waiter (long polls and ``wait_until``)."""
        self._changed.set()
        self._changed = asyncio.Event()

    def emit(self, kind: str, subject: Any) -> None:
        """Tell listeners what the bot did; wake waiters."""
        event = Event(kind, subject)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("emulator listener failed on %s", kind)
        self.changed()

    async def wait_changed(self, timeout: float) -> None:  # noqa: ASYNC109 - a deadline is the point of the API
        """Return after the next change, or after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def begin_poll(self) -> int:
        """Start a getUpdates; an earlier pending one will answer 409 Conflict."""
        self._poll_generation += 1
        self.changed()
        return self._poll_generation

    def poll_superseded(self, generation: int) -> bool:
        """Whether a newer getUpdates started."""
        return generation != self._poll_generation

    # -- test controls ------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` on every message sent/edited/deleted and every answer."""
        self._listeners.append(listener)

    def simulate_flood(
        self, retry_after: int = 1, count: int = 1, methods: list[str] | None = None
    ) -> None:
        """Answer the next ``count`` calls with 429 "Too Many Requests: retry after N".

        Args:
            retry_after: the ``parameters.retry_after`` seconds (at least 1, as Telegram).
            count: how many calls to refuse.
            methods: only these methods (default: every method except getUpdates).
        """
        chosen = frozenset(m.lower() for m in methods) if methods else None
        self._flood = _Flood(max(int(retry_after), 1), count, chosen)

    @property
    def errors(self) -> list[ApiCall]:
        """Calls Telegram would have refused (simulated floods and abandoned polls excluded)."""
        return [c for c in self.calls if not c.ok and not c.simulated and not c.abandoned]

    def calls_to(self, method: str) -> list[ApiCall]:
        """Recorded calls of one method (case-insensitive)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is the point of the API
        what: str = "condition",
    ) -> None:
        """Wait until ``predicate()`` holds; raise TimeoutError naming ``what`` otherwise.

        The predicate is re-checked after every emulator change and every 20 ms, so it may also
        look at state outside the emulator.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                errors = [(c.method, c.description) for c in self.errors]
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}; errors={errors}"
                )
            # Wake on every emulator change, and re-check often for predicates on outside state
            # (an Application's error handler, a database row).
            await self.wait_changed(min(remaining, _RECHECK))

    # -- HTTP ---------------------------------------------------------------------------------

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        file_match = _FILE_PATH.match(request.path)
        if file_match and request.method in ("GET", "HEAD"):
            return self._download(file_match.group("token"), file_match.group("path"))
        match = _API_PATH.match(request.path)
        if match is None:
            return _json(ApiError(404, "Not Found").envelope(), 404)
        name = match.group("method")
        params, files = request.form()
        call = ApiCall(name, _decoded(params), files)
        self.calls.append(call)
        try:
            if match.group("token") != self.token:
                raise ApiError(401, "Unauthorized")
            result = await self._dispatch(name, Call(name, params, files, request.client_gone))
        except ApiError as error:
            call.status, call.description = error.status, error.description
            call.simulated = isinstance(error, _FloodError)
            call.abandoned = request.client_gone()
            if not call.simulated and not call.abandoned:
                _LOGGER.info("emulator refused %s: %s", name, error.description)
            self.changed()
            return _json(error.envelope(), error.status)
        call.result = result
        self.changed()
        return _json({"ok": True, "result": result}, 200)

    async def _dispatch(self, name: str, call: Call) -> Any:
        handler = METHODS.get(name.lower())
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        flood = self._flood
        if (
            flood is not None
            and flood.count > 0
            and (name.lower() in flood.methods if flood.methods else name.lower() != "getupdates")
        ):
            flood.count -= 1
            raise _FloodError(flood.retry_after)
        return await handler(self, call)

    def _download(self, token: str, path: str) -> HttpResponse:
        stored = self.world.files_by_path.get(path)
        if token != self.token:
            return _json(ApiError(401, "Unauthorized").envelope(), 401)
        if stored is None:
            return _json(ApiError(404, "Not Found").envelope(), 404)
        return HttpResponse(200, stored.content, stored.mime_type or "application/octet-stream")


class _FloodError(ApiError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )


def _json(body: dict[str, Any], status: int) -> HttpResponse:
    return HttpResponse(status, json.dumps(body, ensure_ascii=False).encode("utf-8"))


def _decoded(params: dict[str, str]) -> dict[str, Any]:
    """Parameters for the call log, with JSON-encoded fields decoded."""
    decoded: dict[str, Any] = {}
    for key, value in params.items():
        if key in _JSON_FIELDS:
            try:
                decoded[key] = json.loads(value)
                continue
            except ValueError:
                pass
        decoded[key] = value
    return decoded
