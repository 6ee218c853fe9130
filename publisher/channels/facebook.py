"""A Facebook Page's feed through the Graph API, with httpx.

The page token never goes into a URL: posts carry it in the form body, reads in an
``Authorization: Bearer`` header, so neither httpx's request logs nor its exceptions (which
quote URLs) can show it; every message we build is redacted as well.

Graph reports errors as JSON ``error.code``, whatever the HTTP status:

| code | meaning | we raise |
|---|---|---|
| 4, 17, 32, 613, 80000-80014 | rate limits | `RetryLater`, when the usage headers say |
| 368 | temporarily blocked for going too fast | `RetryLater`, `blocked_backoff` later |
| 1, 2, or ``is_transient`` | Graph had a problem | `RetryLater` |
| 190, 102, 10, 200-299 | token expired/revoked, permission missing | `Reauthenticate` |
| 506 | duplicate status message | `DuplicateContent` |
| 100 and the rest | invalid parameter, refused | `BadContent` |

Without a Graph error: 500/502/503 and connection failures before sending are `RetryLater`;
504 and timeouts or resets after sending are `UnknownOutcome` (Graph has no idempotency key,
so the dispatcher reconciles with `find_existing`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from publisher.channels._common import (
    GATEWAY_TIMEOUT,
    RETRYABLE_STATUSES,
    Clock,
    describe,
    httpx_was_sent,
    mentions,
    redact,
    utc_now,
)
from publisher.channels.base import (
    BadContent,
    ChannelError,
    DuplicateContent,
    Limits,
    Post,
    Published,
    Reauthenticate,
    RetryLater,
    UnknownOutcome,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
MAX_LENGTH = 63206
POST_URL = "https://www.facebook.com/{id}"
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
AUTH_CODES = frozenset({190, 102, 10, *range(200, 300)})
BLOCKED = 368
DUPLICATE = 506
_USAGE_HEADERS = ("x-business-use-case-usage", "x-page-usage", "x-app-usage")


class FacebookChannel:
    """Posts to one Facebook Page with a page access token."""

    name: ClassVar[str] = "facebook"

    def __init__(
        self,
        *,
        page_id: str,
        page_token: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        clock: Clock = utc_now,
        blocked_backoff: timedelta = timedelta(hours=6),
        usage_backoff: timedelta = timedelta(hours=1),
        search_depth: int = 25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Build the channel; nothing is sent until the first call.

        Args:
            page_id: the Page's numeric id.
            page_token: a page access token with ``pages_manage_posts``.
            api_url: the Graph base including the version (``SHORTSCI_FACEBOOK_API_URL``).
            timeout: seconds to wait for Graph on each request.
            clock: the current time (for tests).
            blocked_backoff: how long to stay away after a 368 temporary block.
            usage_backoff: how long to wait when usage is at 100% and Graph gives no estimate.
            search_depth: how many recent posts `find_existing` looks through.
            transport: an httpx transport (for tests).
        """
        self.limits = Limits(MAX_LENGTH)
        self._feed = f"{api_url.rstrip('/')}/{page_id}/feed"
        self._token = page_token
        self._clock = clock
        self._blocked_backoff = blocked_backoff
        self._usage_backoff = usage_backoff
        self._search_depth = search_depth
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def publish(self, post: Post) -> Published:
        """Post `post.text` with `post.link` attached to the Page's feed."""
        form = {"message": post.text, "link": post.link, "access_token": self._token}
        try:
            response = await self._http.post(self._feed, data=form)
        except httpx.HTTPError as exc:
            sent = httpx_was_sent(exc)
            log.warning(
                "facebook: publication %s: %s %s sending",
                post.publication_id,
                describe(exc),
                "after" if sent else "before",
            )
            if sent:
                raise UnknownOutcome(
                    f"facebook: no answer after sending ({describe(exc)})"
                ) from exc
            raise RetryLater(f"facebook: could not connect ({describe(exc)})") from exc
        if response.status_code != 200:
            raise self._error(post, response)
        try:
            post_id = str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UnknownOutcome("facebook answered 200 without a post id") from exc
        log.info("facebook: publication %s published as %s", post.publication_id, post_id)
        return Published(post_id, POST_URL.format(id=post_id))

    async def find_existing(self, post: Post) -> Published | None:
        """Find the Page post carrying `post.link` among the most recent ones."""
        params = {"fields": "id,message,link,permalink_url", "limit": str(self._search_depth)}
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            response = await self._http.get(self._feed, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise UnknownOutcome(f"facebook: cannot list the feed ({describe(exc)})") from exc
        if response.status_code != 200:
            error = self._error(post, response)
            if isinstance(error, Reauthenticate | RetryLater):
                raise error
            raise UnknownOutcome(f"facebook: cannot list the feed: {error}")
        wanted = post.link.rstrip("/")
        for item in response.json().get("data", []):
            link = str(item.get("link") or "").rstrip("/")
            if link == wanted or mentions(str(item.get("message", "")), post.link):
                post_id = str(item["id"])
                url = item.get("permalink_url") or POST_URL.format(id=post_id)
                log.info("facebook: publication %s found as %s", post.publication_id, post_id)
                return Published(post_id, str(url))
        log.info("facebook: publication %s not found in the feed", post.publication_id)
        return None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    def _error(self, post: Post, response: httpx.Response) -> ChannelError:
        """Map a Graph error answer to a `ChannelError`."""
        error = _graph_error(response)
        code = error.get("code")
        message = redact(
            f"facebook answered {response.status_code}"
            + (f" (code {code}): {error.get('message', '')}" if code is not None else ""),
            [self._token],
        )
        log.warning("facebook: publication %s: %s", post.publication_id, message)
        if code in RATE_LIMIT_CODES:
            return RetryLater(message, self._usage_retry_at(response.headers))
        if code == BLOCKED:
            return RetryLater(message, self._clock() + self._blocked_backoff)
        if code in AUTH_CODES:
            return Reauthenticate(message)
        if code == DUPLICATE:
            return DuplicateContent(message)
        if code in TRANSIENT_CODES or error.get("is_transient") is True:
            return RetryLater(message)
        if code is None and response.status_code in RETRYABLE_STATUSES:
            return RetryLater(message)
        if code is None and response.status_code == GATEWAY_TIMEOUT:
            return UnknownOutcome(message)
        if code is None and response.status_code >= 500:
            return RetryLater(message)
        return BadContent(message)

    def _usage_retry_at(self, headers: Mapping[str, str]) -> datetime | None:
        """When Graph's usage headers say we regain access (None if they do not say)."""
        minutes = 0.0
        exhausted = False
        for name in _USAGE_HEADERS:
            for usage in _usage_entries(headers.get(name)):
                regain = usage.get("estimated_time_to_regain_access")
                if isinstance(regain, int | float):
                    minutes = max(minutes, float(regain))
                counts = (usage.get(k) for k in ("call_count", "total_time", "total_cputime"))
                exhausted |= any(isinstance(c, int | float) and c >= 100 for c in counts)
        if minutes > 0:
            return self._clock() + timedelta(minutes=minutes)
        if exhausted:
            return self._clock() + self._usage_backoff
        return None


def _graph_error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _usage_entries(value: str | None) -> list[dict[str, Any]]:
    """The usage objects in one header: ``X-Business-Use-Case-Usage`` maps ids to lists."""
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    if all(isinstance(v, list) for v in parsed.values()) and parsed:
        return [e for entries in parsed.values() for e in entries if isinstance(e, dict)]
    return [parsed]
