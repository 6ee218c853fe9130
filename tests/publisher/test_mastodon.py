"""Mastodon specifics: the instance's own limit and the idempotency key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from publisher.channels.base import UnknownOutcome
from publisher.channels.mastodon import MastodonChannel
from tests.fakes.mastodon_api import TOKEN, FakeMastodon
from tests.publisher.harnesses import STALL, TIMEOUT, seed_post

ROUTE = "POST /api/v1/statuses"


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon(max_characters=1000) as server:
        yield server


@pytest.fixture
async def channel(fake: FakeMastodon) -> AsyncIterator[MastodonChannel]:
    built = MastodonChannel(api_url=fake.url, access_token=TOKEN, timeout=TIMEOUT)
    yield built
    await built.aclose()


async def test_the_instance_limit_replaces_the_default(
    fake: FakeMastodon, channel: MastodonChannel
) -> None:
    assert channel.limits.max_length == 500

    limits = await channel.refresh_limits()

    assert limits.max_length == channel.limits.max_length == 1000
    post = seed_post(3, channel.limits)  # Mask R-CNN, composed to the instance's 1000
    assert channel.limits.measure(post.text) > 500
    await channel.publish(post)
    assert [s.text for s in fake.statuses] == [post.text]


async def test_the_limit_is_read_once_on_first_use(
    fake: FakeMastodon, channel: MastodonChannel
) -> None:
    await channel.publish(seed_post(0, channel.limits))
    await channel.publish(seed_post(1, channel.limits))

    assert sum("instance" in r.path for r in fake.requests) == 1
    assert channel.limits.max_length == 1000


async def test_servers_without_v2_give_their_limit_through_v1() -> None:
    with FakeMastodon(max_characters=640, v2=False) as fake:
        channel = MastodonChannel(api_url=fake.url, access_token=TOKEN, timeout=TIMEOUT)
        assert (await channel.refresh_limits()).max_length == 640
        await channel.aclose()


def test_every_url_counts_23(channel: MastodonChannel) -> None:
    link = "https://shortsci.example.org/summaries/103?utm_source=mastodon&utm_medium=social"
    assert channel.limits.measure(f"Mask R-CNN {link}") == len("Mask R-CNN ") + 23


async def test_a_lost_answer_is_retried_with_the_same_key_and_posts_once(
    fake: FakeMastodon, channel: MastodonChannel
) -> None:
    post = seed_post(0, channel.limits)
    fake.stall_next(ROUTE, STALL)

    published = await channel.publish(post)

    posts = [r for r in fake.requests if r.line == ROUTE]
    keys = {r.headers["idempotency-key"] for r in posts}
    assert len(posts) == 2 and keys == {f"shortsci-pub-{post.publication_id}"}
    assert [(s.id, s.visibility) for s in fake.statuses] == [(published.external_id, "public")]
    assert published.url == f"{fake.url}/@shortsci/{published.external_id}"


async def test_a_repost_after_an_unknown_outcome_cannot_double(
    fake: FakeMastodon, channel: MastodonChannel
) -> None:
    post = seed_post(4, channel.limits)
    fake.stall_next(ROUTE, STALL, count=2)
    with pytest.raises(UnknownOutcome):
        await channel.publish(post)

    published = await channel.publish(post)  # the dispatcher tries again, same publication

    assert [s.id for s in fake.statuses] == [published.external_id]
