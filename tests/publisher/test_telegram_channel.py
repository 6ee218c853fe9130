"""The Telegram channel and the moderator notifier, through the Bot API emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from telegram import Bot

from bot.emulator import BotApiEmulator
from markup import restore_blocks
from publisher.channels.base import BadContent, Reauthenticate, RetryLater, UnknownOutcome
from publisher.channels.telegram import TelegramChannel
from publisher.compose import Source, compose_telegram
from publisher.notify import TelegramNotifier
from tests.seed import seed_paper

TOKEN = "6666666666:AAH_publisher-test-token-abcdefghijk"
LINK = "https://t.me/shortsci_test_bot?start=s_2"


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username="shortsci_test_bot") as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    client = Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url)
    async with client:
        yield client


def _resnet_post() -> object:
    seed = seed_paper("Deep Residual")
    source = Source(
        9, 2, seed.title, seed.authors, seed.year, ["cs.CV"], restore_blocks(seed.summary)
    )
    return compose_telegram(source, LINK)


async def test_posts_the_rendered_summary_to_the_channel(emu: BotApiEmulator, bot: Bot) -> None:
    channel_chat = emu.add_channel("ShortSci", "shortsci_feed")
    channel = TelegramChannel(bot, "@shortsci_feed")
    published = await channel.publish(_resnet_post())  # type: ignore[arg-type]
    [message] = emu.messages(channel_chat)
    assert published.external_id == str(message.message_id)
    assert published.url == f"https://t.me/shortsci_feed/{message.message_id}"
    text = message.text or ""
    assert text.startswith("📄 Deep Residual Learning for Image Recognition\nHe et al., 2015")
    assert "10⁻⁴" in text and "• CIFAR-10: 6.43%" in text
    assert text.endswith("Read and vote on ShortSci")
    assert emu.errors == []
    with pytest.raises(UnknownOutcome):
        await channel.find_existing(_resnet_post())  # type: ignore[arg-type]


async def test_errors_map_to_the_channel_contract(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_channel("ShortSci", "shortsci_feed")
    emu.add_channel("Not ours", "elsewhere", bot_is_admin=False)
    clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731
    channel = TelegramChannel(bot, "@shortsci_feed", clock=clock)
    emu.simulate_flood(retry_after=7)
    with pytest.raises(RetryLater) as flood:
        await channel.publish(_resnet_post())  # type: ignore[arg-type]
    assert flood.value.retry_at == datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)
    with pytest.raises(BadContent):
        await TelegramChannel(bot, "@no_such_channel").publish(_resnet_post())  # type: ignore[arg-type]
    with pytest.raises((Reauthenticate, BadContent)):
        await TelegramChannel(bot, "@elsewhere").publish(_resnet_post())  # type: ignore[arg-type]


async def test_notifier_reaches_every_moderator_and_survives_one_failing(
    emu: BotApiEmulator, bot: Bot
) -> None:
    present = emu.add_user("Mo", "mo")
    emu.private_chat(present)
    absent = emu.add_user("Ghost", "ghost")  # never opened a chat with the bot
    await TelegramNotifier(bot, [absent.id, present.id])("⛔ x is paused")
    [note] = emu.messages(present)
    assert note.text == "⛔ x is paused"
