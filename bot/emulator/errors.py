"""The one error type the emulator's method implementations raise.

An :class:`ApiError` becomes Telegram's error envelope on the wire::

    {"ok": false, "error_code": 400, "description": "Bad Request: ...", "parameters": {...}}
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API request that Telegram would refuse.

    Args:
        status: HTTP status and ``error_code`` (400, 401, 403, 404, 409, 413, 429).
        description: Telegram's description string, e.g. ``"Bad Request: chat not found"``.
        parameters: optional ``ResponseParameters`` (``retry_after``, ``migrate_to_chat_id``).
    """

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def envelope(self) -> dict[str, Any]:
        """The JSON body Telegram answers with."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    """A 400 with Telegram's ``Bad Request: `` prefix."""
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    """A 403 with Telegram's ``Forbidden: `` prefix."""
    return ApiError(403, f"Forbidden: {detail}")
