"""Restoring the block structure of Markdown whose newlines were lost (scraped summaries).

Scraped ShortScience pages hold summaries flattened to one line: ``"... ## Key contributions *
Deep neural networks easily fit ..."``. ``restore_blocks`` puts headings, list items and quotes
back on lines of their own. It is a heuristic, tuned to be conservative: it never touches text
inside ``$...$`` formulas, backtick code or link targets; a ``*`` is a bullet only when what
follows looks like the start of an item (``2 * 3`` and ``a * b`` stay); a heading's text ends
at the next marker or, for a long run, before the first capitalised word that starts the
paragraph. Nesting of lists cannot be recovered. Lines that already start on their own are
left as they are.
"""

from __future__ import annotations

import bisect
import re

from markup.mathspans import find_math

__all__ = ["restore_blocks"]

_CANDIDATE = re.compile(r"(?:(?<=[ \t])|^)(#{1,6}|\*|>) (?=\S)")
_CODE = re.compile(r"(`+)[^\n]+?\1")
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
_SENTENCE_END = ".:!?;)%"
_LONG_HEADING_WORDS = 8
_PUNCTUATION = re.compile(r"[.!?:](?:\s|$)")
_WORD = re.compile(r"\S+")


class _Protected:
    """Merged, sorted spans of the text that restoring must not touch."""

    def __init__(self, text: str) -> None:
        spans = [(m.start, m.end) for m in find_math(text)]
        spans += [m.span() for m in _CODE.finditer(text)]
        spans += [m.span() for m in _LINK_TARGET.finditer(text)]
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def covers(self, pos: int) -> bool:
        k = bisect.bisect_right(self.starts, pos) - 1
        return k >= 0 and pos < self.ends[k]


def _space_start(text: str, pos: int) -> int:
    """The start of the run of spaces and tabs that ends at ``pos``."""
    while pos > 0 and text[pos - 1] in " \t":
        pos -= 1
    return pos


def _line_kind(text: str, pos: int) -> str:
    """The kind of block the line holding ``pos`` starts with."""
    line = text[text.rfind("\n", 0, pos) + 1 : pos].lstrip()
    if re.match(r"#{1,6} ", line):
        return "heading"
    if line.startswith(("* ", "- ", "+ ")):
        return "item"
    if line.startswith(">"):
        return "quote"
    return "para"


def _accept(text: str, pos: int, marker: str, kind: str) -> bool:
    """Decide whether a marker candidate at ``pos`` starts a block."""
    after = text[pos + len(marker) + 1]
    ws_start = _space_start(text, pos)
    before = text[ws_start - 1] if ws_start > 0 else ""
    if marker.startswith("#"):
        return not after.islower()
    if before.isdigit() and after.isdigit():
        return False
    if marker == ">" and (after.isdigit() or not (after.isalpha() or after in "\"'*_[`")):
        return False
    if kind == "heading" and marker == ">":
        return True
    return not after.islower() or (before != "" and before in _SENTENCE_END)


def _heading_end(text: str, start: int, end: int, protected: _Protected) -> int | None:
    """Where a heading's text stops inside ``text[start:end]``; ``None`` if it runs to ``end``."""
    segment = text[start:end]
    words = list(_WORD.finditer(segment))
    if len(words) <= _LONG_HEADING_WORDS and not _PUNCTUATION.search(segment):
        return None
    for word in words[1 : _LONG_HEADING_WORDS + 2]:
        if word.group().startswith(("**", "__")) and not protected.covers(start + word.start()):
            return start + word.start()
    for word in words[1:]:
        first = word.group()[0]
        if (
            first.isupper()
            and word.group() not in {"I", "I'm", "I've"}
            and not protected.covers(start + word.start())
        ):
            return start + word.start()
    return None


def restore_blocks(flat: str) -> str:
    """Put Markdown headings, list items and quotes of a flattened text back on their own lines.

    Args:
        flat: Markdown whose newlines were replaced by spaces.

    Returns:
        Markdown with a blank line around headings, a line break before each ``*`` item and
        a blank line before each ``>`` quote.
    """
    protected = _Protected(flat)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in order
    heading_from: int | None = None
    kind = "para"
    last = 0

    def close_heading(until: int) -> None:
        nonlocal heading_from
        if heading_from is not None:
            stop = flat.find("\n", heading_from, until)
            split = _heading_end(flat, heading_from, until if stop < 0 else stop, protected)
            if split is not None:
                ws_start = _space_start(flat, split)
                edits.append((ws_start, split, "\n\n"))
        heading_from = None

    for match in _CANDIDATE.finditer(flat):
        pos, marker = match.start(), match.group(1)
        if protected.covers(pos):
            continue
        if "\n" in flat[last:pos]:
            kind = _line_kind(flat, pos)
            if kind != "heading":
                heading_from = None
        last = pos
        if not _accept(flat, pos, marker, kind):
            continue
        close_heading(pos)
        ws_start = _space_start(flat, pos)
        if ws_start > 0 and flat[ws_start - 1] != "\n":
            edits.append((ws_start, pos, "\n" if marker == "*" else "\n\n"))
        if marker.startswith("#"):
            kind, heading_from = "heading", match.end()
        else:
            kind = "item" if marker == "*" else "quote"
    close_heading(len(flat))

    out: list[str] = []
    cursor = 0
    for start, end, replacement in sorted(edits):
        if start < cursor:
            continue
        out.append(flat[cursor:start])
        out.append(replacement)
        cursor = end
    out.append(flat[cursor:])
    return "".join(out)
