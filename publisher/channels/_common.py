"""Helpers the network channels share: clocks, redaction, and "was it sent?" for errors.

The one rule behind `requests_was_sent` and `httpx_was_sent`: a failure before the request
left us (connection refused, name resolution, connect timeout, pool timeout) means the
platform cannot have acted, so it is a `RetryLater`; anything after (read timeout,
reset, a half-read answer) means it may have, so it is an `UnknownOutcome`. When in doubt
we say "sent": a needless reconciliation is cheap, a duplicate post is not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import httpx
import requests
import urllib3.exceptions

Clock = Callable[[], datetime]

#: Status codes that mean "the service failed; nothing was done" (safe to retry later).
#: 504 is not among them: a gateway timed out on a backend that had our request.
RETRYABLE_STATUSES = frozenset({500, 502, 503})
GATEWAY_TIMEOUT = 504


def mentions(text: str, link: str) -> bool:
    """Whether `text` holds `link` as a whole URL: ``…/s/1`` is not in ``…/s/10``."""
    return re.search(re.escape(link.rstrip("/")) + r"/?(?![\w/?#=&%.-]*[\w/])", text) is not None


def utc_now() -> datetime:
    """The current time, timezone-aware (the default clock of every channel)."""
    return datetime.now(UTC)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret in `text` by ``****``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return text


def from_epoch(value: object) -> datetime | None:
    """A header's epoch seconds as an aware datetime; None when absent or malformed."""
    try:
        return datetime.fromtimestamp(int(str(value).strip()), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def after(clock: Clock, seconds: float) -> datetime:
    """`seconds` from now by `clock`."""
    return clock() + timedelta(seconds=seconds)


def describe(exc: BaseException) -> str:
    """A short name for a transport failure, without URLs or headers."""
    return type(exc).__name__


def requests_was_sent(exc: BaseException) -> bool:
    """Whether a `requests` failure may have happened after the request reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        # NewConnectionError (refused, DNS) is a ConnectTimeoutError subclass in urllib3 2.
        return not isinstance(reason, urllib3.exceptions.ConnectTimeoutError)
    return True


def httpx_was_sent(exc: BaseException) -> bool:
    """Whether an `httpx` failure may have happened after the request reached the server."""
    before = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.UnsupportedProtocol,
        httpx.LocalProtocolError,
        httpx.ProxyError,
    )
    return not isinstance(exc, before)
