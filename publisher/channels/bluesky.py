"""Bluesky through atproto's `AsyncClient` (httpx underneath), logged in with an app password.

A post is an ``app.bsky.feed.post`` record. Links are not clickable by themselves on
Bluesky: each URL in the text gets a link facet whose ``byteStart``/``byteEnd`` are offsets
in the UTF-8 encoding of the text (not character indices: an emoji or CJK text before the
link shifts them). The summary's link also becomes an external embed (a link card).

The channel logs in on first use and keeps the session (atproto refreshes it before it
expires). When the PDS says the token is no longer good (401, or 400 ``ExpiredToken`` /
``InvalidToken``), the channel logs in once more and repeats the request: a request refused
for its token was not acted on. If the new login fails too, it is `Reauthenticate`.

Errors: 429 is `RetryLater` at ``ratelimit-reset``; 500/502/503 and connection failures
before sending are `RetryLater`; 504 and timeouts or resets after sending are
`UnknownOutcome`; other 400s (``InvalidRequest``: too long, malformed) are `BadContent`.

`find_existing` reads our own repo (``com.atproto.repo.listRecords``), not the AppView's
``getAuthorFeed``: the PDS is the record's source of truth and shows a new post at once,
while the AppView may lag behind, and "absent" must mean absent.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import httpx

# atproto ships no type information (and pyproject's mypy overrides do not list it).
from atproto import AsyncClient, AsyncRequest, AtUri, models  # type: ignore[import-untyped]
from atproto.exceptions import (  # type: ignore[import-untyped]
    AtProtocolError,
    BadRequestError,
    LoginRequiredError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)

from markup import grapheme_length
from publisher.channels._common import (
    GATEWAY_TIMEOUT,
    RETRYABLE_STATUSES,
    Clock,
    after,
    describe,
    httpx_was_sent,
    mentions,
    redact,
    utc_now,
)
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

DEFAULT_API_URL = "https://bsky.social"
MAX_GRAPHEMES = 300
POST_URL = "https://bsky.app/profile/{did}/post/{rkey}"
POST_COLLECTION = "app.bsky.feed.post"
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired"})
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]}'…]")
T = TypeVar("T")


def link_facets(text: str) -> list[models.AppBskyRichtextFacet.Main]:
    """A link facet for every http(s) URL in `text`, with UTF-8 byte offsets."""
    facets = []
    for match in _URL.finditer(text):
        start = len(text[: match.start()].encode("utf-8"))
        end = start + len(match.group(0).encode("utf-8"))
        facets.append(
            models.AppBskyRichtextFacet.Main(
                features=[models.AppBskyRichtextFacet.Link(uri=match.group(0))],
                index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
            )
        )
    return facets


class BlueskyChannel:
    """Posts to one Bluesky account with an app password."""

    name: ClassVar[str] = "bluesky"

    def __init__(
        self,
        *,
        handle: str,
        app_password: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        clock: Clock = utc_now,
        search_depth: int = 50,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Build the channel; nothing is sent until the first call.

        Args:
            handle: the account's handle (or DID).
            app_password: an app password (never the account password).
            api_url: the PDS or entryway base (``SHORTSCI_BLUESKY_API_URL``).
            timeout: seconds to wait for the PDS on each request.
            clock: the current time (for tests).
            search_depth: how many recent posts `find_existing` looks through (max 100).
            transport: an httpx transport (for tests).
        """
        self.limits = Limits(MAX_GRAPHEMES, grapheme_length)
        self._handle = handle
        self._password = app_password
        self._clock = clock
        self._search_depth = min(search_depth, 100)
        self._client = AsyncClient(
            base_url=api_url, request=AsyncRequest(timeout=timeout, transport=transport)
        )
        self._did: str | None = None
        self._login_lock = asyncio.Lock()

    async def publish(self, post: Post) -> Published:
        """Create the post record, with link facets and a link card."""
        record = models.AppBskyFeedPost.Record(
            text=post.text,
            created_at=self._clock().isoformat().replace("+00:00", "Z"),
            facets=link_facets(post.text) or None,
            embed=models.AppBskyEmbedExternal.Main(
                external=models.AppBskyEmbedExternal.External(
                    uri=post.link, title=post.title or post.link, description=""
                )
            ),
            langs=["en"],
        )

        async def create() -> models.AppBskyFeedPost.CreateRecordResponse:
            assert self._did is not None
            return await self._client.app.bsky.feed.post.create(self._did, record)

        response = await self._with_session(post, create, sent_is_unknown=True)
        rkey = AtUri.from_str(response.uri).rkey
        log.info("bluesky: publication %s published as %s", post.publication_id, response.uri)
        return Published(response.uri, POST_URL.format(did=self._did, rkey=rkey))

    async def find_existing(self, post: Post) -> Published | None:
        """Find our recent post record carrying `post.link` (in a facet, the card or the text)."""

        async def recent() -> models.ComAtprotoRepoListRecords.Response:
            assert self._did is not None
            params = models.ComAtprotoRepoListRecords.Params(
                repo=self._did, collection=POST_COLLECTION, limit=self._search_depth
            )
            return await self._client.com.atproto.repo.list_records(params)

        try:
            response = await self._with_session(post, recent, sent_is_unknown=True)
        except (BadContent, UnknownOutcome) as exc:
            raise UnknownOutcome(f"bluesky: cannot list recent posts: {exc}") from exc
        for item in response.records:
            if _carries(item.value, post.link):
                rkey = AtUri.from_str(item.uri).rkey
                log.info("bluesky: publication %s found as %s", post.publication_id, item.uri)
                return Published(item.uri, POST_URL.format(did=self._did, rkey=rkey))
        log.info("bluesky: publication %s not found in recent posts", post.publication_id)
        return None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.request.close()

    async def _login(self, post: Post, *, again: bool = False) -> None:
        """Log in (once, or `again` after a refused token); failures post nothing."""
        async with self._login_lock:
            if self._did is not None and not again:
                return
            log.info("bluesky: publication %s: logging in as %s", post.publication_id, self._handle)
            try:
                # The session, not the AppView's profile: every PDS serves getSession.
                await self._client.login(self._handle, self._password, fetch_bsky_profile=False)
                session = await self._client.com.atproto.server.get_session()
            except (AtProtocolError, httpx.HTTPError) as exc:
                error = self._error(exc, sent_is_unknown=False)
                if isinstance(exc, UnauthorizedError | BadRequestError | LoginRequiredError):
                    error = Reauthenticate(f"bluesky: login refused: {error}")
                log.warning("bluesky: publication %s: %s", post.publication_id, error)
                raise error from exc
            self._did = str(session.did)

    async def _with_session(
        self, post: Post, call: Callable[[], Awaitable[T]], *, sent_is_unknown: bool
    ) -> T:
        """Run `call` logged in; on a refused token, log in once more and repeat it."""
        await self._login(post)
        try:
            return await call()
        except (AtProtocolError, httpx.HTTPError) as exc:
            if not _token_refused(exc):
                error = self._error(exc, sent_is_unknown=sent_is_unknown)
                log.warning("bluesky: publication %s: %s", post.publication_id, error)
                raise error from exc
            log.info(
                "bluesky: publication %s: token refused, logging in again", post.publication_id
            )
        await self._login(post, again=True)
        try:
            return await call()
        except (AtProtocolError, httpx.HTTPError) as exc:
            error = self._error(exc, sent_is_unknown=sent_is_unknown)
            if _token_refused(exc):
                error = Reauthenticate(f"bluesky: token refused after a fresh login: {error}")
            log.warning("bluesky: publication %s: %s", post.publication_id, error)
            raise error from exc

    def _error(self, exc: BaseException, *, sent_is_unknown: bool) -> ChannelError:
        """Map an atproto or httpx failure to a `ChannelError`."""
        response = exc.response if isinstance(exc, RequestErrorBase) else None
        if response is None:
            cause = exc.__cause__ if isinstance(exc, AtProtocolError) else exc
            if isinstance(exc, LoginRequiredError):
                return Reauthenticate("bluesky: not logged in")
            if sent_is_unknown and (cause is None or httpx_was_sent(cause)):
                return UnknownOutcome(
                    f"bluesky: no answer after sending ({describe(cause or exc)})"
                )
            return RetryLater(f"bluesky: could not connect ({describe(cause or exc)})")
        status = response.status_code
        message = redact(f"bluesky answered {exc}", [self._password])
        if isinstance(exc, RateLimitExceededError):
            retry_at = exc.reset_at
            if retry_at is None and exc.retry_after is not None:
                retry_at = after(self._clock, exc.retry_after)
            return RetryLater(message, retry_at)
        if isinstance(exc, UnauthorizedError):
            return Reauthenticate(message)
        if status in RETRYABLE_STATUSES:
            return RetryLater(message)
        if status == GATEWAY_TIMEOUT:
            return UnknownOutcome(message) if sent_is_unknown else RetryLater(message)
        if status >= 500 or (isinstance(exc, NetworkError) and status not in (409, 413)):
            return RetryLater(message)
        return BadContent(message)


def _token_refused(exc: BaseException) -> bool:
    """Whether the PDS refused the request for its token (not for its content)."""
    if isinstance(exc, UnauthorizedError | LoginRequiredError):
        return True
    if isinstance(exc, BadRequestError) and exc.response is not None:
        content = exc.response.content
        return getattr(content, "error", None) in _TOKEN_ERRORS
    return False


def _carries(record: Any, link: str) -> bool:
    """Whether a post record links to `link`: a link facet, the card, or the plain text."""
    data = record.model_dump(by_alias=True) if hasattr(record, "model_dump") else record
    if not isinstance(data, dict):
        return False
    if mentions(str(data.get("text", "")), link):
        return True
    for facet in data.get("facets") or []:
        for feature in facet.get("features") or []:
            if feature.get("uri") == link:
                return True
    external = (data.get("embed") or {}).get("external") or {}
    return bool(external.get("uri") == link)
