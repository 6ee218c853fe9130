"""A strict validator of Telegram Bot API HTML, written from the Bot API's formatting rules."""

from __future__ import annotations

import re

ALLOWED_SCHEMES = ("http://", "https://", "tg://", "mailto:")
INLINE = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "span"}
ALLOWED = INLINE | {"a", "code", "pre", "blockquote"}

_TOKEN = re.compile(
    r"<(?P<close>/?)(?P<name>[a-z][a-z-]*)(?P<attrs>(?:\s+[a-z-]+(?:=\"[^\"<>]*\")?)*)\s*>"
    r"|&(?P<entity>lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});"
    r"|(?P<text>[^<>&]+)"
    r"|(?P<bad>.)",
    re.S,
)
_ATTR = re.compile(r"\s+([a-z-]+)(?:=\"([^\"<>]*)\")?")
_ATTR_ENTITY = re.compile(r"&(?!(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)")


class InvalidTelegramHTML(AssertionError):
    """The HTML would be rejected (or misparsed) by Telegram."""


def _check_entity(entity: str) -> None:
    if entity.startswith("#"):
        value = int(entity[2:], 16) if entity[1:2] == "x" else int(entity[1:])
        if value == 0 or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise InvalidTelegramHTML(f"bad character reference &{entity};")


def _check_attrs(name: str, attrs: str, parent: str | None) -> None:
    pairs = _ATTR.findall(attrs)
    for _, value in pairs:
        if _ATTR_ENTITY.search(value):
            raise InvalidTelegramHTML(f"unescaped & in attribute of <{name}>")
    names = [key for key, _ in pairs]
    values = dict(pairs)
    if name == "a":
        if names != ["href"] or not values["href"].startswith(ALLOWED_SCHEMES):
            raise InvalidTelegramHTML(f"bad link attributes {attrs!r}")
    elif name == "code" and names:
        if names != ["class"] or not values["class"].startswith("language-") or parent != "pre":
            raise InvalidTelegramHTML(f"bad code attributes {attrs!r}")
    elif name == "span":
        if names != ["class"] or values["class"] != "tg-spoiler":
            raise InvalidTelegramHTML("span must be a tg-spoiler")
    elif name == "blockquote" and names not in ([], ["expandable"]):
        raise InvalidTelegramHTML(f"bad blockquote attributes {attrs!r}")
    elif name not in {"code", "span", "blockquote", "a"} and names:
        raise InvalidTelegramHTML(f"<{name}> takes no attributes")


def _check_nesting(name: str, stack: list[str]) -> None:
    if not stack:
        return
    parent = stack[-1]
    if parent == "code" or (parent == "pre" and name != "code"):
        raise InvalidTelegramHTML(f"<{name}> inside <{parent}>")
    if name == "a" and "a" in stack:
        raise InvalidTelegramHTML("link inside a link")
    if name == "blockquote" and "blockquote" in stack:
        raise InvalidTelegramHTML("nested blockquote")
    if name in {"pre", "blockquote"} and any(tag in INLINE | {"a", "code"} for tag in stack):
        raise InvalidTelegramHTML(f"<{name}> inside an inline entity")
    if name == "code" and parent != "pre" and any(tag in INLINE for tag in stack):
        raise InvalidTelegramHTML("code inside a formatting entity")


def validate_telegram_html(html: str) -> None:
    """Raise ``InvalidTelegramHTML`` unless ``html`` is valid Telegram HTML."""
    stack: list[str] = []
    for match in _TOKEN.finditer(html):
        if match.group("bad") is not None:
            raise InvalidTelegramHTML(f"stray {match.group('bad')!r} at {match.start()}")
        if match.group("entity") is not None:
            _check_entity(match.group("entity"))
            continue
        name = match.group("name")
        if name is None:
            continue
        if name not in ALLOWED:
            raise InvalidTelegramHTML(f"tag <{name}> not allowed")
        if match.group("close"):
            if not stack or stack[-1] != name:
                raise InvalidTelegramHTML(f"unbalanced </{name}> (open: {stack})")
            stack.pop()
            continue
        _check_nesting(name, stack)
        _check_attrs(name, match.group("attrs"), stack[-1] if stack else None)
        stack.append(name)
    if stack:
        raise InvalidTelegramHTML(f"unclosed tags {stack}")
