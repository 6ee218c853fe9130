"""A local Mastodon server: the REST endpoints ShortSci uses, in Mastodon's wire format.

- ``GET /api/v1/instance`` and ``/api/v2/instance`` (no auth; v2 can be switched off, as
  on servers before 4.0) with the configurable ``configuration.statuses.max_characters``.
- ``GET /api/v1/accounts/verify_credentials``; ``GET /api/v1/accounts/:id/statuses``
  (newest first, ``limit``).
- ``POST /api/v1/statuses`` (form or JSON). The text is counted as Mastodon does (graphemes,
  every URL as 23) and refused with 422 over the limit. ``Idempotency-Key`` is honoured:
  the same key answers the same status again and posts nothing new.
- Bearer token required (401 ``The access token is invalid`` otherwise; see `revoke`).
- Faults: `rate_limit_next` (429 with ``X-RateLimit-Reset`` in ISO 8601), `fail_next`
  (a 5xx HTML page), `stall_next`, `reset_next`.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grapheme

from tests.fakes._server import FakeServer, Reply, Request

TOKEN = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0"
ACCOUNT_ID = "109876543210987654"
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]}'…]")


def mastodon_count(text: str) -> int:
    """Count as Mastodon's StatusLengthValidator: graphemes, each URL as 23."""
    return int(grapheme.length(_URL.sub("x" * 23, text)))


def render(text: str) -> str:
    """Mastodon's HTML for a plain-text status: paragraphs, line breaks, linked URLs."""
    paragraphs = []
    for block in re.split(r"\n{2,}", text.strip()):
        out, last = "", 0
        for match in _URL.finditer(block):
            url = match.group(0)
            scheme, _, rest = url.partition("://")
            out += html.escape(block[last : match.start()])
            out += (
                f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" '
                f'translate="no"><span class="invisible">{scheme}://</span>'
                f'<span class="ellipsis">{html.escape(rest[:30])}</span>'
                f'<span class="invisible">{html.escape(rest[30:])}</span></a>'
            )
            last = match.end()
        out += html.escape(block[last:])
        paragraphs.append("<p>" + out.replace("\n", "<br />") + "</p>")
    return "".join(paragraphs)


@dataclass
class Status:
    """A stored status."""

    id: str
    text: str
    visibility: str
    created_at: str
    idempotency_key: str | None


class FakeMastodon(FakeServer):
    """The Mastodon fake; point the channel's ``api_base_url`` at `url`."""

    def __init__(self, max_characters: int = 500, *, v2: bool = True) -> None:
        super().__init__()
        self.max_characters = max_characters
        self.v2 = v2
        self.statuses: list[Status] = []
        self.valid_token = TOKEN
        self._ids = itertools.count(113300000000000001)

    @property
    def url(self) -> str:
        """The instance's base URL, as ``SHORTSCI_MASTODON_URL`` wants it."""
        return self.origin

    def revoke(self) -> None:
        """Revoke the access token."""
        self.valid_token = "revoked"

    def rate_limit_next(self, reset: datetime, count: int = 1) -> None:
        """Answer the next posts with 429 and Mastodon's rate-limit headers."""
        headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        reply = Reply(429, {"error": "Too many requests"}, headers=headers)
        self.reply_next("POST /api/v1/statuses", reply, count)

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        """Answer the next posts with a server error page."""
        page = "<html><body><h1>We're sorry, but something went wrong on our end.</h1></body>"
        self.reply_next(
            "POST /api/v1/statuses", Reply(status, page, content_type="text/html"), count
        )

    def handle(self, request: Request) -> Reply:
        path = request.path.rstrip("/")
        if request.method == "GET" and path == "/api/v1/instance":
            return Reply(200, self._instance_v1())
        if request.method == "GET" and path == "/api/v2/instance" and self.v2:
            return Reply(200, self._instance_v2())
        if request.headers.get("authorization") != f"Bearer {self.valid_token}":
            return Reply(401, {"error": "The access token is invalid"})
        if request.method == "POST" and path == "/api/v1/statuses":
            return self._post(request)
        if path == "/api/v1/accounts/verify_credentials":
            return Reply(200, {**self._account(), "source": {"privacy": "public", "note": ""}})
        if match := re.fullmatch(r"/api/v1/accounts/(\d+)/statuses", path):
            if match.group(1) != ACCOUNT_ID:
                return Reply(404, {"error": "Record not found"})
            limit = min(int(request.arg("limit", "20")), 40)
            return Reply(200, [self._view(s) for s in reversed(self.statuses)][:limit])
        return Reply(404, {"error": "Record not found"})

    def _post(self, request: Request) -> Reply:
        is_json = "json" in request.headers.get("content-type", "")
        params: dict[str, Any] = request.json() if is_json else request.form()
        key = request.headers.get("idempotency-key")
        if key is not None:
            for status in self.statuses:
                if status.idempotency_key == key:
                    return Reply(200, self._view(status))
        text = str(params.get("status", ""))
        if not text.strip():
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        if mastodon_count(text) > self.max_characters:
            message = f"Validation failed: Text character limit of {self.max_characters} exceeded"
            return Reply(422, {"error": message})
        status = Status(
            id=str(next(self._ids)),
            text=text,
            visibility=str(params.get("visibility") or "public"),
            created_at=_now(),
            idempotency_key=key,
        )
        self.statuses.append(status)
        return Reply(200, self._view(status))

    def _account(self) -> dict[str, Any]:
        return {
            "id": ACCOUNT_ID,
            "username": "shortsci",
            "acct": "shortsci",
            "display_name": "ShortSci",
            "locked": False,
            "bot": True,
            "discoverable": True,
            "group": False,
            "created_at": "2026-01-05T00:00:00.000Z",
            "note": "<p>Short summaries of research papers.</p>",
            "url": f"{self.origin}/@shortsci",
            "uri": f"{self.origin}/users/shortsci",
            "avatar": f"{self.origin}/avatars/original/missing.png",
            "avatar_static": f"{self.origin}/avatars/original/missing.png",
            "header": f"{self.origin}/headers/original/missing.png",
            "header_static": f"{self.origin}/headers/original/missing.png",
            "followers_count": 12,
            "following_count": 0,
            "statuses_count": len(self.statuses),
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }

    def _view(self, status: Status) -> dict[str, Any]:
        return {
            "id": status.id,
            "created_at": status.created_at,
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": status.visibility,
            "language": "en",
            "uri": f"{self.origin}/users/shortsci/statuses/{status.id}",
            "url": f"{self.origin}/@shortsci/{status.id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "content": render(status.text),
            "filtered": [],
            "reblog": None,
            "application": {"name": "ShortSci", "website": None},
            "account": self._account(),
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def _statuses_config(self) -> dict[str, Any]:
        return {
            "max_characters": self.max_characters,
            "max_media_attachments": 4,
            "characters_reserved_per_url": 23,
        }

    def _instance_v1(self) -> dict[str, Any]:
        return {
            "uri": self.origin.removeprefix("http://"),
            "title": "Fake Mastodon",
            "short_description": "A loopback Mastodon for tests.",
            "description": "",
            "email": "admin@example.org",
            "version": "4.3.2",
            "urls": {"streaming_api": self.origin.replace("http", "ws")},
            "stats": {"user_count": 1, "status_count": len(self.statuses), "domain_count": 1},
            "thumbnail": None,
            "languages": ["en"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": {"statuses": self._statuses_config()},
            "contact_account": None,
            "rules": [],
        }

    def _instance_v2(self) -> dict[str, Any]:
        return {
            "domain": self.origin.removeprefix("http://"),
            "title": "Fake Mastodon",
            "version": "4.3.2",
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A loopback Mastodon for tests.",
            "usage": {"users": {"active_month": 1}},
            "thumbnail": {"url": f"{self.origin}/packs/media/images/preview.png"},
            "languages": ["en"],
            "configuration": {
                "urls": {"streaming": self.origin.replace("http", "ws")},
                "statuses": self._statuses_config(),
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "contact": {"email": "admin@example.org", "account": None},
            "rules": [],
            "api_versions": {"mastodon": 2},
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
