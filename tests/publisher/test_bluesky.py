"""Bluesky specifics: clickable links (UTF-8 byte facets), graphemes, sessions, link cards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest

from publisher.channels.base import Post, Reauthenticate
from publisher.channels.bluesky import BlueskyChannel
from tests.fakes.bluesky_api import FakeBluesky
from tests.publisher.harnesses import BlueskyHarness, seed_post

LINK = "https://shortsci.example.org/summaries/104"


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    with FakeBluesky() as server:
        yield server


@pytest.fixture
async def channel(fake: FakeBluesky) -> AsyncIterator[BlueskyChannel]:
    built = BlueskyHarness(fake).channel
    assert isinstance(built, BlueskyChannel)
    yield built
    await built.aclose()


@pytest.mark.parametrize(
    "before",
    [
        "DCGAN 🧪👩‍🔬 ",  # emoji: 4 bytes each, a ZWJ sequence
        "深度卷积生成对抗网络 (DCGAN) — ",  # CJK: 3 bytes each
        "Ünsupervised rëpresentation: ",  # Latin with diacritics: 2 bytes
    ],
)
async def test_the_link_is_clickable_after_multibyte_text(
    fake: FakeBluesky, channel: BlueskyChannel, before: str
) -> None:
    post = Post(publication_id=1, summary_id=104, text=f"{before}{LINK}", link=LINK)

    await channel.publish(post)

    (stored,) = fake.posts
    assert stored.links() == [LINK]  # the facet's bytes are exactly the link
    (facet,) = stored.record["facets"]
    assert facet["index"]["byteStart"] == len(before.encode("utf-8")) != len(before)


async def test_every_url_in_the_text_is_clickable(
    fake: FakeBluesky, channel: BlueskyChannel
) -> None:
    arxiv = "https://arxiv.org/abs/1511.06434"
    text = f"DCGAN 🎨 ({arxiv}): a summary at {LINK}."
    await channel.publish(Post(publication_id=2, summary_id=104, text=text, link=LINK))

    assert fake.posts[0].links() == [arxiv, LINK]


async def test_the_post_has_a_link_card(fake: FakeBluesky, channel: BlueskyChannel) -> None:
    post = seed_post(4, channel.limits)

    published = await channel.publish(post)

    external = fake.posts[0].record["embed"]["external"]
    assert (external["uri"], external["title"]) == (post.link, post.title)
    assert published.external_id == fake.posts[0].uri
    assert (
        published.url
        == f"https://bsky.app/profile/{fake.posts[0].uri.split('/')[2]}/post/{fake.posts[0].rkey}"
    )


def test_length_counts_graphemes(channel: BlueskyChannel) -> None:
    assert channel.limits.max_length == 300
    assert channel.limits.measure("👩‍🔬🇪🇺é") == 3


async def test_an_expired_token_means_one_new_login(
    fake: FakeBluesky, channel: BlueskyChannel
) -> None:
    await channel.publish(seed_post(0, channel.limits))
    fake.expire_tokens()

    await channel.publish(seed_post(1, channel.limits))

    assert fake.sessions_created == 2
    assert len(fake.posts) == 2


async def test_a_session_near_expiry_is_refreshed_without_a_new_login() -> None:
    with FakeBluesky(token_lifetime=600) as fake:  # inside atproto's 15-minute margin
        channel = BlueskyHarness(fake).channel
        await channel.publish(seed_post(0, channel.limits))
        await channel.publish(seed_post(1, channel.limits))
        await channel.aclose()

    assert fake.sessions_created == 1
    assert any(r.path.endswith("refreshSession") for r in fake.requests)
    assert len(fake.posts) == 2


async def test_a_revoked_app_password_pauses_the_channel(
    fake: FakeBluesky, channel: BlueskyChannel
) -> None:
    await channel.publish(seed_post(0, channel.limits))
    fake.revoke()

    with pytest.raises(Reauthenticate):
        await channel.publish(seed_post(1, channel.limits))

    assert len(fake.posts) == 1


async def test_find_existing_reads_the_repo_not_the_appview(
    fake: FakeBluesky, channel: BlueskyChannel
) -> None:
    post = seed_post(2, channel.limits)
    published = await channel.publish(post)

    assert await channel.find_existing(replace(post, publication_id=9)) == published
    assert any("listRecords" in r.path for r in fake.requests)
