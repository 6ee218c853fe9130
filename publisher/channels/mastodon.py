"""Mastodon through Mastodon.py (synchronous, so every call runs in a worker thread).

Every post carries ``Idempotency-Key: shortsci-pub-{publication_id}``. Mastodon remembers
a key for an hour and answers a repeated key with the status it already made, so:

- when a post's answer is lost (timeout or reset after sending, or a 504), the channel
  retries once at once with the same key: either Mastodon made the status and hands it
  back, or it did not and makes it now; never two. Only if that retry's answer is lost too
  does `publish` raise `UnknownOutcome`;
- after an `UnknownOutcome`, the dispatcher's reconciliation (`find_existing`) and any
  re-post reuse the same key, so a first attempt that lands late cannot be doubled.

Errors: 429 is `RetryLater` at ``X-RateLimit-Reset``; 500/502/503 and connection failures
before sending are `RetryLater`; 401 and 403 (revoked token, missing scope, disabled login)
are `Reauthenticate`; 422 and other 4xx are `BadContent`.

The instance's own length limit comes from the instance document (``configuration.
statuses.max_characters``, v2 or v1) the first time the channel is used, or by `refresh_limits`;
until then `limits` says 500, Mastodon's default. Mastodon counts every URL as 23.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, TypeVar

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonGatewayTimeoutError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonVersionError,
)

from markup import mastodon_length
from publisher.channels._common import describe, mentions, redact, requests_was_sent
from publisher.channels.base import (
    BadContent,
    ChannelError,
    Limits,
    Post,
    Published,
    Reauthenticate,
    RetryLater,
    UnknownOutcome,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_CHARACTERS = 500
T = TypeVar("T")


class _Ambiguous(Exception):
    """The request went out and no usable answer came back."""


class MastodonChannel:
    """Posts public statuses to one Mastodon account."""

    name: ClassVar[str] = "mastodon"

    def __init__(
        self,
        *,
        api_url: str,
        access_token: str,
        timeout: float = 30.0,
        default_max_characters: int = DEFAULT_MAX_CHARACTERS,
        search_depth: int = 40,
    ) -> None:
        """Build the channel; nothing is sent until the first call.

        Args:
            api_url: the instance's base URL (``SHORTSCI_MASTODON_URL``).
            access_token: an access token with the ``write:statuses`` and ``read`` scopes.
            timeout: seconds to wait for the instance on each request.
            default_max_characters: the limit assumed until the instance tells us its own.
            search_depth: how many recent statuses `find_existing` looks through (max 40).
        """
        self.limits = Limits(default_max_characters, mastodon_length)
        self._token = access_token
        self._limits_loaded = False
        self._search_depth = min(search_depth, 40)
        self._account_id: str | None = None
        self._api = Mastodon(
            access_token=access_token,
            api_base_url=api_url,
            ratelimit_method="throw",
            request_timeout=timeout,
            user_agent="ShortSci",
        )

    async def refresh_limits(self) -> Limits:
        """Read the instance's character limit; keep the current one if that fails."""
        try:
            instance = await asyncio.to_thread(self._read_instance)
        except MastodonError as exc:
            log.warning("mastodon: cannot read the instance's limits (%s)", describe(exc))
            return self.limits
        self._limits_loaded = True
        maximum = _max_characters(instance)
        if maximum and maximum != self.limits.max_length:
            log.info("mastodon: the instance allows %d characters", maximum)
            self.limits = Limits(maximum, mastodon_length)
        return self.limits

    def _read_instance(self) -> Any:
        """The v2 instance document, or v1 from servers older than 4.0.

        (Not ``Mastodon.instance()``: its version probe recurses forever when the server
        cannot be reached.)
        """
        try:
            return self._api.instance_v2()
        except MastodonNotFoundError:
            return self._api.instance_v1()

    async def publish(self, post: Post) -> Published:
        """Post `post.text` as a public status, idempotently per publication."""
        if not self._limits_loaded:
            await self.refresh_limits()
        send = partial(
            self._api.status_post,
            post.text,
            idempotency_key=f"shortsci-pub-{post.publication_id}",
            visibility="public",
        )
        try:
            status = await self._call(post, send)
        except _Ambiguous as first:
            log.warning(
                "mastodon: publication %s: %s; retrying with the same idempotency key",
                post.publication_id,
                first,
            )
            try:
                status = await self._call(post, send)
            except _Ambiguous as second:
                raise UnknownOutcome(f"mastodon: {second}") from second
        log.info("mastodon: publication %s published as %s", post.publication_id, status["id"])
        return Published(str(status["id"]), _optional_str(status.get("url")))

    async def find_existing(self, post: Post) -> Published | None:
        """Find our recent status whose content links to `post.link`."""
        try:
            if self._account_id is None:
                me = await self._call(post, self._api.account_verify_credentials)
                self._account_id = str(me["id"])
            statuses = await self._call(
                post,
                partial(self._api.account_statuses, self._account_id, limit=self._search_depth),
            )
        except _Ambiguous as exc:
            raise UnknownOutcome(f"mastodon: cannot list recent statuses: {exc}") from exc
        except (BadContent, UnknownOutcome) as exc:
            raise UnknownOutcome(f"mastodon: cannot list recent statuses: {exc}") from exc
        for status in statuses:
            if mentions(html.unescape(str(status.get("content", ""))), post.link):
                log.info("mastodon: publication %s found as %s", post.publication_id, status["id"])
                return Published(str(status["id"]), _optional_str(status.get("url")))
        log.info("mastodon: publication %s not found in recent statuses", post.publication_id)
        return None

    async def aclose(self) -> None:
        """Close the HTTP session."""
        self._api.session.close()

    async def _call(self, post: Post, call: Callable[[], T]) -> T:
        """Run a Mastodon.py call in a thread, mapping its exceptions.

        Raises:
            _Ambiguous: the request went out and its answer was lost.
            ChannelError: every other failure, typed.
        """
        try:
            return await asyncio.to_thread(call)
        except MastodonError as exc:
            error = self._error(exc)
            if isinstance(error, ChannelError):
                log.warning("mastodon: publication %s: %s", post.publication_id, error)
            raise error from exc

    def _error(self, exc: MastodonError) -> ChannelError | _Ambiguous:
        """Map a Mastodon.py exception."""
        if isinstance(exc, MastodonRatelimitError):
            reset = self._api.ratelimit_reset
            retry_at = datetime.fromtimestamp(reset, UTC) if reset else None
            return RetryLater("mastodon answered 429: rate limited", retry_at)
        if isinstance(exc, MastodonNetworkError):
            cause = exc.__cause__ or exc.__context__
            if cause is not None and not requests_was_sent(cause):
                return RetryLater(f"mastodon: could not connect ({describe(cause)})")
            return _Ambiguous(f"no answer after sending ({describe(cause or exc)})")
        if isinstance(exc, MastodonIllegalArgumentError | MastodonVersionError):
            return BadContent(f"mastodon: refused before sending ({describe(exc)})")
        status, detail = _status_and_detail(exc)
        message = redact(f"mastodon answered {status}: {detail}".rstrip(": "), [self._token])
        if isinstance(exc, MastodonGatewayTimeoutError):
            return _Ambiguous(message)
        if isinstance(exc, MastodonServerError):
            return RetryLater(message)
        if isinstance(exc, MastodonUnauthorizedError) or status == 403:
            return Reauthenticate(message)
        if isinstance(exc, MastodonAPIError) and isinstance(status, int):
            return BadContent(message)
        return _Ambiguous(message)


def _status_and_detail(exc: MastodonError) -> tuple[int | None, str]:
    """Mastodon.py raises ``(text, status, reason, error message)`` for error answers."""
    args = exc.args
    if len(args) >= 4 and isinstance(args[1], int):
        return args[1], str(args[3] or args[2] or "")
    return None, "unreadable answer"


def _max_characters(instance: Any) -> int | None:
    """``configuration.statuses.max_characters`` (v1 and v2), or Pleroma's ``max_toot_chars``."""
    try:
        value = instance["configuration"]["statuses"]["max_characters"]
    except (KeyError, TypeError):
        value = instance.get("max_toot_chars") if hasattr(instance, "get") else None
    return int(value) if isinstance(value, int) and value > 0 else None


def _optional_str(value: object) -> str | None:
    return str(value) if value else None
