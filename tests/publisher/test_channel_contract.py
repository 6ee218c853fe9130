"""The contract every channel keeps, checked against each platform's fake at the wire.

A follower must see each approved summary exactly once; the dispatcher must be told, by the
error's type, whether to retry, when, or to reconcile first; no secret ever leaks.
"""

from __future__ import annotations

import logging
import socket
import traceback
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from publisher.channels.base import (
    BadContent,
    ChannelError,
    Published,
    Reauthenticate,
    RetryLater,
    UnknownOutcome,
)
from tests.fakes._server import Fault
from tests.publisher.harnesses import STALL, Harness, seed_post


def _closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_publish_returns_the_id_and_url_the_platform_recorded(any_harness: Harness) -> None:
    post = seed_post(0, any_harness.channel.limits)

    published = await any_harness.channel.publish(post)

    assert any_harness.ids() == [published.external_id]
    assert any_harness.count(post.link) == 1
    assert published.url
    assert published.chain == ()


async def test_every_seed_summary_fits_and_is_posted_once(any_harness: Harness) -> None:
    posts = [seed_post(i, any_harness.channel.limits) for i in range(5)]

    published = [await any_harness.channel.publish(post) for post in posts]

    assert any_harness.ids() == [p.external_id for p in published]
    assert all(any_harness.count(post.link) == 1 for post in posts)


async def test_find_existing_finds_a_post_made_earlier(any_harness: Harness) -> None:
    earlier = seed_post(1, any_harness.channel.limits)
    published = await any_harness.channel.publish(earlier)
    await any_harness.channel.publish(seed_post(2, any_harness.channel.limits))

    found = await any_harness.channel.find_existing(earlier)

    assert found is not None
    assert found.external_id == published.external_id
    assert found.url


async def test_find_existing_is_none_when_the_post_is_absent(any_harness: Harness) -> None:
    await any_harness.channel.publish(seed_post(1, any_harness.channel.limits))

    assert await any_harness.channel.find_existing(seed_post(3, any_harness.channel.limits)) is None


async def test_rate_limit_says_when_to_come_back(harness: Harness) -> None:
    reset = (datetime.now(UTC) + timedelta(minutes=7)).replace(microsecond=0)
    expected = harness.rate_limit(reset)

    with pytest.raises(RetryLater) as caught:
        await harness.channel.publish(seed_post(0, harness.channel.limits))

    assert caught.value.retry_at is not None
    assert abs(caught.value.retry_at - expected) <= timedelta(seconds=2)
    assert harness.ids() == []


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_is_retry_later(harness: Harness, status: int) -> None:
    harness.fail(status)

    with pytest.raises(RetryLater):
        await harness.channel.publish(seed_post(0, harness.channel.limits))

    assert harness.ids() == []


async def test_gateway_timeout_is_an_unknown_outcome(harness: Harness) -> None:
    harness.fail(504, count=harness.attempts_when_ambiguous)

    with pytest.raises(UnknownOutcome):
        await harness.channel.publish(seed_post(0, harness.channel.limits))


async def test_timeout_after_sending_is_an_unknown_outcome_then_reconciled(
    harness: Harness,
) -> None:
    post = seed_post(0, harness.channel.limits)
    harness.fake.stall_next(harness.post_route, STALL, count=harness.attempts_when_ambiguous)

    with pytest.raises(UnknownOutcome):
        await harness.channel.publish(post)

    # The platform did act: reconciliation finds the one post instead of posting again.
    found = await harness.channel.find_existing(post)
    assert found is not None
    assert harness.ids() == [found.external_id]


async def test_connection_reset_after_sending_is_an_unknown_outcome(harness: Harness) -> None:
    post = seed_post(0, harness.channel.limits)
    harness.fake.reset_next(harness.post_route, count=harness.attempts_when_ambiguous)

    with pytest.raises(UnknownOutcome):
        await harness.channel.publish(post)

    assert harness.count(post.link) == 1


async def test_connection_refused_is_retry_later(harness: Harness) -> None:
    channel = harness.build(_closed_port_url())
    try:
        with pytest.raises(RetryLater):
            await channel.publish(seed_post(0, channel.limits))
    finally:
        await channel.aclose()


async def test_invalid_token_is_reauthenticate(harness: Harness) -> None:
    harness.revoke()

    with pytest.raises(Reauthenticate):
        await harness.channel.publish(seed_post(0, harness.channel.limits))

    assert harness.ids() == []


async def test_token_revoked_after_first_post_is_reauthenticate(harness: Harness) -> None:
    await harness.channel.publish(seed_post(0, harness.channel.limits))
    harness.revoke()

    with pytest.raises(Reauthenticate):
        await harness.channel.publish(seed_post(1, harness.channel.limits))
    with pytest.raises(Reauthenticate):
        await harness.channel.find_existing(seed_post(0, harness.channel.limits))


async def test_refused_content_is_bad_content(harness: Harness) -> None:
    post = seed_post(0, harness.channel.limits)
    await harness.channel.publish(post)
    refused, expected = harness.refusable(post)

    with pytest.raises(BadContent) as caught:
        await harness.channel.publish(refused)

    assert type(caught.value) is expected
    assert harness.count(post.link) == 1


async def test_find_existing_cannot_tell_when_the_platform_fails(harness: Harness) -> None:
    await harness.channel.publish(seed_post(0, harness.channel.limits))
    harness.fake.stall_next("GET", STALL, count=2)

    with pytest.raises(UnknownOutcome):
        await harness.channel.find_existing(seed_post(0, harness.channel.limits))


async def test_secrets_never_appear_in_errors_or_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ChannelError] = []
    results: list[Published] = []

    async def attempt(index: int) -> None:
        post = replace(seed_post(index % 5, harness.channel.limits), publication_id=index)
        try:
            results.append(await harness.channel.publish(post))
            await harness.channel.find_existing(post)
        except ChannelError as exc:
            errors.append(exc)

    await attempt(0)
    harness.rate_limit(datetime.now(UTC) + timedelta(minutes=5))
    await attempt(1)
    harness.fail(500)
    await attempt(2)
    harness.fake.inject(Fault(harness.post_route, delay=STALL), harness.attempts_when_ambiguous)
    await attempt(3)
    harness.fake.reset_next(harness.post_route, count=harness.attempts_when_ambiguous)
    await attempt(4)
    await attempt(10)  # a duplicate on some platforms
    harness.revoke()
    await attempt(5)

    assert len(results) >= 1 and len(errors) >= 5
    texts = ["".join(traceback.format_exception(e)) for e in errors]
    logs = caplog.text
    assert "publication" in logs
    for secret in harness.secrets:
        assert all(secret not in text for text in texts), harness.name
        assert secret not in logs, harness.name
