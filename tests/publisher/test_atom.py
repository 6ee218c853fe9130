"""The Atom feed as a feed reader sees it: valid XML, edits, deletions, atomic writes."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from publisher.channels.atom import AtomChannel, entry_id
from publisher.channels.base import RetryLater
from tests.publisher.harnesses import ATOM, NOW, seed_post
from tests.seed import seed_papers

SITE = "https://shortsci.example.org"


@pytest.fixture
async def channel(tmp_path: Path) -> AsyncIterator[AtomChannel]:
    built = AtomChannel(path=tmp_path / "public" / "feed.xml", public_url=SITE)
    yield built
    await built.aclose()


def feed(channel: AtomChannel) -> ET.Element:
    """The feed as a reader parses it."""
    return ET.parse(channel.path).getroot()


def entries(channel: AtomChannel) -> list[ET.Element]:
    return feed(channel).findall(f"{ATOM}entry")


async def test_the_feed_is_valid_atom_with_the_full_summary(channel: AtomChannel) -> None:
    post = seed_post(1, channel.limits)

    published = await channel.publish(post)

    root = feed(channel)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None, required
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == f"{SITE}/feed.xml"  # type: ignore[union-attr]
    (entry,) = entries(channel)
    assert entry.findtext(f"{ATOM}id") == published.external_id == "tag:shortsci,2026:summary-101"
    assert entry.findtext(f"{ATOM}title") == "Deep Residual Learning for Image Recognition"
    assert entry.find(f"{ATOM}link").get("href") == post.link == published.url  # type: ignore[union-attr]
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert content.text == f"<p>{seed_papers()[1].summary}</p>"  # the whole summary, not a teaser
    assert entry.findtext(f"{ATOM}updated", "").startswith("2026-04-12T09:30:00")


async def test_an_edit_updates_the_entry_in_place(channel: AtomChannel) -> None:
    post = seed_post(0, channel.limits)
    await channel.publish(post)
    await channel.publish(seed_post(2, channel.limits))

    edited = replace(post, html="<p>Edited: memorisation.</p>", updated=NOW + timedelta(days=1))
    await channel.publish(edited)

    ids = [e.findtext(f"{ATOM}id") for e in entries(channel)]
    assert ids == [entry_id(100), entry_id(102)]  # the edited one is now the newest
    entry = entries(channel)[0]
    assert entry.findtext(f"{ATOM}content") == "<p>Edited: memorisation.</p>"
    assert entry.findtext(f"{ATOM}updated", "").startswith("2026-04-13")
    assert entry.findtext(f"{ATOM}published", "").startswith("2026-04-12")


async def test_a_deleted_summary_leaves_the_feed(channel: AtomChannel) -> None:
    for index in range(3):
        await channel.publish(seed_post(index, channel.limits))

    assert await channel.remove(101) is True
    assert await channel.remove(101) is False

    assert {e.findtext(f"{ATOM}id") for e in entries(channel)} == {entry_id(100), entry_id(102)}
    assert await channel.find_existing(seed_post(1, channel.limits)) is None


async def test_only_the_most_recent_entries_are_kept(tmp_path: Path) -> None:
    channel = AtomChannel(path=tmp_path / "feed.xml", max_entries=3)
    for index in range(5):
        post = seed_post(index, channel.limits)
        await channel.publish(replace(post, updated=NOW + timedelta(hours=index)))

    assert [e.findtext(f"{ATOM}id") for e in entries(channel)] == [
        entry_id(104),
        entry_id(103),
        entry_id(102),
    ]


async def test_writes_are_atomic_and_leave_no_temporary_files(channel: AtomChannel) -> None:
    await channel.publish(seed_post(0, channel.limits))

    # the feed, its sidecar, and the lock file several publisher processes share
    assert sorted(p.name for p in channel.path.parent.iterdir()) == [
        "feed.xml",
        "feed.xml.json",
        "feed.xml.lock",
    ]


async def test_a_failed_write_keeps_the_previous_feed(
    channel: AtomChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    await channel.publish(seed_post(0, channel.limits))
    before = channel.path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(RetryLater):
        await channel.publish(seed_post(1, channel.limits))

    assert channel.path.read_bytes() == before
    # the feed, its sidecar, and the lock file several publisher processes share
    assert sorted(p.name for p in channel.path.parent.iterdir()) == [
        "feed.xml",
        "feed.xml.json",
        "feed.xml.lock",
    ]


async def test_the_feed_can_be_regenerated_from_its_entries(channel: AtomChannel) -> None:
    await channel.publish(seed_post(0, channel.limits))
    await channel.publish(seed_post(3, channel.limits))
    ids = [e.findtext(f"{ATOM}id") for e in entries(channel)]
    channel.path.unlink()

    await channel.rebuild()

    assert [e.findtext(f"{ATOM}id") for e in entries(channel)] == ids


async def test_an_unreadable_sidecar_is_set_aside(channel: AtomChannel) -> None:
    await channel.publish(seed_post(0, channel.limits))
    channel.sidecar.write_text("{not json", encoding="utf-8")

    await channel.publish(seed_post(1, channel.limits))

    assert [e.findtext(f"{ATOM}id") for e in entries(channel)] == [entry_id(101)]
    assert channel.sidecar.with_name("feed.xml.json.corrupt").exists()
    assert json.loads(channel.sidecar.read_text())["entries"][0]["summary_id"] == 101
