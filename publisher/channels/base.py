"""The one small interface every publishing channel implements.

A channel turns a composed `Post` into a post on its platform. `publish` returns the
platform's id and URL, or raises exactly one of these:

    ChannelError
     ├── RetryLater        try again later; `retry_at` says when if the platform told us
     ├── BadContent        the platform refuses this content; retrying will not help
     │    └── DuplicateContent   refused as a duplicate: it is probably posted already
     ├── Reauthenticate    credentials are invalid or revoked; pause the channel
     └── UnknownOutcome    the request may have gone out; reconcile, never re-post blindly

Limits are data (`Limits`): how long a post may be as the platform counts it, how often
and how many a day the channel may post.

Threads (X): a post with `Post.thread` becomes a chain of posts. `Published.chain` lists
every id of the chain; when a chain breaks halfway, the error's `posted` holds the ids that
did go out, and a later attempt passes them back as `Post.resume_from` so the channel posts
only the rest. `find_existing` reports the chain it found the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Post:
    """What to publish for one publication, already composed within the channel's limits.

    Attributes:
        publication_id: the outbox row; channels use it as an idempotency key.
        summary_id: the summary being posted.
        text: the post's body as the platform will show it (includes `link`).
        link: the URL of the summary, which reconciliation looks for in recent posts.
        title: the paper's title, for channels with a separate title field (Atom).
        html: a rich rendering for channels that show HTML (Telegram, Atom).
        thread: follow-up posts for channels that thread (X), each within the limit.
        updated: when the summary was last changed (Atom entries).
        resume_from: ids of a thread's posts that an earlier attempt already published
            (main post first); a threading channel posts only the remainder.
    """

    publication_id: int
    summary_id: int
    text: str
    link: str
    title: str = ""
    html: str | None = None
    thread: tuple[str, ...] = ()
    updated: datetime | None = None
    resume_from: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Published:
    """The platform's confirmation: its id for the post and, where it has one, a URL.

    `chain` lists every post id of a thread (main post first); empty for a single post.
    """

    external_id: str
    url: str | None = None
    chain: tuple[str, ...] = ()


class ChannelError(Exception):
    """Base of the typed failures a channel raises; the message never holds a secret.

    `posted` holds the ids of a thread's posts that went out before the failure.
    """

    posted: tuple[str, ...] = ()


class RetryLater(ChannelError):
    """A transient failure (rate limit, 5xx, connection refused before sending)."""

    def __init__(self, reason: str, retry_at: datetime | None = None) -> None:
        super().__init__(reason)
        self.retry_at = retry_at


class BadContent(ChannelError):
    """The platform refused the content itself (too long, duplicate, forbidden)."""


class DuplicateContent(BadContent):
    """The platform refused the post as a duplicate; `find_existing` should find it."""


class Reauthenticate(ChannelError):
    """The credentials no longer work; a person must renew them."""


class UnknownOutcome(ChannelError):
    """The request may or may not have been acted on (timeout after sending, reset)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """A platform's rules, as data.

    Attributes:
        max_length: the longest post, as `measure` counts.
        measure: how the platform counts a text's length.
        daily_cap: at most this many posts a day (None: no cap of ours).
        link_required: whether the link must be in `text` (it is not for feeds).
    """

    max_length: int
    measure: Callable[[str], int] = len
    daily_cap: int | None = None
    link_required: bool = True
    extra: dict[str, object] = field(default_factory=dict)


class Channel(Protocol):
    """A publishing channel: one module per network under `publisher.channels`."""

    name: ClassVar[str]
    limits: Limits

    async def publish(self, post: Post) -> Published:
        """Post it, or raise one `ChannelError` subclass."""
        ...

    async def find_existing(self, post: Post) -> Published | None:
        """Look through the account's recent posts for one carrying `post.link`.

        Used when an earlier attempt's outcome is unknown. Returns the post if found,
        None if surely absent; raises `UnknownOutcome` if the platform cannot tell.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class Editable(Protocol):
    """A channel whose posts can be changed after the fact (Telegram, the Atom feed)."""

    async def update(self, post: Post, external_id: str) -> Published:
        """Replace the post `external_id` with this (edited) one."""
        ...

    async def withdraw(self, post: Post, external_id: str) -> None:
        """Take the post `external_id` down (its summary was deleted)."""
        ...
