"""A local Graph API serving one Facebook Page's feed, in Graph's wire format.

- ``POST /v21.0/{page_id}/feed`` (form: ``message``, ``link``, ``access_token``) answers
  ``{"id": "{page_id}_{post_id}"}``; the same message twice is refused with code 506
  (``Duplicate status message``); no message and no link is code 100.
- ``GET /v21.0/{page_id}/feed?fields=...`` (token as ``Authorization: Bearer`` or the
  ``access_token`` parameter) lists posts newest first with the requested fields.
- Errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``.
  A wrong or revoked page token (`revoke`) is code 190.
- Faults: `rate_limit_next` (code 4/17/32/613/80001 with ``X-Business-Use-Case-Usage``,
  ``X-App-Usage`` or ``X-Page-Usage`` headers), `block_next` (368), `fail_next` (a 5xx,
  as Graph's JSON code 1/2 or an edge's HTML page), `stall_next`, `reset_next`.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes._server import FakeServer, Reply, Request

VERSION = "v21.0"
PAGE_ID = "104958162837"
PAGE_TOKEN = "EAAGm0PX4ZCpsBAFakePageToken1234567890abcdefZDZD"
BUSINESS_ID = "104958162837"
FEED = f"/{VERSION}/{PAGE_ID}/feed"

RATE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try "
    "again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
}


def graph_error(
    code: int,
    message: str,
    *,
    status: int = 400,
    subcode: int | None = None,
    kind: str = "OAuthException",
    transient: bool = False,
) -> Reply:
    """An error answer exactly as Graph shapes it."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = transient
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return Reply(status, {"error": error}, headers={"WWW-Authenticate": f'OAuth "{kind}"'})


@dataclass
class PagePost:
    """A post on the Page."""

    id: str
    message: str
    link: str | None
    created_time: str

    def view(self, fields: list[str]) -> dict[str, Any]:
        """The post with the requested fields (Graph omits empty ones)."""
        page, post = self.id.split("_")
        everything: dict[str, Any] = {
            "id": self.id,
            "message": self.message,
            "link": self.link,
            "created_time": self.created_time,
            "permalink_url": f"https://www.facebook.com/{page}/posts/{post}",
        }
        return {f: everything[f] for f in fields if everything.get(f) is not None}


class FakeFacebook(FakeServer):
    """The Graph API fake; point the channel's ``api_url`` at `url`."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[PagePost] = []
        self.valid_token = PAGE_TOKEN
        self._ids = itertools.count(122100000000000001)

    @property
    def url(self) -> str:
        """The Graph base including the version, as ``SHORTSCI_FACEBOOK_API_URL`` wants it."""
        return f"{self.origin}/{VERSION}"

    def revoke(self) -> None:
        """Invalidate the page token (the user changed their password)."""
        self.valid_token = "revoked"

    def rate_limit_next(
        self,
        code: int = 80001,
        *,
        regain_minutes: int = 0,
        header: str = "business",
        count: int = 1,
    ) -> None:
        """Refuse the next posts with a rate-limit error and Graph's usage headers."""
        usage: dict[str, Any] = {"call_count": 100, "total_cputime": 30, "total_time": 41}
        if header == "business":
            name = "X-Business-Use-Case-Usage"
            entry = {"type": "pages", **usage, "estimated_time_to_regain_access": regain_minutes}
            value: Any = {BUSINESS_ID: [entry]}
        elif header == "page":
            name = "X-Page-Usage"
            value = {**usage, "estimated_time_to_regain_access": regain_minutes}
        else:
            name = "X-App-Usage"
            value = usage
        reply = graph_error(code, RATE_MESSAGES[code], status=400 if code != 4 else 403)
        reply.headers = {**reply.headers, name: json.dumps(value)}
        self.reply_next(f"POST {FEED}", reply, count)

    def block_next(self, count: int = 1) -> None:
        """Refuse the next posts with 368, the temporary block for going too fast."""
        message = (
            "It looks like you were misusing this feature by going too fast. You’ve been "
            "temporarily blocked from using it."
        )
        self.reply_next(f"POST {FEED}", graph_error(368, message, subcode=1390008), count)

    def fail_next(self, status: int = 500, count: int = 1, *, html: bool = False) -> None:
        """Answer the next posts with a server error (Graph JSON, or an edge's HTML page)."""
        if html:
            page = f"<html><body><h1>{status} Error</h1></body></html>"
            reply = Reply(status, page, content_type="text/html")
        else:
            message = "An unexpected error has occurred. Please retry your request later."
            reply = graph_error(2, message, status=status, transient=True)
        self.reply_next(f"POST {FEED}", reply, count)

    def handle(self, request: Request) -> Reply:
        form = request.form()
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        token = form.get("access_token") or request.arg("access_token") or bearer
        if token != self.valid_token:
            return graph_error(
                190,
                "Error validating access token: The session has been invalidated because the "
                "user changed their password or Facebook has changed the session for security "
                "reasons.",
                subcode=460,
            )
        if not re.fullmatch(rf"/{VERSION}/{PAGE_ID}/feed", request.path):
            return graph_error(
                100,
                f"Unsupported {request.method.lower()} request. Object with ID "
                f"'{request.path.strip('/')}' does not exist, cannot be loaded due to missing "
                "permissions, or does not support this operation.",
                kind="GraphMethodException",
                subcode=33,
            )
        if request.method == "POST":
            return self._create(form)
        fields = [f for f in request.arg("fields", "id,message,created_time").split(",") if f]
        limit = int(request.arg("limit", "25"))
        data = [p.view(fields) for p in reversed(self.posts)][:limit]
        return Reply(
            200, {"data": data, "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}}
        )

    def _create(self, form: dict[str, str]) -> Reply:
        message, link = form.get("message", ""), form.get("link") or None
        if not message and not link:
            return graph_error(100, "(#100) Missing message or attachment")
        if message and any(p.message == message for p in self.posts):
            return graph_error(506, "(#506) Duplicate status message", subcode=1455006)
        post = PagePost(
            id=f"{PAGE_ID}_{next(self._ids)}",
            message=message,
            link=link,
            created_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        )
        self.posts.append(post)
        return Reply(200, {"id": post.id})
