"""X specifics: threads as reply chains (and resuming one), weighted length, limit headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from markup import to_plain_text
from publisher.channels.base import (
    DuplicateContent,
    Limits,
    Post,
    Reauthenticate,
    RetryLater,
    UnknownOutcome,
)
from publisher.channels.x import XChannel
from tests.fakes._server import Fault
from tests.fakes.x_api import FakeX, problem
from tests.publisher.harnesses import STALL, XHarness, seed_post
from tests.seed import seed_papers


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture
async def channel(fake: FakeX) -> AsyncIterator[XChannel]:
    built = XHarness(fake).channel
    assert isinstance(built, XChannel)
    yield built
    await built.aclose()


def thread_post(limits: Limits) -> Post:
    """Seed summary 3 (Mask R-CNN) cut at words: a main tweet with the link, two follow-ups."""
    post = seed_post(3, limits)
    tail = f"\n\n{post.link}"
    chunks: list[str] = []
    for word in to_plain_text(seed_papers()[3].summary).split():
        room = limits.max_length - (limits.measure(tail) if not chunks[1:] else 0)
        if chunks and limits.measure(f"{chunks[-1]} {word}") <= room:
            chunks[-1] = f"{chunks[-1]} {word}"
        elif len(chunks) == 3:
            break
        else:
            chunks.append(word)
    return replace(post, text=chunks[0] + tail, thread=(chunks[1], chunks[2]))


def chained(fake: FakeX) -> bool:
    """Whether each tweet after the first replies to the one before it."""
    return all(t.reply_to == p.id for p, t in zip(fake.tweets, fake.tweets[1:], strict=False))


async def test_a_thread_becomes_a_reply_chain(fake: FakeX, channel: XChannel) -> None:
    post = thread_post(channel.limits)

    published = await channel.publish(post)

    assert [t.original for t in fake.tweets] == [post.text, *post.thread]
    assert chained(fake) and fake.tweets[0].reply_to is None
    assert published.chain == tuple(t.id for t in fake.tweets)
    assert published.external_id == fake.tweets[0].id
    assert published.url == f"https://x.com/i/web/status/{fake.tweets[0].id}"
    # Every request carried a valid OAuth 1.0a signature over the fake's own URL.
    assert fake.oauth.verified == len(fake.requests) and fake.oauth.rejected == []


async def test_a_thread_broken_by_an_error_resumes_where_it_stopped(
    fake: FakeX, channel: XChannel
) -> None:
    post = thread_post(channel.limits)
    fake.inject(Fault("POST /2/tweets", reply=problem(503, "Service Unavailable", "x"), skip=1))

    with pytest.raises(RetryLater) as caught:
        await channel.publish(post)
    assert caught.value.posted == (fake.tweets[0].id,)

    published = await channel.publish(replace(post, resume_from=caught.value.posted))

    assert [t.original for t in fake.tweets] == [post.text, *post.thread]
    assert chained(fake)
    assert published.chain == tuple(t.id for t in fake.tweets)


async def test_a_thread_with_a_lost_answer_is_reconciled_then_resumed(
    fake: FakeX, channel: XChannel
) -> None:
    post = thread_post(channel.limits)
    fake.inject(Fault("POST /2/tweets", delay=STALL, skip=1))

    with pytest.raises(UnknownOutcome) as caught:
        await channel.publish(post)
    assert len(caught.value.posted) == 1

    found = await channel.find_existing(post)
    assert found is not None
    assert found.chain == (fake.tweets[0].id, fake.tweets[1].id)  # the lost one did go out

    published = await channel.publish(replace(post, resume_from=found.chain))

    assert [t.original for t in fake.tweets] == [post.text, *post.thread]
    assert chained(fake)
    assert published.chain == tuple(t.id for t in fake.tweets)


async def test_resuming_a_complete_thread_posts_nothing(fake: FakeX, channel: XChannel) -> None:
    post = thread_post(channel.limits)
    done = await channel.publish(post)
    requests = len(fake.requests)

    again = await channel.publish(replace(post, resume_from=done.chain))

    assert again == done
    assert len(fake.requests) == requests


async def test_the_spent_daily_limit_wins_over_the_window(fake: FakeX, channel: XChannel) -> None:
    reset = (datetime.now(UTC) + timedelta(hours=20)).replace(microsecond=0)
    fake.rate_limit_next(reset, daily=True)

    with pytest.raises(RetryLater) as caught:
        await channel.publish(seed_post(0, channel.limits))

    assert caught.value.retry_at == reset


async def test_a_duplicate_is_reported_and_reconciled(fake: FakeX, channel: XChannel) -> None:
    post = seed_post(1, channel.limits)
    first = await channel.publish(post)

    with pytest.raises(DuplicateContent):
        await channel.publish(replace(post, publication_id=post.publication_id + 1))

    assert await channel.find_existing(post) == first
    assert len(fake.tweets) == 1


async def test_an_app_without_write_permission_must_reauthenticate(
    fake: FakeX, channel: XChannel
) -> None:
    detail = (
        "Your client app is not configured with the appropriate oauth1 app permissions for "
        "this endpoint."
    )
    forbidden = problem(
        403, "Forbidden", detail, type="https://api.twitter.com/2/problems/oauth1-permissions"
    )
    fake.reply_next("POST /2/tweets", forbidden)

    with pytest.raises(Reauthenticate):
        await channel.publish(seed_post(0, channel.limits))


def test_length_is_weighted_as_x_counts(channel: XChannel) -> None:
    assert channel.limits.max_length == 280
    assert channel.limits.measure("量子もつれ") == 10  # CJK counts 2
    assert channel.limits.measure("see https://arxiv.org/abs/1703.06870v3") == 4 + 23


async def test_find_existing_sees_through_t_co_links(fake: FakeX, channel: XChannel) -> None:
    post = seed_post(2, channel.limits)
    published = await channel.publish(post)

    assert post.link not in fake.tweets[0].text  # followers see a t.co link
    assert await channel.find_existing(post) == published
