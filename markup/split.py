"""Splitting Telegram HTML into messages that fit, each one balanced and valid on its own.

Telegram limits a message to 4096 characters *after entity parsing*: tags do not count, an
entity such as ``&amp;`` counts as the one character it stands for, and characters are counted
in UTF-16 code units (an emoji outside the BMP counts 2). ``telegram_length`` computes exactly
that, and ``split_html`` keeps every chunk within it (the raw HTML of a chunk may be longer).

Cuts are chosen on a ladder, as RSS-to-Telegram-Bot's splitter does: the last paragraph break
(blank line), else line break, else sentence end, else space that still leaves the chunk at
least a quarter full (never right after a heading, a line of bold text alone); failing that
the best one anywhere (a cut after a heading ranking as a line break); then a space inside a
link's text; and only for a single "word" longer than the limit, a grapheme boundary. A cut
never falls inside a tag or an entity, nor at a no-break space (formulas use those, see
:mod:`markup.markdown`). Tags open at a cut are closed at the end of the chunk and reopened,
with their attributes, at the start of the next. Whitespace at a cut is dropped.

A limit below 2 cannot hold a character outside the BMP; such a character then gets a chunk of
its own (the only case where a chunk exceeds the limit).
"""

from __future__ import annotations

import html as htmllib
import re
from typing import NamedTuple

import grapheme

from markup.length import utf16_length

__all__ = ["split_html", "telegram_length", "telegram_text"]

_TOKEN = re.compile(
    r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});|[^<&]|[<&]",
    re.S,
)
_ANY_TAG = re.compile(r"<[^<>]*>")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")
_SENTENCE_END = frozenset(".!?…")
_SEPARATOR_RANKS = (5, 4, 3, 2)  # blank line, line, sentence, word
_AFTER_HEADING_RANK = 1
_IN_LINK_RANK = 0


class _Unit(NamedTuple):
    """A tag, an entity or one character of the HTML."""

    raw: str
    text: str  # what Telegram shows ("" for a tag)
    size: int  # UTF-16 length of ``text``
    tag: str  # tag name, "" for text
    kind: int  # 0 text, 1 opening tag, -1 closing tag, 2 other tag


def _units(html: str) -> list[_Unit]:
    units: list[_Unit] = []
    for match in _TOKEN.finditer(html):
        raw = match.group()
        if raw.startswith("<") and len(raw) > 1:
            name = _TAG_NAME.match(raw)
            tag = name.group(1).lower() if name else ""
            kind = -1 if raw.startswith("</") else 2 if raw.endswith("/>") or not tag else 1
            units.append(_Unit(raw, "", 0, tag, kind))
        else:
            text = htmllib.unescape(raw) if raw.startswith("&") else raw
            units.append(_Unit(raw, text, utf16_length(text), "", 0))
    return units


def telegram_length(html: str) -> int:
    """Length of Telegram HTML as Telegram counts it: UTF-16 units of the text without tags."""
    return sum(unit.size for unit in _units(html))


def telegram_text(html: str) -> str:
    """The text Telegram shows for `html`: without tags, entities replaced, ends trimmed."""
    return htmllib.unescape(_ANY_TAG.sub("", html)).strip()


def _apply(stack: list[_Unit], unit: _Unit) -> None:
    """Update the stack of open tags with one unit."""
    if unit.kind == 1:
        stack.append(unit)
    elif unit.kind == -1:
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth].tag == unit.tag:
                del stack[depth:]
                break


def _is_space(unit: _Unit) -> bool:
    return unit.kind == 0 and unit.text.isspace() and unit.text != "\u00a0"


class _Cut(NamedTuple):
    end: int  # units[start:end] go into the chunk
    trim: bool  # drop trailing whitespace


def _hard_cut(units: list[_Unit], start: int, stop: int) -> int:
    """The last grapheme boundary in ``units[start:stop]`` (at least one unit is taken)."""
    offsets: list[int] = []  # code point offset of each unit from start
    text: list[str] = []
    total = 0
    for unit in units[start:stop]:
        offsets.append(total)
        text.append(unit.text)
        total += len(unit.text)
    boundaries = {0, total}
    position = 0
    for cluster in grapheme.graphemes("".join(text)):
        position += len(cluster)
        boundaries.add(position)
    for end in range(stop, start, -1):
        offset = total if end == stop else offsets[end - start]
        if offset in boundaries and offset > 0 and units[end - 1].kind != 1:
            return end
    return max(stop, start + 1)


def _next_cut(units: list[_Unit], start: int, limit: int) -> _Cut:
    """Find where the chunk starting at ``start`` should end."""
    best: dict[int, tuple[int, int]] = {}  # rank -> (end, visible length)
    size = 0
    in_link = 0
    run_newlines = 0
    after_space = False
    last_char = ""
    # A line of bold text alone is a heading: never end a chunk right after it.
    line_start, line_bold, last_solid = True, False, -1
    stop = len(units)
    for index in range(start, len(units)):
        unit = units[index]
        if (
            after_space
            and index > start
            and unit.kind != -1
            and units[index - 1].kind != 1
            and not _is_space(unit)
        ):
            heading = line_bold and last_solid >= 0 and units[last_solid].raw == "</b>"
            if in_link:
                rank = _IN_LINK_RANK
            elif run_newlines and heading:
                rank = _AFTER_HEADING_RANK
            elif run_newlines >= 2:
                rank = 5
            elif run_newlines == 1:
                rank = 4
            else:
                rank = 3 if last_char in _SENTENCE_END else 2
            best[rank] = (index, size)
        if unit.kind == 0:
            if size + unit.size > limit:
                stop = index
                break
            size += unit.size
            if _is_space(unit):
                if not after_space:
                    run_newlines = 0
                after_space = True
                run_newlines += unit.text.count("\n")
                line_start = line_start or "\n" in unit.text
                continue
            after_space = False
            last_char = unit.text
        elif unit.tag == "a":
            in_link += unit.kind if unit.kind in (1, -1) else 0
            in_link = max(in_link, 0)
        if line_start:
            line_start, line_bold = False, unit.raw == "<b>"
        last_solid = index
    else:
        return _Cut(len(units), trim=False)
    for rank in _SEPARATOR_RANKS:
        if rank in best and best[rank][1] * 4 >= limit:
            return _Cut(best[rank][0], trim=True)
    for rank in (5, 4, _AFTER_HEADING_RANK, 3, 2, _IN_LINK_RANK):
        if rank in best:
            return _Cut(best[rank][0], trim=True)
    return _Cut(_hard_cut(units, start, stop), trim=False)


_TAG = re.compile(r"<[^>]*>")


def split_html(html: str, limit: int = 4096) -> list[str]:
    """Split Telegram HTML into chunks of at most ``limit`` as Telegram counts them.

    Args:
        html: Telegram HTML, e.g. from :func:`markup.to_telegram_html`.
        limit: Maximum :func:`telegram_length` of each chunk (4096 for a message, 1024 for a
            media caption).

    Returns:
        The chunks, in order; chunks with no visible text are dropped, so ``[]`` for blank
        input.

    Raises:
        ValueError: If ``limit`` is smaller than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    if len(html) <= limit // 2 or len(html.encode("utf-16-le")) // 2 <= limit:
        # Tags and entities only add to the raw length: it fits whole (the common case).
        whole = html.strip()
        return [whole] if _TAG.sub("", whole).strip() else []
    units = _units(html)
    chunks: list[str] = []
    stack: list[_Unit] = []
    start = 0
    while start < len(units):
        cut = _next_cut(units, start, limit)
        body = units[start : cut.end]
        if cut.trim:
            body = _trim_trailing_space(body)
        opened = [unit.raw for unit in stack]
        for unit in units[start : cut.end]:
            _apply(stack, unit)
        closing = [f"</{unit.tag}>" for unit in reversed(stack)]
        if any(unit.kind == 0 and unit.text.strip() for unit in body):
            chunks.append("".join(opened) + "".join(unit.raw for unit in body) + "".join(closing))
        start = cut.end
    return chunks


def _trim_trailing_space(body: list[_Unit]) -> list[_Unit]:
    """Drop whitespace after the last visible character, keeping the tags there."""
    end = len(body)
    while end and (body[end - 1].kind != 0 or _is_space(body[end - 1])):
        end -= 1
    return body[:end] + [unit for unit in body[end:] if unit.kind != 0]
