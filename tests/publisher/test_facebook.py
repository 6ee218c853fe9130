"""Facebook specifics: Graph error codes, usage headers, and the token kept out of URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from publisher.channels.base import BadContent, DuplicateContent, Reauthenticate, RetryLater
from publisher.channels.facebook import FacebookChannel
from tests.fakes.facebook_api import FEED, PAGE_TOKEN, FakeFacebook, graph_error
from tests.publisher.harnesses import NOW, FacebookHarness, seed_post


@pytest.fixture
def fake() -> Iterator[FakeFacebook]:
    with FakeFacebook() as server:
        yield server


@pytest.fixture
async def channel(fake: FakeFacebook) -> AsyncIterator[FacebookChannel]:
    built = FacebookHarness(fake).channel
    assert isinstance(built, FacebookChannel)
    yield built
    await built.aclose()


async def test_the_post_carries_message_and_link(
    fake: FakeFacebook, channel: FacebookChannel
) -> None:
    post = seed_post(2, channel.limits)

    published = await channel.publish(post)

    assert [(p.message, p.link) for p in fake.posts] == [(post.text, post.link)]
    assert published.external_id == fake.posts[0].id
    assert published.url == f"https://www.facebook.com/{fake.posts[0].id}"
    found = await channel.find_existing(post)
    assert found is not None and found.url == fake.posts[0].view(["permalink_url"])["permalink_url"]


async def test_the_token_never_travels_in_a_url(
    fake: FakeFacebook, channel: FacebookChannel
) -> None:
    post = seed_post(0, channel.limits)
    await channel.publish(post)
    await channel.find_existing(post)

    post_request, feed_request = fake.requests
    assert PAGE_TOKEN not in post_request.path and "access_token" not in post_request.query
    assert post_request.form()["access_token"] == PAGE_TOKEN
    assert PAGE_TOKEN not in feed_request.path and "access_token" not in feed_request.query
    assert feed_request.headers["authorization"] == f"Bearer {PAGE_TOKEN}"


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
async def test_rate_limit_codes_wait_as_the_business_usage_header_says(
    fake: FakeFacebook, channel: FacebookChannel, code: int
) -> None:
    fake.rate_limit_next(code, regain_minutes=12)

    with pytest.raises(RetryLater) as caught:
        await channel.publish(seed_post(0, channel.limits))

    assert caught.value.retry_at == NOW + timedelta(minutes=12)


async def test_page_usage_header_gives_the_wait(
    fake: FakeFacebook, channel: FacebookChannel
) -> None:
    fake.rate_limit_next(32, regain_minutes=3, header="page")

    with pytest.raises(RetryLater) as caught:
        await channel.publish(seed_post(0, channel.limits))

    assert caught.value.retry_at == NOW + timedelta(minutes=3)


async def test_app_usage_at_full_waits_the_rolling_hour(
    fake: FakeFacebook, channel: FacebookChannel
) -> None:
    fake.rate_limit_next(4, header="app")

    with pytest.raises(RetryLater) as caught:
        await channel.publish(seed_post(0, channel.limits))

    assert caught.value.retry_at == NOW + timedelta(hours=1)


async def test_a_temporary_block_backs_off_for_hours(
    fake: FakeFacebook, channel: FacebookChannel
) -> None:
    fake.block_next()

    with pytest.raises(RetryLater) as caught:
        await channel.publish(seed_post(0, channel.limits))

    assert caught.value.retry_at == NOW + timedelta(hours=6)


async def test_a_duplicate_message_is_reported_and_reconciled(
    fake: FakeFacebook, channel: FacebookChannel
) -> None:
    post = seed_post(1, channel.limits)
    first = await channel.publish(post)

    with pytest.raises(DuplicateContent):
        await channel.publish(replace(post, publication_id=post.publication_id + 1))

    found = await channel.find_existing(post)
    assert found is not None and found.external_id == first.external_id
    assert len(fake.posts) == 1


async def test_an_invalid_parameter_is_bad_content(channel: FacebookChannel) -> None:
    with pytest.raises(BadContent):
        await channel.publish(replace(seed_post(0, channel.limits), text="", link=""))


async def test_a_missing_permission_must_reauthenticate(
    fake: FakeFacebook, channel: FacebookChannel
) -> None:
    denied = graph_error(200, "(#200) The user hasn't authorized the application")
    fake.reply_next(f"POST {FEED}", denied)

    with pytest.raises(Reauthenticate):
        await channel.publish(seed_post(0, channel.limits))
