"""X (Twitter) through tweepy's API v2 client, OAuth 1.0a user context.

tweepy is synchronous, so every call runs in a worker thread. tweepy 4.17 hard-codes
``host = "https://api.twitter.com"`` in ``BaseClient.request`` and sends without a timeout.
We swap the client's ``requests.Session`` for `_RoutedSession`, which rewrites that host to
the configured base and adds a timeout. The rewrite happens in ``Session.request``, before
the request is prepared, so the OAuth signature is computed over the URL actually sent
(a transport adapter would rewrite after signing and break the signature). Overriding
``Client.request`` instead would mean copying tweepy's whole request and error code.

Errors:

| X answers / the wire does | we raise |
|---|---|
| 429 | `RetryLater` at ``x-user-limit-24hour-reset`` if spent, else ``x-rate-limit-reset`` |
| 500, 502, 503 | `RetryLater` (X failed; its duplicate check backs us up if it did post) |
| 504, timeout or reset after sending | `UnknownOutcome` |
| connection refused, connect timeout | `RetryLater` |
| 401; 403 about app permissions | `Reauthenticate` |
| 403 duplicate content | `DuplicateContent` (it is probably posted: reconcile) |
| other 403, 400 and other 4xx | `BadContent` |

Threads: `Post.thread` items are posted as a reply chain under the main tweet; see
`publisher.channels.base` for how `resume_from`, `Published.chain` and `posted` resume one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import requests
import tweepy

from config.logging import RedactSecrets
from markup import x_weighted_length
from publisher.channels._common import (
    GATEWAY_TIMEOUT,
    RETRYABLE_STATUSES,
    describe,
    from_epoch,
    mentions,
    redact,
    requests_was_sent,
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

DEFAULT_API_URL = "https://api.twitter.com"
TWEEPY_HOST = "https://api.twitter.com"
MAX_LENGTH = 280
STATUS_URL = "https://x.com/i/web/status/{id}"
_DUPLICATE = "duplicate content"
# oauthlib logs the signed Authorization header (consumer key, access token) at DEBUG.
_SIGNING_LOGGERS = (
    "requests_oauthlib.oauth1_auth",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
)
_AUTH_PROBLEMS = ("oauth1-permissions", "client-forbidden", "unsupported-authentication")


class _RoutedSession(requests.Session):
    """A session that sends tweepy's requests to `api_url`, with a timeout."""

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        """Rewrite tweepy's fixed host to ours before the request is signed and sent."""
        if isinstance(url, str) and url.startswith(TWEEPY_HOST):
            url = self.api_url + url[len(TWEEPY_HOST) :]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class XChannel:
    """Posts to one X account; threads become reply chains."""

    name: ClassVar[str] = "x"

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        daily_cap: int | None = None,
        search_depth: int = 100,
    ) -> None:
        """Build the channel; nothing is sent until the first call.

        Args:
            consumer_key: the app's API key.
            consumer_secret: the app's API key secret.
            access_token: the account's access token.
            access_token_secret: the account's access token secret.
            api_url: the API base (``SHORTSCI_X_API_URL``).
            timeout: seconds to wait for X on each request.
            daily_cap: posts a day the account's tier allows, if we must keep under it.
            search_depth: how many recent tweets `find_existing` looks through (5-100).
        """
        self.limits = Limits(MAX_LENGTH, x_weighted_length, daily_cap=daily_cap)
        self._secrets = (consumer_key, consumer_secret, access_token, access_token_secret)
        self._search_depth = max(5, min(search_depth, 100))
        self._user_id: str | None = None
        self._client = tweepy.Client(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            return_type=dict,
        )
        self._client.session = _RoutedSession(api_url, timeout)
        self._redactor = RedactSecrets(self._secrets)
        for logger in _SIGNING_LOGGERS:
            logging.getLogger(logger).addFilter(self._redactor)

    async def publish(self, post: Post) -> Published:
        """Tweet `post.text`, then each `post.thread` item as a reply to the previous one."""
        texts = (post.text, *post.thread)
        ids = list(post.resume_from[: len(texts)])
        if ids:
            log.info(
                "x: publication %s resumes its thread after %d posted tweet(s)",
                post.publication_id,
                len(ids),
            )
        for text in texts[len(ids) :]:
            try:
                ids.append(await self._tweet(post, text, ids[-1] if ids else None))
            except ChannelError as exc:
                exc.posted = tuple(ids)
                raise
        log.info("x: publication %s published as tweet %s", post.publication_id, ids[0])
        return Published(ids[0], STATUS_URL.format(id=ids[0]), tuple(ids) if post.thread else ())

    async def find_existing(self, post: Post) -> Published | None:
        """Find the tweet carrying `post.link` among our recent tweets, with its reply chain."""
        try:
            if self._user_id is None:
                me = await asyncio.to_thread(self._client.get_me, user_auth=True)
                self._user_id = str(me["data"]["id"])
            timeline = await asyncio.to_thread(
                self._client.get_users_tweets,
                self._user_id,
                user_auth=True,
                max_results=self._search_depth,
                tweet_fields=["entities", "referenced_tweets", "created_at"],
            )
        except tweepy.HTTPException as exc:
            error = self._http_error(post, exc)
            if isinstance(error, Reauthenticate | RetryLater):
                raise error from exc
            raise UnknownOutcome(f"x: cannot list recent tweets: {error}") from exc
        except requests.RequestException as exc:
            raise UnknownOutcome(f"x: cannot list recent tweets ({describe(exc)})") from exc
        tweets: list[dict[str, Any]] = list(reversed(timeline.get("data") or []))  # oldest first
        main = next((t for t in tweets if _carries(t, post.link) and not _reply_to(t)), None)
        if main is None:
            log.info("x: publication %s not found in recent tweets", post.publication_id)
            return None
        chain = [str(main["id"])]
        while post.thread and len(chain) < 1 + len(post.thread):
            reply = next((t for t in tweets if _reply_to(t) == chain[-1]), None)
            if reply is None:
                break
            chain.append(str(reply["id"]))
        log.info(
            "x: publication %s found as tweet %s (%d of %d posted)",
            post.publication_id,
            chain[0],
            len(chain),
            1 + len(post.thread),
        )
        return Published(
            chain[0], STATUS_URL.format(id=chain[0]), tuple(chain) if post.thread else ()
        )

    async def aclose(self) -> None:
        """Close the HTTP session and stop masking our secrets in oauthlib's logs."""
        self._client.session.close()
        for logger in _SIGNING_LOGGERS:
            logging.getLogger(logger).removeFilter(self._redactor)

    async def _tweet(self, post: Post, text: str, reply_to: str | None) -> str:
        """Post one tweet and return its id, or raise the matching `ChannelError`."""
        try:
            response = await asyncio.to_thread(
                self._client.create_tweet,
                text=text,
                in_reply_to_tweet_id=reply_to,
                user_auth=True,
            )
        except tweepy.HTTPException as exc:
            raise self._http_error(post, exc) from exc
        except requests.RequestException as exc:
            sent = requests_was_sent(exc)
            log.warning(
                "x: publication %s: %s %s sending",
                post.publication_id,
                describe(exc),
                "after" if sent else "before",
            )
            if sent:
                raise UnknownOutcome(f"x: no answer after sending ({describe(exc)})") from exc
            raise RetryLater(f"x: could not connect ({describe(exc)})") from exc
        try:
            return str(response["data"]["id"])
        except (KeyError, TypeError) as exc:
            raise UnknownOutcome("x answered without a tweet id") from exc

    def _http_error(self, post: Post, exc: tweepy.HTTPException) -> ChannelError:
        """Map one of X's error answers to a `ChannelError`."""
        status = exc.response.status_code
        body = _json(exc.response)
        detail = redact(str(body.get("detail") or "; ".join(exc.api_messages) or ""), self._secrets)
        problem = str(body.get("type", ""))
        message = f"x answered {status}: {detail}".rstrip(": ")
        log.warning("x: publication %s: %s", post.publication_id, message)
        if status == 429:
            return RetryLater(message, _reset_at(exc.response.headers))
        if status in RETRYABLE_STATUSES:
            return RetryLater(message)
        if status == GATEWAY_TIMEOUT:
            return UnknownOutcome(message)
        if status == 401 or (status == 403 and problem.endswith(_AUTH_PROBLEMS)):
            return Reauthenticate(message)
        if status == 403 and _DUPLICATE in detail.lower():
            return DuplicateContent(message)
        if status >= 500:
            return RetryLater(message)
        return BadContent(message)


def _reset_at(headers: Mapping[str, str]) -> datetime | None:
    """When a 429 ends: the 24-hour user limit's reset if it is spent, else the window's."""
    daily = from_epoch(headers.get("x-user-limit-24hour-reset"))
    window = from_epoch(headers.get("x-rate-limit-reset"))
    if daily is not None and (headers.get("x-user-limit-24hour-remaining") == "0" or not window):
        return daily
    return window


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _carries(tweet: Mapping[str, Any], link: str) -> bool:
    """Whether a tweet links to `link` (X shows t.co links; ``expanded_url`` is the original)."""
    urls = (tweet.get("entities") or {}).get("urls") or []
    wanted = link.rstrip("/")
    return any(str(u.get("expanded_url", "")).rstrip("/") == wanted for u in urls) or (
        mentions(str(tweet.get("text", "")), link)
    )


def _reply_to(tweet: Mapping[str, Any]) -> str | None:
    for ref in tweet.get("referenced_tweets") or []:
        if ref.get("type") == "replied_to":
            return str(ref["id"])
    return None
