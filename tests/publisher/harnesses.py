"""One harness per channel: the channel aimed at its fake, and the fake's levers.

The contract battery talks to channels only through these, so every channel faces the same
checks. Posts are built from the seed's real summaries (`seed_post`).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from markup import to_plain_text, truncate_words
from publisher.channels.atom import AtomChannel
from publisher.channels.base import BadContent, Channel, DuplicateContent, Limits, Post
from publisher.channels.bluesky import BlueskyChannel
from publisher.channels.facebook import FacebookChannel
from publisher.channels.mastodon import MastodonChannel
from publisher.channels.x import XChannel
from tests.fakes import bluesky_api, facebook_api, mastodon_api, x_api
from tests.fakes._server import FakeServer
from tests.seed import seed_papers

TIMEOUT = 0.5  # the channels' per-request timeout in tests
STALL = 1.5  # how long a stalled fake waits: longer than TIMEOUT
NOW = datetime(2026, 4, 12, 9, 30, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"


def fixed_clock() -> datetime:
    """A clock stuck at `NOW`."""
    return NOW


def seed_post(index: int, limits: Limits, *, publication_id: int | None = None) -> Post:
    """A post of seed summary `index`, composed to fit `limits` as the composer would."""
    paper = seed_papers()[index]
    summary_id = 100 + index
    link = f"https://shortsci.example.org/summaries/{summary_id}"
    tail = f"\n\n{link}"
    plain = f"{paper.title}: {to_plain_text(paper.summary)}"
    room = limits.max_length - limits.measure(tail)
    text = truncate_words(plain, room, limits.measure) + tail
    return Post(
        publication_id=publication_id or 1000 + index,
        summary_id=summary_id,
        text=text,
        link=link,
        title=paper.title,
        html=f"<p>{paper.summary}</p>",
        updated=NOW,
    )


class Harness:
    """A channel under test and the fake behind it."""

    name: ClassVar[str]
    post_route: ClassVar[str] = ""
    #: How many times the channel sends a post whose answer was lost before giving up.
    attempts_when_ambiguous: ClassVar[int] = 1
    fake: FakeServer
    secrets: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.channel = self.build()

    def build(self, url: str | None = None) -> Channel:
        """The channel, aimed at the fake or at `url`."""
        raise NotImplementedError

    def ids(self) -> list[str]:
        """The platform's ids of the posts it holds, oldest first."""
        raise NotImplementedError

    def count(self, link: str) -> int:
        """How many posts a follower would see carrying `link`."""
        raise NotImplementedError

    def rate_limit(self, reset: datetime) -> datetime:
        """Make the next post hit a rate limit ending at `reset`; returns the expected time."""
        raise NotImplementedError

    def fail(self, status: int, count: int = 1) -> None:
        """Make the next posts fail with a server error."""
        raise NotImplementedError

    def revoke(self) -> None:
        """Invalidate the channel's credentials."""
        raise NotImplementedError

    def refusable(self, post: Post) -> tuple[Post, type[BadContent]]:
        """A post the platform refuses once `post` is out, and the error expected."""
        raise NotImplementedError


class XHarness(Harness):
    name = "x"
    post_route = "POST /2/tweets"
    secrets = (
        x_api.CONSUMER_KEY,
        x_api.CONSUMER_SECRET,
        x_api.ACCESS_TOKEN,
        x_api.ACCESS_TOKEN_SECRET,
    )

    def __init__(self, fake: x_api.FakeX) -> None:
        self.fake = self.x = fake
        super().__init__()

    def build(self, url: str | None = None) -> XChannel:
        return XChannel(
            consumer_key=x_api.CONSUMER_KEY,
            consumer_secret=x_api.CONSUMER_SECRET,
            access_token=x_api.ACCESS_TOKEN,
            access_token_secret=x_api.ACCESS_TOKEN_SECRET,
            api_url=url or self.x.url,
            timeout=TIMEOUT,
        )

    def ids(self) -> list[str]:
        return [t.id for t in self.x.tweets]

    def count(self, link: str) -> int:
        return sum(any(u["expanded_url"] == link for u in t.urls) for t in self.x.tweets)

    def rate_limit(self, reset: datetime) -> datetime:
        self.x.rate_limit_next(reset)
        return reset

    def fail(self, status: int, count: int = 1) -> None:
        self.x.fail_next(status, count)

    def revoke(self) -> None:
        self.x.revoke()

    def refusable(self, post: Post) -> tuple[Post, type[BadContent]]:
        return replace(post, publication_id=post.publication_id + 1), DuplicateContent


class FacebookHarness(Harness):
    name = "facebook"
    post_route = f"POST {facebook_api.FEED}"
    secrets = (facebook_api.PAGE_TOKEN,)

    def __init__(self, fake: facebook_api.FakeFacebook) -> None:
        self.fake = self.fb = fake
        super().__init__()

    def build(self, url: str | None = None) -> FacebookChannel:
        return FacebookChannel(
            page_id=facebook_api.PAGE_ID,
            page_token=facebook_api.PAGE_TOKEN,
            api_url=url or self.fb.url,
            timeout=TIMEOUT,
            clock=fixed_clock,
        )

    def ids(self) -> list[str]:
        return [p.id for p in self.fb.posts]

    def count(self, link: str) -> int:
        return sum(p.link == link for p in self.fb.posts)

    def rate_limit(self, reset: datetime) -> datetime:
        minutes = math.ceil((reset - NOW).total_seconds() / 60)
        self.fb.rate_limit_next(80001, regain_minutes=minutes)
        return NOW + timedelta(minutes=minutes)

    def fail(self, status: int, count: int = 1) -> None:
        self.fb.fail_next(status, count, html=status != 500)

    def revoke(self) -> None:
        self.fb.revoke()

    def refusable(self, post: Post) -> tuple[Post, type[BadContent]]:
        return replace(post, publication_id=post.publication_id + 1), DuplicateContent


class MastodonHarness(Harness):
    name = "mastodon"
    post_route = "POST /api/v1/statuses"
    attempts_when_ambiguous = 2
    secrets = (mastodon_api.TOKEN,)

    def __init__(self, fake: mastodon_api.FakeMastodon) -> None:
        self.fake = self.m = fake
        super().__init__()

    def build(self, url: str | None = None) -> MastodonChannel:
        return MastodonChannel(
            api_url=url or self.m.url, access_token=mastodon_api.TOKEN, timeout=TIMEOUT
        )

    def ids(self) -> list[str]:
        return [s.id for s in self.m.statuses]

    def count(self, link: str) -> int:
        return sum(f'href="{link}"' in mastodon_api.render(s.text) for s in self.m.statuses)

    def rate_limit(self, reset: datetime) -> datetime:
        self.m.rate_limit_next(reset)
        return reset

    def fail(self, status: int, count: int = 1) -> None:
        self.m.fail_next(status, count)

    def revoke(self) -> None:
        self.m.revoke()

    def refusable(self, post: Post) -> tuple[Post, type[BadContent]]:
        long = post.text + " more" * self.m.max_characters
        return replace(post, publication_id=post.publication_id + 1, text=long), BadContent


class BlueskyHarness(Harness):
    name = "bluesky"
    post_route = "POST /xrpc/com.atproto.repo.createRecord"
    secrets = (bluesky_api.APP_PASSWORD,)

    def __init__(self, fake: bluesky_api.FakeBluesky) -> None:
        self.fake = self.b = fake
        super().__init__()

    def build(self, url: str | None = None) -> BlueskyChannel:
        return BlueskyChannel(
            handle=bluesky_api.HANDLE,
            app_password=bluesky_api.APP_PASSWORD,
            api_url=url or self.b.url,
            timeout=TIMEOUT,
        )

    def ids(self) -> list[str]:
        return [p.uri for p in self.b.posts]

    def count(self, link: str) -> int:
        return sum(link in p.links() for p in self.b.posts)

    def rate_limit(self, reset: datetime) -> datetime:
        self.b.rate_limit_next(reset)
        return reset

    def fail(self, status: int, count: int = 1) -> None:
        self.b.fail_next(status, count)

    def revoke(self) -> None:
        self.b.revoke()

    def refusable(self, post: Post) -> tuple[Post, type[BadContent]]:
        long = post.text + " more" * 300
        return replace(post, publication_id=post.publication_id + 1, text=long), BadContent


class AtomHarness(Harness):
    """The Atom channel: its "platform" is the feed file a reader fetches."""

    name = "atom"

    def __init__(self, directory: Path) -> None:
        self.path = directory / "feed.xml"
        super().__init__()

    def build(self, url: str | None = None) -> AtomChannel:
        return AtomChannel(path=self.path, public_url="https://shortsci.example.org")

    def entries(self) -> list[ET.Element]:
        """The feed's entries as a reader parses them."""
        if not self.path.exists():
            return []
        return ET.parse(self.path).getroot().findall(f"{ATOM}entry")

    def ids(self) -> list[str]:
        return [str(e.findtext(f"{ATOM}id")) for e in reversed(self.entries())]  # newest last

    def count(self, link: str) -> int:
        return sum(
            any(a.get("href") == link for a in e.findall(f"{ATOM}link")) for e in self.entries()
        )
