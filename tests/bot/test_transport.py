"""`bot.transport.AiohttpRequest` over real sockets: the Bot API emulator, small aiohttp
servers, a port that never answers and a port that refuses.

Where python-telegram-bot's default transport is the reference (errors, uploads, redirects),
the same test runs on both and compares.
"""

from __future__ import annotations

import re
import socket
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.emulator import BotApiEmulator
from bot.transport import AiohttpRequest, redact

TOKEN = "5151515151:AAF_transport-test-token-abcdefghi"
PRIVATE_TOKEN = "123456:SECRET-token-value"

Transport = Callable[[], BaseRequest]
TRANSPORTS: dict[str, Transport] = {
    "aiohttp": lambda: AiohttpRequest(pool_size=8),
    "httpx": lambda: HTTPXRequest(),  # python-telegram-bot's default, the reference
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ME = {"id": 123456, "is_bot": True, "first_name": "ShortSci", "username": "shortsci_test_bot"}
CHAT = {"id": 42, "type": "private", "first_name": "Ada"}


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username="transport_test_bot") as emulator:
        yield emulator


def emulator_bot(emu: BotApiEmulator, request: BaseRequest | None = None) -> Bot:
    return Bot(
        TOKEN,
        base_url=emu.base_url,
        base_file_url=emu.base_file_url,
        request=request or AiohttpRequest(),
        get_updates_request=AiohttpRequest(pool_size=1),
    )


@asynccontextmanager
async def web_server(handler: Handler) -> AsyncIterator[str]:
    """An aiohttp.web server on a free port answering every path with `handler`."""
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chain(error: BaseException) -> list[BaseException]:
    """The error and every exception linked to it, shown or not."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is not None and all(current is not s for s in seen):
            seen.append(current)
            todo += [current.__cause__, current.__context__]
    return seen


def assert_no_token(error: BaseException) -> None:
    assert error.__cause__ is None
    shown = "".join(traceback.format_exception(error))
    assert "SECRET" not in shown
    for linked in chain(error):
        assert "SECRET" not in str(linked)
        assert "SECRET" not in repr(linked)
        assert "SECRET" not in repr(getattr(linked, "args", ()))


# -- (a) a whole Bot on the emulator --------------------------------------------------------


async def test_bot_sends_a_message_with_a_keyboard(emu: BotApiEmulator) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("👍", callback_data="v:1:1")],
            [InlineKeyboardButton("arXiv", url="https://arxiv.org/abs/1706.03762")],
        ]
    )
    async with emulator_bot(emu) as bot:
        assert bot.username == "transport_test_bot"  # initialize: getMe over aiohttp
        sent = await bot.send_message(
            ada.id,
            "<b>Attention</b> is all you need — «ε» &amp; co",
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )
    assert isinstance(sent, Message)
    assert sent.text == "Attention is all you need — «ε» & co"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 9)]
    assert sent.reply_markup == keyboard
    [stored] = emu.messages(ada)
    assert stored.message_id == sent.message_id
    assert [[b.text for b in row] for row in stored.buttons] == [["👍"], ["arXiv"]]
    assert emu.errors == []


async def test_long_poll_outlasts_the_read_timeout(emu: BotApiEmulator) -> None:
    """python-telegram-bot adds the poll's timeout to the read timeout it passes."""
    ada = emu.add_user("Ada")
    async with Bot(
        TOKEN,
        base_url=emu.base_url,
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(pool_size=1, read_timeout=0.5),
    ) as bot:
        assert await bot.get_updates(timeout=1) == ()  # 1 s poll on a 0.5 s read timeout
        emu.send_text(ada, "/paper 1706.03762")
        [update] = await bot.get_updates(timeout=1)
    assert update.message is not None
    assert update.message.text == "/paper 1706.03762"


# -- (b) uploads ------------------------------------------------------------------------------

CONTENT = b"# Summary\r\n\x00\x01\xff--not-a-boundary\r\n\r\nend"


async def test_upload_reaches_the_emulator(emu: BotApiEmulator) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    async with emulator_bot(emu) as bot:
        sent = await bot.send_document(
            ada.id,
            InputFile(CONTENT, filename="summary.md"),
            caption="<b>Summary</b> of 1706.03762",
            parse_mode=ParseMode.HTML,
        )
        raw = await bot.send_document(ada.id, b"raw bytes", filename="raw.bin")
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.file_size) == ("summary.md", len(CONTENT))
    assert sent.caption == "Summary of 1706.03762"
    first, second = emu.calls_to("sendDocument")
    upload = first.files["document"]
    assert (upload.filename, upload.content) == ("summary.md", CONTENT)
    assert first.params["caption"] == "<b>Summary</b> of 1706.03762"
    assert (second.files["document"].filename, second.files["document"].content) == (
        "raw.bin",
        b"raw bytes",
    )
    assert raw.document is not None and raw.document.file_name == "raw.bin"
    assert emu.errors == []


def document_message(name: str, size: int) -> dict[str, Any]:
    document = {"file_id": "BQAC1", "file_unique_id": "AgAD1", "file_name": name}
    return {
        "ok": True,
        "result": {
            "message_id": 1,
            "date": 1764230400,
            "chat": CHAT,
            "from": ME,
            "document": document | {"file_size": size},
        },
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_upload_is_multipart_with_the_file_name_as_given(transport: str) -> None:
    """The bytes on the wire: one part per parameter, the file's name not percent-encoded."""
    received: list[tuple[str, bytes]] = []
    name = "summary 2024 – ε.md"

    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/getMe"):
            return web.json_response({"ok": True, "result": ME})
        received.append((request.headers["Content-Type"], await request.read()))
        return web.json_response(document_message(name, len(CONTENT)))

    async with (
        web_server(handler) as url,
        Bot(TOKEN, base_url=f"{url}/bot", request=TRANSPORTS[transport]()) as bot,
    ):
        sent = await bot.send_document(42, InputFile(CONTENT, filename=name), caption="hi")
    assert sent.document is not None and sent.document.file_name == name
    [(content_type, body)] = received
    match = re.fullmatch(r'multipart/form-data; ?boundary="?([^";]+)"?', content_type)
    assert match, content_type
    parts = {}
    for part in body.split(b"--" + match.group(1).encode())[1:-1]:
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-disposition")
        )
        field = re.search(rb'; name="([^"]+)"', disposition)
        assert field
        parts[field.group(1).decode()] = (disposition, value.removesuffix(b"\r\n"))
    assert parts["chat_id"][1] == b"42"
    assert parts["caption"][1] == b"hi"
    disposition, value = parts["document"]
    assert value == CONTENT
    assert f'filename="{name}"'.encode() in disposition  # UTF-8, not "summary%202024..."


# -- (c) timeouts ----------------------------------------------------------------------------


async def test_silent_server_times_out_within_the_read_timeout() -> None:
    request = AiohttpRequest()
    await request.initialize()
    try:
        with silent_port() as port:
            url = f"http://127.0.0.1:{port}/bot{PRIVATE_TOKEN}/getMe"
            started = time.monotonic()
            with pytest.raises(TimedOut) as raised:
                await request.post(url, read_timeout=0.3)
            elapsed = time.monotonic() - started
    finally:
        await request.shutdown()
    assert 0.3 <= elapsed < 2.0
    assert_no_token(raised.value)


async def test_default_read_timeout_applies_to_bot_calls() -> None:
    with silent_port() as port:
        bot = Bot(
            PRIVATE_TOKEN,
            base_url=f"http://127.0.0.1:{port}/bot",
            request=AiohttpRequest(read_timeout=0.3),
        )
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.initialize()  # getMe
        assert time.monotonic() - started < 2.0
        await bot.shutdown()


# -- (d) network errors without the token ----------------------------------------------------


async def test_refused_connection_is_a_network_error_without_the_token() -> None:
    bot = Bot(
        PRIVATE_TOKEN, base_url=f"http://127.0.0.1:{closed_port()}/bot", request=AiohttpRequest()
    )
    with pytest.raises(NetworkError) as raised:
        await bot.initialize()
    await bot.shutdown()
    error = raised.value
    assert not isinstance(error, TimedOut)
    assert "aiohttp.ClientConnectorError" in error.message
    assert_no_token(error)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"ftp://127.0.0.1/bot{PRIVATE_TOKEN}/getMe", "/bot<token>/getMe"),
        # python-telegram-bot also takes a base_url with the token anywhere (``{token}``)
        (f"ftp://gateway.example/tg/{PRIVATE_TOKEN}/getMe", "/tg/<token>/getMe"),
    ],
)
async def test_errors_that_quote_the_url_are_redacted(url: str, shown: str) -> None:
    """aiohttp puts the URL in some errors (here a scheme it cannot speak)."""
    request = AiohttpRequest(secret=PRIVATE_TOKEN)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(url)
    finally:
        await request.shutdown()
    assert shown in raised.value.message
    assert_no_token(raised.value)


# -- (e) redact -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"https://api.telegram.org/bot{PRIVATE_TOKEN}/sendMessage",
        f"https://api.telegram.org/file/bot{PRIVATE_TOKEN}/documents/file_7.pdf",
        f"Cannot connect: URL('http://127.0.0.1:8081/bot{PRIVATE_TOKEN}/getUpdates') refused",
        f"http://127.0.0.1:8081/bot{PRIVATE_TOKEN}",
    ],
)
def test_redact_removes_the_token(text: str) -> None:
    redacted = redact(text)
    assert "SECRET" not in redacted
    assert "123456" not in redacted
    assert "/bot<token>" in redacted
    assert redacted.startswith(text.split("/bot", 1)[0].removesuffix("/file"))


def test_redact_keeps_the_method_and_file_path() -> None:
    assert redact(f"https://api.telegram.org/bot{PRIVATE_TOKEN}/sendMessage") == (
        "https://api.telegram.org/bot<token>/sendMessage"
    )
    assert redact(f"http://h/file/bot{PRIVATE_TOKEN}/documents/file_7.pdf").endswith(
        "/bot<token>/documents/file_7.pdf"
    )
    assert redact("no url here") == "no url here"


# -- (f) Telegram's error answers, as with the default transport --------------------------


async def telegram_error(emu: BotApiEmulator, transport: str) -> TelegramError:
    ada = emu.add_user(f"Ada {transport}")
    emu.private_chat(ada)
    async with emulator_bot(emu, TRANSPORTS[transport]()) as bot:
        with pytest.raises(TelegramError) as raised:
            await bot.send_message(ada.id, "<b>unclosed", parse_mode=ParseMode.HTML)
    return raised.value


async def test_bad_request_is_the_same_on_both_transports(emu: BotApiEmulator) -> None:
    errors = [await telegram_error(emu, transport) for transport in TRANSPORTS]
    assert [type(e) for e in errors] == [BadRequest, BadRequest]
    assert errors[0].message == errors[1].message
    assert errors[0].message.startswith("Can't parse entities")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_flood_answer_becomes_retry_after(emu: BotApiEmulator, transport: str) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    async with emulator_bot(emu, TRANSPORTS[transport]()) as bot:
        emu.simulate_flood(retry_after=7, count=1)
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(ada.id, "hi")
        await bot.send_message(ada.id, "hi again")
    assert raised.value.message == "Flood control exceeded. Retry in 7 seconds"
    assert [m.text for m in emu.messages(ada)] == ["hi again"]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_http_errors_match_the_default_transport() -> None:
    """Telegram's JSON errors and a plain-text 502 from a proxy in front of it."""

    async def handler(request: web.Request) -> web.StreamResponse:
        method = request.path.rsplit("/", 1)[-1]
        if method == "getMe":
            return web.json_response({"ok": True, "result": ME})
        if method == "sendMessage":
            error = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            return web.json_response(error, status=400)
        if method == "sendPhoto":
            flood = {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }
            return web.json_response(flood, status=429)
        if method == "sendChatAction":  # a proxy in front of Telegram
            return web.Response(status=502, text="<html>Bad Gateway</html>")
        if method == "getChat":  # Telegram never redirects: not followed
            raise web.HTTPFound(f"{request.path}/elsewhere")
        return web.json_response({"ok": True, "result": CHAT})  # had it been followed

    async def outcome(bot: Bot, call: Callable[[Bot], Awaitable[Any]]) -> tuple[type, str]:
        with pytest.raises(TelegramError) as raised:
            await call(bot)
        return type(raised.value), raised.value.message

    calls: list[Callable[[Bot], Awaitable[Any]]] = [
        lambda bot: bot.send_message(42, "hi"),
        lambda bot: bot.send_photo(42, "AgACAgIAAxkBAAI"),
        lambda bot: bot.send_chat_action(42, "typing"),
        lambda bot: bot.get_chat(42),
    ]
    results: dict[str, list[tuple[type, str]]] = {}
    async with web_server(handler) as url:
        for transport, make in TRANSPORTS.items():
            async with Bot(TOKEN, base_url=f"{url}/bot", request=make()) as bot:
                results[transport] = [await outcome(bot, call) for call in calls]
    assert results["aiohttp"] == results["httpx"]
    kinds = [kind for kind, _ in results["aiohttp"]]
    assert kinds == [BadRequest, RetryAfter, NetworkError, NetworkError]
    assert results["aiohttp"][0][1] == "Chat not found"
    assert "Bad Gateway (502)" in results["aiohttp"][2][1]
    assert "Found (302)" in results["aiohttp"][3][1]


# -- (g) lifecycle ----------------------------------------------------------------------------


async def test_shutdown_then_request_fails_and_initialize_revives(emu: BotApiEmulator) -> None:
    request = AiohttpRequest()
    url = f"{emu.base_url}{TOKEN}/getMe"
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(url, "POST")
    await request.initialize()
    await request.initialize()  # twice is harmless
    me = await request.post(url)
    assert isinstance(me, dict) and me["username"] == "transport_test_bot"
    await request.shutdown()
    await request.shutdown()  # twice is harmless
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(url, "POST")
    await request.initialize()
    try:
        status, body = await request.do_request(url, "POST")
    finally:
        await request.shutdown()
    assert status == 200 and b'"transport_test_bot"' in body


async def test_bot_restarts_on_the_same_transport(emu: BotApiEmulator) -> None:
    ada = emu.add_user("Ada")
    emu.private_chat(ada)
    bot = emulator_bot(emu)
    for text in ("first life", "second life"):
        async with bot:
            await bot.send_message(ada.id, text)
    assert [m.text for m in emu.messages(ada)] == ["first life", "second life"]


# -- proxies from the environment, as httpx honours them ------------------------------------


async def test_http_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append(str(request.url))  # the absolute URL a proxy is asked for
        return web.json_response({"ok": True, "result": ME})

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    async with web_server(proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        async with Bot(
            TOKEN, base_url="http://api.telegram.invalid/bot", request=AiohttpRequest()
        ) as bot:
            assert bot.username == "shortsci_test_bot"
            await bot.get_me()
    assert seen == [f"http://api.telegram.invalid/bot{TOKEN}/getMe"] * 2
