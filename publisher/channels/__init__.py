"""Publishing channels: one module per network behind `publisher.channels.base.Channel`.

`build_channels` is the registry: it builds every channel `Settings.enabled_channels` names,
from `FACTORIES`. A channel whose module lives elsewhere (``telegram``, which the bot side
owns) is passed in through ``extra``. Channel modules are imported only when built, so
importing `publisher.channels.base` stays cheap.

Every network channel maps failures the same way (each module's docstring has the details):

| what happened | error |
|---|---|
| nothing was sent: connection refused, DNS, connect timeout | `RetryLater` |
| rate limited (429, Graph codes 4/17/32/613/800xx) | `RetryLater` with the platform's reset |
| the service failed: 500, 502, 503 | `RetryLater` |
| sent, answer lost: read timeout, reset, 504 | `UnknownOutcome` (Mastodon retries once first) |
| token invalid or revoked | `Reauthenticate` (Bluesky logs in once more first) |
| content refused: 400, 403, 422 | `BadContent`; `DuplicateContent` for X 403 / Graph 506 |
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr

    from config.settings import Settings
    from publisher.channels.base import Channel

log = logging.getLogger(__name__)

#: Builds one channel from the settings, with a per-request network timeout in seconds.
ChannelFactory = Callable[["Settings", float], "Channel"]


def _secret(value: SecretStr | None) -> str:
    if value is None:
        raise ValueError("a channel was built without its credentials")
    return value.get_secret_value()


def _x(settings: Settings, timeout: float) -> Channel:
    from publisher.channels.x import XChannel

    return XChannel(
        consumer_key=_secret(settings.x_consumer_key),
        consumer_secret=_secret(settings.x_consumer_secret),
        access_token=_secret(settings.x_access_token),
        access_token_secret=_secret(settings.x_access_token_secret),
        api_url=settings.x_api_url,
        timeout=timeout,
    )


def _facebook(settings: Settings, timeout: float) -> Channel:
    from publisher.channels.facebook import FacebookChannel

    assert settings.facebook_page_id is not None
    return FacebookChannel(
        page_id=settings.facebook_page_id,
        page_token=_secret(settings.facebook_page_token),
        api_url=settings.facebook_api_url,
        timeout=timeout,
    )


def _mastodon(settings: Settings, timeout: float) -> Channel:
    from publisher.channels.mastodon import MastodonChannel

    assert settings.mastodon_url is not None
    return MastodonChannel(
        api_url=settings.mastodon_url,
        access_token=_secret(settings.mastodon_token),
        timeout=timeout,
    )


def _bluesky(settings: Settings, timeout: float) -> Channel:
    from publisher.channels.bluesky import BlueskyChannel

    assert settings.bluesky_handle is not None
    return BlueskyChannel(
        handle=settings.bluesky_handle,
        app_password=_secret(settings.bluesky_app_password),
        api_url=settings.bluesky_api_url,
        timeout=timeout,
    )


def _atom(settings: Settings, timeout: float) -> Channel:
    from publisher.channels.atom import AtomChannel

    return AtomChannel(path=settings.resolved_feed_path, public_url=settings.public_url)


#: The channels this package builds, by `Channel.name`.
FACTORIES: Mapping[str, ChannelFactory] = {
    "x": _x,
    "facebook": _facebook,
    "mastodon": _mastodon,
    "bluesky": _bluesky,
    "atom": _atom,
}


def build_channels(
    settings: Settings,
    *,
    extra: Mapping[str, ChannelFactory] | None = None,
    timeout: float = 30.0,
) -> list[Channel]:
    """Build every enabled channel, in the order `Settings.enabled_channels` lists them.

    Args:
        settings: the one settings object.
        extra: factories for channels defined outside this package, by name; the
            composition root passes ``{"telegram": ...}`` here.
        timeout: seconds each network channel waits for its platform per request.

    Returns:
        The channels; an enabled channel with no factory is left out with a warning.
    """
    factories = {**FACTORIES, **(extra or {})}
    channels = []
    for name in settings.enabled_channels():
        factory = factories.get(name)
        if factory is None:
            log.warning("channel %s is configured but has no factory; it stays off", name)
            continue
        channel = factory(settings, timeout)
        if channel.name != name:
            raise ValueError(f"the factory for {name!r} built a {channel.name!r} channel")
        channels.append(channel)
    log.info("channels: %s", ", ".join(c.name for c in channels) or "none")
    return channels
