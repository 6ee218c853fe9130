"""An edited summary is edited in place on Telegram and in the feed; a deleted one is taken down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot

from bot.emulator import BotApiEmulator
from markup import restore_blocks
from publisher.channels.atom import AtomChannel
from publisher.channels.base import Channel
from publisher.channels.telegram import TelegramChannel
from publisher.channels.x import XChannel
from publisher.dispatcher import Dispatcher
from storage.catalog.arxiv_source import PaperData
from storage.catalog.store import store_paper
from storage.db import Database
from storage.summaries import delete_summary, edit_summary, submit_summary
from storage.users import ensure_user
from tests.fakes import x_api
from tests.seed import seed_paper

TOKEN = "7777777777:AAH_changes-test-token-abcdefghijk"


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username="shortsci_test_bot") as emulator:
        yield emulator


async def test_edits_and_deletions_reach_the_editable_channels(
    db: Database, emu: BotApiEmulator, tmp_path: Path
) -> None:
    feed_chat = emu.add_channel("ShortSci", "shortsci_feed")
    seed = seed_paper("Deep Residual")
    body = restore_blocks(seed.summary)
    async with db.transaction() as session:
        author = await ensure_user(session, 7, display_name="Author")
        paper = await store_paper(
            session, PaperData(seed.title, seed.authors, "manual", year=seed.year)
        )
        summary = await submit_summary(
            session, author, paper.id, body, moderated=False, channels=["telegram", "atom", "x"]
        )
    feed = tmp_path / "feed.xml"
    with x_api.FakeX() as fake_x:
        async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
            channels: dict[str, Channel] = {
                "telegram": TelegramChannel(bot, "@shortsci_feed"),
                "atom": AtomChannel(path=feed),
                "x": XChannel(
                    consumer_key=x_api.CONSUMER_KEY,
                    consumer_secret=x_api.CONSUMER_SECRET,
                    access_token=x_api.ACCESS_TOKEN,
                    access_token_secret=x_api.ACCESS_TOKEN_SECRET,
                    api_url=fake_x.url,
                    timeout=0.5,
                ),
            }
            dispatcher = Dispatcher(
                db, channels, lambda s: f"https://example.org/s/{s}", worker="w"
            )
            first = await dispatcher.run_once()
            assert first.outcomes == {n: {"posted": 1} for n in channels}

            async with db.transaction() as session:
                await edit_summary(
                    session, author, summary.id, body + "\n\n## Update\nThe code is public now."
                )
            edited = await dispatcher.run_once()
            assert edited.outcomes == {
                "telegram": {"update": 1},
                "atom": {"update": 1},
                "x": {"unchanged": 1},
            }
            [post] = emu.messages(feed_chat)
            assert post.history, "edited in place, not posted again"
            assert "The code is public now." in (post.text or "")
            assert "The code is public now." in feed.read_text(encoding="utf-8")
            assert len(fake_x.tweets) == 1

            async with db.transaction() as session:
                await delete_summary(session, author, summary.id)
            withdrawn = await dispatcher.run_once()
            assert withdrawn.outcomes["telegram"] == {"withdraw": 1}
            assert emu.messages(feed_chat) == []
            assert "Deep Residual" not in feed.read_text(encoding="utf-8")
            assert (await dispatcher.run_once()).outcomes == {}
            for channel in channels.values():
                await channel.aclose()
        assert emu.errors == []
