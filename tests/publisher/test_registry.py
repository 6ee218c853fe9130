"""The registry builds exactly the channels whose credentials are configured."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import ClassVar

import pytest

from config import load_settings
from publisher.channels import FACTORIES, build_channels
from publisher.channels.atom import AtomChannel
from publisher.channels.base import Channel, Limits, Post, Published
from tests.fakes import bluesky_api, facebook_api, mastodon_api, x_api

UNUSED = "http://127.0.0.1:9"  # never contacted: building a channel sends nothing


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SHORTSCI_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


class FakeTelegram:
    """Stands in for the lead's Telegram channel."""

    name: ClassVar[str] = "telegram"

    def __init__(self) -> None:
        self.limits = Limits(4096)

    async def publish(self, post: Post) -> Published:
        return Published(str(post.publication_id))

    async def find_existing(self, post: Post) -> Published | None:
        return None

    async def aclose(self) -> None:
        pass


async def test_every_configured_channel_is_built(tmp_path: Path) -> None:
    settings = load_settings(
        x_consumer_key=x_api.CONSUMER_KEY,
        x_consumer_secret=x_api.CONSUMER_SECRET,
        x_access_token=x_api.ACCESS_TOKEN,
        x_access_token_secret=x_api.ACCESS_TOKEN_SECRET,
        x_api_url=UNUSED,
        facebook_page_id=facebook_api.PAGE_ID,
        facebook_page_token=facebook_api.PAGE_TOKEN,
        facebook_api_url=UNUSED,
        mastodon_url=UNUSED,
        mastodon_token=mastodon_api.TOKEN,
        bluesky_handle=bluesky_api.HANDLE,
        bluesky_app_password=bluesky_api.APP_PASSWORD,
        bluesky_api_url=UNUSED,
        feed_path=tmp_path / "feed.xml",
    )

    channels = build_channels(settings, timeout=1.0)

    assert [c.name for c in channels] == ["x", "facebook", "mastodon", "bluesky", "atom"]
    assert set(FACTORIES) == {c.name for c in channels}
    for channel in channels:
        await channel.aclose()


def test_without_credentials_only_the_feed_is_built() -> None:
    (channel,) = build_channels(load_settings(public_url="https://shortsci.example.org"))

    assert isinstance(channel, AtomChannel)
    assert channel.path == Path("feed.xml")


def test_telegram_comes_from_the_composition_root(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(telegram_token="123456:ABC-DEF1234ghIkl", telegram_channel="@shortsci")

    with caplog.at_level(logging.WARNING):
        assert [c.name for c in build_channels(settings)] == ["atom"]
    assert "telegram is configured but has no factory" in caplog.text

    def telegram(settings: object, timeout: float) -> Channel:
        return FakeTelegram()

    built = build_channels(settings, extra={"telegram": telegram})
    assert [c.name for c in built] == ["telegram", "atom"]


def test_a_factory_must_build_the_channel_it_is_named_for() -> None:
    settings = load_settings()

    with pytest.raises(ValueError, match="atom"):
        build_channels(settings, extra={"atom": lambda s, t: FakeTelegram()})
