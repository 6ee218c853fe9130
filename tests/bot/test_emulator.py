"""A real python-telegram-bot Application, polling the Bot API emulator, as users see it."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.emulator import BotApiEmulator

TOKEN = "4242424242:AAE_emulator-test-token-0123456789ab"
ARXIV = "https://arxiv.org/abs/1706.03762"
TOTAL_RESULTS = 120
App = Application[Any, Any, Any, Any, Any, Any]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greets the user by name, in bold."""
    assert update.effective_message and update.effective_user
    await update.effective_message.reply_html(
        f"Hello, <b>{update.effective_user.first_name}</b>! Send me a paper."
    )


async def paper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows a paper with a link and a Like/Skip keyboard."""
    assert update.effective_message
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Like", callback_data="like:1706.03762"),
                InlineKeyboardButton("Skip", callback_data="skip:1706.03762"),
            ],
            [InlineKeyboardButton("arXiv", url=ARXIV)],
        ]
    )
    await update.effective_message.reply_html(
        f'<b>Attention Is All You Need</b> &amp; friends: <a href="{ARXIV}">abs</a>',
        reply_markup=keyboard,
    )


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers the press with a toast and replaces the keyboard by the choice."""
    query = update.callback_query
    assert query and query.data
    action = query.data.split(":")[0]
    await query.answer(f"You chose {action}")
    await query.edit_message_text(f"Chosen: <i>{action}</i>", parse_mode=ParseMode.HTML)


async def broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends what Telegram refuses: /broken html|div|long|data."""
    assert update.effective_message
    kind = context.args[0] if context.args else "html"
    if kind == "html":
        await update.effective_message.reply_html("<b>unclosed")
    elif kind == "div":
        await update.effective_message.reply_html("<div>block</div>")
    elif kind == "long":
        await update.effective_message.reply_text("x" * 4097)
    else:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Big", callback_data="d" * 65)]])
        await update.effective_message.reply_text("data", reply_markup=markup)


async def send_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends a small Markdown file."""
    assert update.effective_message
    await update.effective_message.reply_document(
        b"# Summary\n\nTransformers.",
        filename="summary.md",
        caption="Your <b>summary</b>",
        parse_mode=ParseMode.HTML,
    )


async def receive_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Downloads an uploaded document and reports its size and digest."""
    message = update.effective_message
    assert message and message.document
    data = await (await message.document.get_file()).download_as_bytearray()
    digest = hashlib.sha256(data).hexdigest()[:12]
    await message.reply_text(f"{message.document.file_name}: {len(data)} bytes, {digest}")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echoes plain text back."""
    assert update.effective_message and update.effective_message.text
    await update.effective_message.reply_text(update.effective_message.text)


async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Pages through TOTAL_RESULTS articles, 50 at a time."""
    query = update.inline_query
    assert query
    start_at = int(query.offset or 0)
    stop_at = min(start_at + 50, TOTAL_RESULTS)
    results = [
        InlineQueryResultArticle(
            id=f"{query.query}-{i}",
            title=f"{query.query} #{i}",
            input_message_content=InputTextMessageContent(
                f"<b>{query.query}</b> result {i}", parse_mode=ParseMode.HTML
            ),
        )
        for i in range(start_at, stop_at)
    ]
    next_offset = str(stop_at) if stop_at < TOTAL_RESULTS else ""
    await query.answer(results, next_offset=next_offset, cache_time=0)


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username="echo_test_bot") as emulator:
        yield emulator


@pytest.fixture
async def app(emu: BotApiEmulator) -> AsyncIterator[App]:
    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .rate_limiter(AIORateLimiter(max_retries=2))
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("paper", paper))
    application.add_handler(CommandHandler("broken", broken))
    application.add_handler(CommandHandler("file", send_file))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(InlineQueryHandler(inline))
    application.add_handler(MessageHandler(filters.Document.ALL, receive_file))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.bot_data["errors"] = []

    async def record(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        context.bot_data["errors"].append(context.error)

    application.add_error_handler(record)
    async with application:
        await application.start()
        assert application.updater
        await application.updater.start_polling(poll_interval=0, timeout=5)
        yield application
        await application.updater.stop()
        await application.stop()


async def test_start_replies_in_html(emu: BotApiEmulator, app: App) -> None:
    ada = emu.add_user("Ada", "ada")
    emu.send_text(ada, "/start")
    [reply] = await emu.wait_for_messages(ada, 1)
    assert reply.text == "Hello, Ada! Send me a paper."
    assert reply.html == "Hello, <b>Ada</b>! Send me a paper."
    assert reply.entities == [{"type": "bold", "offset": 7, "length": 3}]
    assert emu.calls_to("getMe") and emu.calls_to("deleteWebhook")
    assert emu.errors == []


async def test_echo_delivers_each_update_once(emu: BotApiEmulator, app: App) -> None:
    ada = emu.add_user("Ada")
    texts = [f"note {i} ✓ 🧪" for i in range(5)]
    for text in texts:
        emu.send_text(ada, text)
    replies = await emu.wait_for_messages(ada, 5)
    await emu.wait_for_delivery()
    assert [m.text for m in replies] == texts
    assert len(emu.messages(ada)) == 5
    assert emu.errors == []


async def test_buttons_answer_and_edit(emu: BotApiEmulator, app: App) -> None:
    ada = emu.add_user("Ada")
    emu.send_text(ada, "/paper 1706.03762")
    [card] = await emu.wait_for_messages(ada, 1)
    assert card.text == "Attention Is All You Need & friends: abs"
    assert {"type": "text_link", "offset": 37, "length": 3, "url": ARXIV} in card.entities
    assert [[b.text for b in row] for row in card.buttons] == [["Like", "Skip"], ["arXiv"]]
    assert card.buttons[1][0].url == ARXIV

    query_id = emu.press_button(ada, card, "like:1706.03762")
    answer = await emu.wait_for_callback_answer(query_id)
    assert (answer.text, answer.show_alert) == ("You chose like", False)
    await emu.wait_until(lambda: card.edit_date is not None, what="the edit")
    assert card.text == "Chosen: like"
    assert card.buttons == []  # editMessageText without reply_markup drops the keyboard
    assert [v.text for v in card.history] == ["Attention Is All You Need & friends: abs"]
    with pytest.raises(ValueError, match="no button"):
        emu.press_button(ada, card, "like:1706.03762")
    assert emu.errors == []


async def test_edit_to_same_content_is_not_modified(emu: BotApiEmulator, app: App) -> None:
    ada = emu.add_user("Ada")
    emu.send_text(ada, "/paper")
    [card] = await emu.wait_for_messages(ada, 1)
    await emu.wait_for_callback_answer(emu.press_button(ada, card, "skip:1706.03762"))
    await emu.wait_until(lambda: card.edit_date is not None)
    forged = emu.press_button(ada, card, "skip:1706.03762", forge=True)
    await emu.wait_for_callback_answer(forged)
    await emu.wait_until(lambda: bool(app.bot_data["errors"]), what="the error handler")
    [error] = app.bot_data["errors"]
    assert isinstance(error, BadRequest)
    assert str(emu.errors[-1].description).startswith("Bad Request: message is not modified")


@pytest.mark.parametrize(
    ("kind", "description"),
    [
        (
            "html",
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        ("div", 'Bad Request: can\'t parse entities: Unsupported start tag "div" at byte offset 0'),
        ("long", "Bad Request: message is too long"),
        ("data", "Bad Request: BUTTON_DATA_INVALID"),
    ],
)
async def test_refused_replies_surface_as_bad_request(
    emu: BotApiEmulator,
    app: App,
    kind: str,
    description: str,
) -> None:
    ada = emu.add_user("Ada")
    emu.send_text(ada, f"/broken {kind}")
    await emu.wait_until(lambda: bool(app.bot_data["errors"]), what="the error handler")
    [error] = app.bot_data["errors"]
    assert isinstance(error, BadRequest)
    assert [c.description for c in emu.errors] == [description]
    assert emu.messages(ada) == []


async def test_document_upload_and_download(emu: BotApiEmulator, app: App) -> None:
    ada = emu.add_user("Ada")
    content = b"%PDF-1.4 fake paper " * 100
    emu.send_document(ada, "paper.pdf", content, "application/pdf")
    [reply] = await emu.wait_for_messages(ada, 1)
    assert (
        reply.text == f"paper.pdf: {len(content)} bytes, {hashlib.sha256(content).hexdigest()[:12]}"
    )
    assert [c.method for c in emu.calls if c.method == "getFile"] == ["getFile"]

    emu.send_text(ada, "/file")
    [_, sent] = await emu.wait_for_messages(ada, 2)
    assert sent.document is not None
    assert sent.document.file_name == "summary.md"
    assert sent.document.content == b"# Summary\n\nTransformers."
    assert (sent.text, sent.html) == ("Your summary", "Your <b>summary</b>")
    assert emu.errors == []


async def test_inline_query_pages_of_fifty(emu: BotApiEmulator, app: App) -> None:
    ada = emu.add_user("Ada")
    first = await emu.wait_for_inline_answer(emu.inline_query(ada, "attention"))
    assert len(first.results) == 50
    assert first.next_offset == "50"
    assert first.results[0]["input_message_content"]["message_text"] == "<b>attention</b> result 0"
    last = await emu.wait_for_inline_answer(emu.inline_query(ada, "attention", offset="100"))
    assert [r["id"] for r in last.results] == [f"attention-{i}" for i in range(100, 120)]
    assert last.next_offset == ""
    assert emu.errors == []


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_is_retried_by_the_rate_limiter(emu: BotApiEmulator, app: App) -> None:
    ada = emu.add_user("Ada")
    emu.simulate_flood(retry_after=1, count=1, methods=["sendMessage"])
    emu.send_text(ada, "/start")
    [reply] = await emu.wait_for_messages(ada, 1, timeout=5)
    assert reply.text == "Hello, Ada! Send me a paper."
    assert [(c.status, c.description) for c in emu.calls_to("sendMessage")] == [
        (429, "Too Many Requests: retry after 1"),
        (200, None),
    ]
    assert emu.errors == [] and app.bot_data["errors"] == []


async def test_group_privacy_mode(emu: BotApiEmulator, app: App) -> None:
    ada, bob = emu.add_user("Ada", "ada"), emu.add_user("Bob", "bob")
    group = emu.add_group("Reading club", [ada, bob])
    emu.send_text(bob, "nice paper", chat=group)  # not for the bot: never delivered
    emu.send_text(ada, "@echo_test_bot hello", chat=group)
    [reply] = await emu.wait_for_messages(group, 1)
    assert reply.text == "@echo_test_bot hello"
    assert [m.text for m in emu.history(group)] == [
        "nice paper",
        "@echo_test_bot hello",
        "@echo_test_bot hello",
    ]
    assert emu.errors == []
