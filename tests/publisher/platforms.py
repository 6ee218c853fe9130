"""Every platform's fake at once, and the settings that aim ShortSci at them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.fakes import bluesky_api, facebook_api, mastodon_api, x_api


@dataclass
class Platforms:
    """The fakes of X, Facebook, Mastodon and Bluesky, plus where the Atom feed goes."""

    x: x_api.FakeX
    facebook: facebook_api.FakeFacebook
    mastodon: mastodon_api.FakeMastodon
    bluesky: bluesky_api.FakeBluesky
    feed: Path

    def env(self) -> dict[str, str]:
        """``SHORTSCI_*`` variables that enable every channel against the fakes."""
        return {
            "SHORTSCI_X_CONSUMER_KEY": x_api.CONSUMER_KEY,
            "SHORTSCI_X_CONSUMER_SECRET": x_api.CONSUMER_SECRET,
            "SHORTSCI_X_ACCESS_TOKEN": x_api.ACCESS_TOKEN,
            "SHORTSCI_X_ACCESS_TOKEN_SECRET": x_api.ACCESS_TOKEN_SECRET,
            "SHORTSCI_X_API_URL": self.x.url,
            "SHORTSCI_FACEBOOK_PAGE_ID": facebook_api.PAGE_ID,
            "SHORTSCI_FACEBOOK_PAGE_TOKEN": facebook_api.PAGE_TOKEN,
            "SHORTSCI_FACEBOOK_API_URL": self.facebook.url,
            "SHORTSCI_MASTODON_URL": self.mastodon.url,
            "SHORTSCI_MASTODON_TOKEN": mastodon_api.TOKEN,
            "SHORTSCI_BLUESKY_HANDLE": bluesky_api.HANDLE,
            "SHORTSCI_BLUESKY_APP_PASSWORD": bluesky_api.APP_PASSWORD,
            "SHORTSCI_BLUESKY_API_URL": self.bluesky.url,
            "SHORTSCI_FEED_PATH": str(self.feed),
            "SHORTSCI_PUBLIC_URL": "https://shortsci.example.org",
        }

    def counts(self, link: str) -> dict[str, int]:
        """How many posts carry `link`, per platform (followers must see exactly one)."""
        feed = self.feed.read_text(encoding="utf-8") if self.feed.exists() else ""
        return {
            "x": sum(any(u["expanded_url"] == link for u in t.urls) for t in self.x.tweets),
            "facebook": sum(p.link == link for p in self.facebook.posts),
            "mastodon": sum(
                f'href="{link}"' in mastodon_api.render(s.text) for s in self.mastodon.statuses
            ),
            "bluesky": sum(link in p.links() for p in self.bluesky.posts),
            "atom": feed.count(f'href="{link}"'),
        }


@contextmanager
def platforms(directory: Path) -> Iterator[Platforms]:
    """Start every fake; stop them afterwards."""
    with ExitStack() as stack:
        yield Platforms(
            x=stack.enter_context(x_api.FakeX()),
            facebook=stack.enter_context(facebook_api.FakeFacebook()),
            mastodon=stack.enter_context(mastodon_api.FakeMastodon()),
            bluesky=stack.enter_context(bluesky_api.FakeBluesky()),
            feed=directory / "feed.xml",
        )
