"""The emulator's Bot API as python-telegram-bot's Bot (and raw httpx) sees it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.emulator import BotApiEmulator
from bot.emulator.messaging import NOT_MODIFIED

TOKEN = "5151515151:AAF_emulator-api-test-token-abcdefgh"


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username="api_test_bot") as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as client:
        yield client


async def refused(emu: BotApiEmulator, call: Awaitable[Any]) -> str | None:
    """Await a call PTB must refuse with BadRequest; return Telegram's exact description."""
    with pytest.raises(BadRequest):
        await call
    return emu.errors[-1].description


async def raw(emu: BotApiEmulator, method: str, data: dict[str, Any]) -> Any:
    """POST form data as PTB does, and return the decoded JSON answer."""
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{emu.base_url}{TOKEN}/{method}", data=data)
    return response.json()


def article(result_id: str) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(result_id, "title", InputTextMessageContent("text"))


async def test_get_updates_offset_confirms(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    for text in ("one", "two", "three"):
        emu.send_text(ada, text)
    first = await bot.get_updates(timeout=0)
    again = await bot.get_updates(timeout=0)  # nothing confirmed yet: the same updates
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert [u.update_id for u in again] == [u.update_id for u in first]
    limited = await bot.get_updates(offset=first[0].update_id + 1, limit=1, timeout=0)
    assert [u.message.text for u in limited if u.message] == ["two"]
    assert await bot.get_updates(offset=first[-1].update_id + 1, timeout=0) == ()
    assert emu.pending_updates == []


async def test_long_poll_returns_when_an_update_arrives(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.wait_until(lambda: len(emu.calls_to("getUpdates")) == 1, what="the poll")
    assert not poll.done()
    started = asyncio.get_running_loop().time()
    emu.send_text(ada, "/paper 1706.03762")
    [update] = await asyncio.wait_for(poll, 2)
    assert asyncio.get_running_loop().time() - started < 1
    assert update.message and update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/paper")


async def test_second_poll_terminates_the_first(emu: BotApiEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.wait_until(lambda: len(emu.calls_to("getUpdates")) == 1)
    async with Bot(TOKEN, base_url=emu.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)


async def test_stop_releases_pending_long_poll(bot: Bot) -> None:
    async with BotApiEmulator(token=TOKEN) as emu, Bot(TOKEN, base_url=emu.base_url) as other:
        poll = asyncio.create_task(other.get_updates(timeout=30))
        await emu.wait_until(lambda: len(emu.calls_to("getUpdates")) == 1)
        await emu.stop()
        assert await asyncio.wait_for(poll, 2) == ()


async def test_tokens_and_unknown_methods(emu: BotApiEmulator) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("1:wrong", base_url=emu.base_url):
            pass  # Bot.initialize() calls getMe
    assert emu.errors[-1].status == 401 and emu.errors[-1].description == "Unauthorized"
    assert await raw(emu, "sendPigeon", {"chat_id": 1}) == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }


async def test_message_validation_strings(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    cases = [
        (bot.send_message(ada.id, " \n "), "Bad Request: message text is empty"),
        (bot.send_message(999, "hi"), "Bad Request: chat not found"),
        (bot.send_message(ada.id, "🧪" * 2049), "Bad Request: message is too long"),
        (bot.edit_message_text("x", ada.id, 77), "Bad Request: message to edit not found"),
        (bot.delete_message(ada.id, 77), "Bad Request: message to delete not found"),
        (
            bot.send_message(ada.id, "*x*", parse_mode=ParseMode.MARKDOWN_V2),
            "Bad Request: unsupported parse_mode",
        ),
        (
            bot.send_message(ada.id, "AT&T", parse_mode=ParseMode.HTML),
            'Bad Request: can\'t parse entities: Character "&" must be escaped as "&amp;" '
            "at byte offset 2",
        ),
        (
            bot.answer_callback_query("12345"),
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ),
    ]
    for call, description in cases:
        with pytest.raises(BadRequest):
            await call
        assert emu.errors[-1].description == description
    # 4096 UTF-16 units exactly is fine: 2048 emoji outside the BMP.
    await bot.send_message(ada.id, "🧪" * 2048)
    assert len(emu.errors) == len(cases)


async def test_edit_delete_and_not_modified(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    sent = await bot.send_message(ada.id, "<i>draft</i>", parse_mode="HTML", reply_markup=keyboard)
    await bot.edit_message_text(
        "<i>final</i>", ada.id, sent.message_id, parse_mode="HTML", reply_markup=keyboard
    )
    assert (
        await refused(
            emu, bot.edit_message_reply_markup(ada.id, sent.message_id, reply_markup=keyboard)
        )
        == f"Bad Request: {NOT_MODIFIED}"
    )
    await bot.edit_message_reply_markup(ada.id, sent.message_id)
    [message] = emu.messages(ada)
    assert (message.text, message.buttons) == ("final", [])
    assert [v.text for v in message.history] == ["draft", "final"]
    assert await bot.delete_message(ada.id, sent.message_id)
    assert emu.messages(ada) == [] and emu.messages(ada, include_deleted=True)[0].deleted


async def test_keyboard_rules(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 33)]])
    assert (
        await refused(emu, bot.send_message(ada.id, "x", reply_markup=too_long))
        == "Bad Request: BUTTON_DATA_INVALID"
    )
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 32)]])
    await bot.send_message(ada.id, "x", reply_markup=fits)
    text_only = json.dumps({"inline_keyboard": [[{"text": "x"}]]})
    answer = await raw(
        emu, "sendMessage", {"chat_id": ada.id, "text": "x", "reply_markup": text_only}
    )
    assert answer == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard",
    }


async def test_inline_answer_rules(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    query = emu.inline_query(ada, "q")
    refusals = [
        ([article(str(i)) for i in range(51)], "", "RESULTS_TOO_MUCH"),
        ([article("a"), article("a")], "", "RESULT_ID_DUPLICATE"),
        ([article("x" * 65)], "", "RESULT_ID_INVALID"),
        ([article("a")], "9" * 65, "NEXT_OFFSET_INVALID"),
    ]
    for results, next_offset, detail in refusals:  # a refused answer leaves the query open
        answer = bot.answer_inline_query(query, results, next_offset=next_offset)
        assert await refused(emu, answer) == f"Bad Request: {detail}"
    assert await bot.answer_inline_query(query, [article(str(i)) for i in range(50)])
    assert await refused(emu, bot.answer_inline_query(query, [])) == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    [accepted] = emu.inline_answers
    assert (accepted.query, len(accepted.results)) == ("q", 50)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_gives_retry_after(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    emu.simulate_flood(retry_after=7, count=1)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(ada.id, "hi")
    assert raised.value.message == "Flood control exceeded. Retry in 7 seconds"
    await bot.send_message(ada.id, "hi")
    assert emu.errors == []


async def test_documents_limits_and_downloads(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    sent = await bot.send_document(ada.id, b"\x00\x01binary", filename="data.bin")
    assert sent.document and sent.document.file_size == 8
    file = await bot.get_file(sent.document.file_id)
    assert await file.download_as_bytearray() == b"\x00\x01binary"
    again = await bot.send_document(ada.id, sent.document.file_id)  # resend by file_id
    assert again.document and again.document.file_unique_id == sent.document.file_unique_id
    assert await refused(emu, bot.get_file("nope")) == "Bad Request: invalid file_id"
    with pytest.raises(NetworkError, match="Request Entity Too Large"):
        await bot.send_document(ada.id, b"x" * (50 * 1024 * 1024 + 1), filename="big.bin")


async def test_commands_actions_and_forbidden(emu: BotApiEmulator, bot: Bot) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    await bot.set_my_commands([BotCommand("paper", "Look up a paper")])
    assert [c.command for c in await bot.get_my_commands()] == ["paper"]
    assert emu.commands() == [{"command": "paper", "description": "Look up a paper"}]
    assert (
        await refused(emu, bot.set_my_commands([BotCommand("Paper!", "x")]))
        == "Bad Request: BOT_COMMAND_INVALID"
    )
    assert await bot.send_chat_action(ada.id, "typing")
    assert emu.world.chat_actions == [(ada.id, "typing")]
    emu.block_bot(ada)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ada.id, "hi")
    channel = emu.add_channel("ShortSci feed", "shortsci_feed")
    posted = await bot.send_message("@shortsci_feed", "<b>New</b> summary", parse_mode="HTML")
    assert posted.sender_chat and posted.sender_chat.id == channel.id
    assert [m.text for m in emu.messages(channel)] == ["New summary"]


async def test_keep_alive_reuses_one_connection(emu: BotApiEmulator) -> None:
    ports: set[int] = set()
    async with httpx.AsyncClient() as client:
        for _ in range(5):
            response = await client.post(f"{emu.base_url}{TOKEN}/getMe")
            assert response.json()["result"]["username"] == "api_test_bot"
            stream = response.extensions["network_stream"]
            ports.add(stream.get_extra_info("client_addr")[1])
    assert len(ports) == 1
