"""Message entities: Telegram's HTML parse mode, and the entities Telegram finds in user text.

:func:`parse_html` follows TDLib's ``parse_html`` (``td/telegram/MessageEntity.cpp``): the same tag
set, the same attribute grammar, the same error messages ("Unsupported start tag ...", "Can't
find end tag corresponding to start tag ..."). Offsets in entities are UTF-16 code units, as in
the Bot API; offsets in error messages are UTF-8 byte offsets, as in TDLib.

With ``strict=True`` (the default) it also enforces what the Bot API documentation asks and
TDLib tolerates: every ``&`` must start one of ``&lt; &gt; &amp; &quot;`` or a numeric reference,
terminated by ``;``, and ``>`` must be escaped. Those two messages are the emulator's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "blockquote",
        "tg-spoiler",
        "span",
        "tg-emoji",
    }
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
}
_SPACES = " \t\r\n\f\v\0"
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityParseError(ValueError):
    """Telegram's "can't parse entities" failure; ``str()`` is TDLib's detail message."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Bot API offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the result
    begin: int  # index in the result characters


def _decode_entity(text: str, pos: int) -> tuple[str | None, int, bool]:
    """Decode the character reference at ``text[pos] == "&"`` like TDLib does.

    Returns (character or None, end index, whether it was terminated by ``;``).
    """
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        hexadecimal = end < n and text[end] == "x"
        if hexadecimal:
            end += 1
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < n and text[end] in digits:
            value = value * (16 if hexadecimal else 10) + int(text[end], 16)
            end += 1
            if value >= 0x10FFFF:
                return None, pos, False
        if value == 0 or 0xD800 <= value <= 0xDFFF:
            return None, pos, False
        char = chr(value)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED.get(text[pos + 1 : end])
        if named is None:
            return None, pos, False
        char = named
    if end < n and text[end] == ";":
        return char, end + 1, True
    return char, end, False


def _check_link(url: str) -> str | None:
    """The normalized URL of a text link, or None when Telegram would drop the entity."""
    url = url.strip()
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    if match:
        scheme = match.group(1).lower()
        if scheme in ("tg", "ton"):
            return url
        if scheme not in ("http", "https"):
            return None
        rest = url[len(scheme) + 1 :]
        if not rest.startswith("//"):
            return None
        host = re.split(r"[/?#]", rest[2:], maxsplit=1)[0].rsplit("@", 1)[-1].split(":")[0]
        return url if host else None
    host = re.split(r"[/?#]", url, maxsplit=1)[0].split(":")[0]
    if "." in host and re.fullmatch(r"[A-Za-z0-9.-]+", host) and not host.endswith("."):
        return "http://" + url
    return None


def parse_html(text: str, *, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into plain text and Bot API ``MessageEntity`` dicts.

    Args:
        text: the ``text``/``caption`` as the bot sent it with ``parse_mode=HTML``.
        strict: also refuse unescaped ``&`` and ``>`` (see the module docstring).

    Returns:
        The text the user sees and its entities (UTF-16 offsets), sorted by offset.

    Raises:
        EntityParseError: with TDLib's detail message.
    """
    out: list[str] = []
    u16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0

    def byte_offset(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    def emit(chars: str) -> None:
        nonlocal u16
        out.append(chars)
        u16 += utf16_len(chars)

    def skip_spaces(index: int) -> int:
        while index < n and text[index] in _SPACES:
            index += 1
        return index

    while i < n:
        c = text[i]
        if c == "&":
            char, end, terminated = _decode_entity(text, i)
            if char is not None and (terminated or not strict):
                emit(char)
                i = end
                continue
            if strict:
                raise EntityParseError(
                    f'Character "&" must be escaped as "&amp;" at byte offset {byte_offset(i)}'
                )
        if c == ">" and strict:
            raise EntityParseError(
                f'Character ">" must be escaped as "&gt;" at byte offset {byte_offset(i)}'
            )
        if c != "<":
            emit(c)
            i += 1
            continue
        begin = i
        i += 1
        if i >= n or text[i] != "/":
            tag_end = i
            while tag_end < n and text[tag_end] not in _SPACES and text[tag_end] != ">":
                tag_end += 1
            if tag_end >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = text[i:tag_end].lower()
            if tag not in SUPPORTED_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}'
                )
            argument = ""
            i = tag_end
            while text[i] != ">":
                i = skip_spaces(i)
                if i >= n:
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                if text[i] == ">":
                    break
                name_begin = i
                while i < n and text[i] not in _SPACES and text[i] not in "=>":
                    i += 1
                name = text[name_begin:i]
                if not name:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{byte_offset(begin)}"
                    )
                i = skip_spaces(i)
                if tag == "blockquote" and name == "expandable" and i < n and text[i] != "=":
                    argument = "1"  # the one attribute Telegram accepts without a value
                    continue
                if i >= n or text[i] != "=":
                    raise EntityParseError(
                        f"Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {byte_offset(begin)}'
                    )
                i = skip_spaces(i + 1)
                if i >= n:
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                if text[i] not in "'\"":
                    token_begin = i
                    while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if i >= n or (text[i] not in _SPACES and text[i] != ">"):
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset "
                            f"{byte_offset(token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            char, end, _ = _decode_entity(text, i)
                            if char is not None:
                                chars.append(char)
                                i = end
                                continue
                        chars.append(text[i])
                        i += 1
                    value = "".join(chars)
                    if i < n:
                        i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {byte_offset(begin)}"
                    )
                if tag == "a" and name == "href":
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif (tag == "tg-emoji" and name == "emoji-id") or (
                    tag == "blockquote" and name == "expandable"
                ):
                    argument = value or "1"
            i += 1
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
                )
            stack.append(_Open(tag, argument, u16, len(out)))
            continue
        # An end tag.
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        i += 1
        name_begin = i
        while i < n and text[i] != ">" and text[i] not in _SPACES:
            i += 1
        end_name = text[name_begin:i]
        i = skip_spaces(i)
        if i >= n or text[i] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        i += 1
        opened = stack.pop()
        if end_name and end_name != opened.tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {byte_offset(begin)}, expected "
                f'"</{opened.tag}>", found "</{end_name}>"'
            )
        _close(opened, u16, "".join(out[opened.begin :]), entities)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close(opened: _Open, u16: int, inner: str, entities: list[dict[str, Any]]) -> None:
    """Turn a closed tag into an entity, as TDLib does at the end tag."""
    length = u16 - opened.offset
    if length == 0:
        return
    entity: dict[str, Any] = {"offset": opened.offset, "length": length}
    if opened.tag in _SIMPLE:
        entity["type"] = _SIMPLE[opened.tag]
    elif opened.tag == "a":
        url = _check_link(opened.argument or inner)
        if url is None:
            return
        entity.update(type="text_link", url=url)
    elif opened.tag == "pre":
        entity["type"] = "pre"
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == opened.offset
            and last["length"] == length
            and last.get("language")
        ):
            entities.pop()
            entity["language"] = last["language"]
    elif opened.tag == "tg-emoji":
        if not opened.argument.isdigit():
            raise EntityParseError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=opened.argument)
    else:  # blockquote
        entity["type"] = "expandable_blockquote" if opened.argument else "blockquote"
    if opened.tag == "code" and opened.argument:
        entity["language"] = opened.argument
    entities.append(entity)


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim leading and trailing whitespace as Telegram does, keeping entities aligned."""
    stripped = text.strip(" \t\r\n")
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip(" \t\r\n"))])
    size = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, size)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


_FOUND = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/]))"
    r"|(?P<mention>(?<![\w@])@[A-Za-z0-9_]{5,32}(?![\w@]))"
    r"|(?P<hashtag>(?<![\w#])#\w*[^\W\d]\w*)"
    r"|(?P<url>\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]'])"
)


def find_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram attaches to a user's plain text: commands, mentions, hashtags, URLs."""
    found = []
    for match in _FOUND.finditer(text):
        kind = match.lastgroup
        assert kind is not None
        found.append(
            {
                "type": kind,
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return found


def html_escape(text: str) -> str:
    """Escape text for Telegram HTML (the three characters Telegram requires)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
