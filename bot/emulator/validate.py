"""Telegram's validation rules for what a bot sends, with Telegram's description strings.

Every function raises :class:`~bot.emulator.errors.ApiError` (400) on what real Telegram would
refuse. Parse modes: ``HTML`` is validated exactly (see :mod:`bot.emulator.entities`); no parse mode
means plain text (explicit ``entities`` are accepted as given). ``MarkdownV2`` and ``Markdown``
are refused with "unsupported parse_mode" by design: the emulator would otherwise have to accept
text it cannot prove Telegram accepts, and ShortSci renders HTML only.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.emulator.entities import EntityParseError, parse_html, strip_text, utf16_len
from bot.emulator.errors import ApiError, bad_request

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_INLINE_RESULTS = 50
MAX_RESULT_ID = 64
MAX_NEXT_OFFSET = 64
MAX_BUTTONS = 100
MAX_CALLBACK_ANSWER = 200
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_RESULT_TYPES = frozenset(
    {
        "article",
        "photo",
        "gif",
        "mpeg4_gif",
        "video",
        "audio",
        "voice",
        "document",
        "location",
        "venue",
        "contact",
        "game",
        "sticker",
    }
)


def formatted_text(
    raw: str | None,
    parse_mode: str | None,
    entities_json: Any = None,
    *,
    limit: int = MAX_TEXT,
    caption: bool = False,
    strict: bool = True,
) -> tuple[str, list[dict[str, Any]]]:
    """Validate a message text or caption; return what the user sees and its entities."""
    if raw is None or raw == "":
        if caption:
            return "", []
        raise bad_request("message text is empty")
    mode = (parse_mode or "").strip()
    if mode == "":
        text = raw
        entities = list(entities_json) if isinstance(entities_json, list) else []
    elif mode.lower() == "html":
        try:
            text, entities = parse_html(raw, strict=strict)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    else:
        raise bad_request("unsupported parse_mode")
    text, entities = strip_text(text, entities)
    if text == "" and not caption:
        raise bad_request("message text is empty")
    if utf16_len(text) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")
    return text, entities


def decode_json(value: Any, what: str) -> Any:
    """Decode a JSON-encoded form field; the error names ``what`` as Telegram does."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise bad_request(f"can't parse {what} JSON object") from None


def reply_markup(value: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
    """Validate a ``reply_markup`` field; return it decoded (None when absent)."""
    if value is None or value == "":
        return None
    markup = decode_json(value, "reply keyboard markup")
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        inline_keyboard(markup["inline_keyboard"])
        return markup
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise bad_request(
                        'can\'t parse keyboard button: Field "text" must be of type String'
                    )
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def inline_keyboard(rows: Any) -> None:
    """Validate the rows of an ``InlineKeyboardMarkup``."""
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            _inline_button(button)


def _inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [key for key in _BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"^(https?://[^\s/]+\S*|tg://\S+)$", url):
            raise bad_request("BUTTON_URL_INVALID")


def inline_results(value: Any, *, strict: bool = True) -> list[dict[str, Any]]:
    """Validate ``answerInlineQuery.results``; return them decoded."""
    results = decode_json(value, "inline query results")
    if not isinstance(results, list):
        raise bad_request("can't parse inline query results JSON object")
    if len(results) > MAX_INLINE_RESULTS:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict):
            raise bad_request("can't parse InlineQueryResult JSON object")
        if result.get("type") not in _RESULT_TYPES:
            raise bad_request("RESULT_TYPE_INVALID")
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= MAX_RESULT_ID:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result["type"] == "article" and not isinstance(result.get("title"), str):
            raise bad_request(
                'can\'t parse InlineQueryResult: Field "title" must be of type String'
            )
        content = result.get("input_message_content")
        if result["type"] == "article" and not isinstance(content, dict):
            raise bad_request(
                "can't parse InlineQueryResult: "
                'Field "input_message_content" must be of type Object'
            )
        if isinstance(content, dict) and "message_text" in content:
            formatted_text(
                content.get("message_text"),
                content.get("parse_mode"),
                content.get("entities"),
                strict=strict,
            )
        if "reply_markup" in result:
            reply_markup(result["reply_markup"], inline_only=True)
    return results


def next_offset(value: Any) -> str:
    """Validate ``answerInlineQuery.next_offset`` (at most 64 bytes)."""
    offset = "" if value is None else str(value)
    if len(offset.encode()) > MAX_NEXT_OFFSET:
        raise bad_request("NEXT_OFFSET_INVALID")
    return offset


def bot_commands(value: Any) -> list[dict[str, str]]:
    """Validate ``setMyCommands.commands``."""
    commands = decode_json(value, "bot commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse BotCommand array JSON object")
    if len(commands) > MAX_BUTTONS:
        raise bad_request("too many commands")
    result = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name = command.get("command")
        description = command.get("description")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        result.append({"command": name, "description": description})
    return result


def integer(params: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    """An integer parameter; Telegram answers "<name> is empty" when it is missing or bad."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"{name} is empty")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} is empty") from None


def number(params: dict[str, Any], name: str, default: float) -> float:
    """A float parameter with a default (timeouts)."""
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"wrong parameter {name}") from None


def callback_answer_text(value: Any) -> str | None:
    """Validate ``answerCallbackQuery.text`` (0-200 characters)."""
    if value is None:
        return None
    text = str(value)
    if len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    return text


def too_large() -> ApiError:
    """Telegram's answer to an upload over 50 MB."""
    return ApiError(413, "Request Entity Too Large")
