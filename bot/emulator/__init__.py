"""A Telegram Bot API emulator on 127.0.0.1 for tests and the local console chat.

A real ``telegram.ext.Application`` talks to it through
``ApplicationBuilder().base_url(emu.base_url).base_file_url(emu.base_file_url)``; the emulator
answers as api.telegram.org does (same envelopes, same error descriptions, same validation of
HTML, keyboards and inline results), and lets the test play the users::

    async with BotApiEmulator(bot_username="shortsci_bot") as emu:
        ada = emu.add_user("Ada", "ada")
        emu.send_text(ada, "/start")
        [reply] = await emu.wait_for_messages(ada, 1)
        assert emu.errors == []

Modules: ``server`` (routing, call log, flood simulation), ``emulator`` (the user side),
``methods``/``messaging`` (the Bot API methods), ``validate``/``entities`` (Telegram's rules),
``state`` (the in-memory world), ``httpserver`` (HTTP/1.1 on asyncio).

Errors on the wire::

    400 Bad Request: ...           validation (validate.py, entities.py, state lookups)
    401 Unauthorized               wrong token
    403 Forbidden: ...             blocked by the user / not a member
    404 Not Found: method not found
    409 Conflict: ...              two concurrent getUpdates, or getUpdates with a webhook set
    413 Request Entity Too Large   upload over 50 MB
    429 Too Many Requests: retry after N   only when simulate_flood() asks for it
"""

from bot.emulator.emulator import BotApiEmulator, ChatRef
from bot.emulator.entities import EntityParseError, find_entities, parse_html, utf16_len
from bot.emulator.errors import ApiError
from bot.emulator.httpserver import Upload
from bot.emulator.registry import Event
from bot.emulator.server import ApiCall, BotApiServer
from bot.emulator.state import (
    Button,
    CallbackAnswer,
    Chat,
    InlineAnswer,
    Message,
    StoredFile,
    Update,
    User,
    Version,
)

__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "BotApiServer",
    "Button",
    "CallbackAnswer",
    "Chat",
    "ChatRef",
    "EntityParseError",
    "Event",
    "InlineAnswer",
    "Message",
    "StoredFile",
    "Update",
    "Upload",
    "User",
    "Version",
    "find_entities",
    "parse_html",
    "utf16_len",
]
