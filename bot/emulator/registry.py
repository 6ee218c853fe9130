"""How Bot API methods are declared: a registry of async handlers over a shared core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.emulator.httpserver import Upload
from bot.emulator.state import World


@dataclass
class Call:
    """One Bot API call's inputs, as the HTTP layer decoded them."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)
    client_gone: Callable[[], bool] = lambda: False


@dataclass(frozen=True)
class Event:
    """Something the bot did that a user would notice (for console listeners).

    ``kind`` is one of "sent", "edited", "deleted", "callback_answer", "inline_answer",
    "chat_action"; ``subject`` is the :class:`~bot.emulator.state.Message`, answer or
    ``(chat_id, action)`` pair.
    """

    kind: str
    subject: Any


class Core(Protocol):
    """What method implementations may use of the emulator."""

    world: World
    strict_html: bool
    max_upload: int
    closing: bool

    def changed(self) -> None:
        """Wake everyone waiting for a change (long polls, test waits)."""

    def emit(self, kind: str, subject: Any) -> None:
        """Tell listeners about something the bot did, and wake waiters."""

    async def wait_changed(self, timeout: float) -> None:  # noqa: ASYNC109 - a deadline is the point of the API
        """Return after the next change or after ``timeout`` seconds."""

    def begin_poll(self) -> int:
        """Start a getUpdates; returns its generation (a later one supersedes it)."""

    def poll_superseded(self, generation: int) -> bool:
        """Whether another getUpdates started after ``generation``."""


Handler = Callable[[Core, Call], Awaitable[Any]]
METHODS: dict[str, Handler] = {}


def api_method(name: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the implementation of Bot API method ``name``."""

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = handler
        return handler

    return register
