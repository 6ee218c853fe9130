"""Fixtures for the channel tests: each channel aimed at its fake, built fresh per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import bluesky_api, facebook_api, mastodon_api, x_api
from tests.fakes._server import FakeServer
from tests.publisher.harnesses import (
    AtomHarness,
    BlueskyHarness,
    FacebookHarness,
    Harness,
    MastodonHarness,
    XHarness,
)

NETWORK: dict[str, tuple[type[FakeServer], Callable[[Any], Harness]]] = {
    "x": (x_api.FakeX, XHarness),
    "facebook": (facebook_api.FakeFacebook, FacebookHarness),
    "mastodon": (mastodon_api.FakeMastodon, MastodonHarness),
    "bluesky": (bluesky_api.FakeBluesky, BlueskyHarness),
}


async def _harness(name: str, directory: Path) -> AsyncIterator[Harness]:
    if name == "atom":
        atom = AtomHarness(directory)
        yield atom
        await atom.channel.aclose()
        return
    fake_type, harness_type = NETWORK[name]
    with fake_type() as fake:
        harness = harness_type(fake)
        yield harness
        await harness.channel.aclose()


@pytest.fixture(params=list(NETWORK))
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """Each network channel with its fake."""
    async for value in _harness(request.param, tmp_path):
        yield value


@pytest.fixture(params=[*NETWORK, "atom"])
async def any_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """Every channel, the Atom feed included."""
    async for value in _harness(request.param, tmp_path):
        yield value
