"""Finding ``$...$`` and ``$$...$$`` formulas in prose, and the markdown-it plugin for them.

The delimiter rules are pandoc's, so prices survive: an opening ``$`` must be followed by a
non-space, a closing ``$`` must be preceded by a non-space and not followed by a digit, and
``\\$`` is a literal dollar. ``$$...$$`` (display math) may hold spaces next to its delimiters.
In Markdown the formulas are parsed as tokens of their own (``math_inline``, ``math_block``), so
code spans and code blocks are never touched and ``_`` or ``*`` inside a formula is not emphasis.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline

from markup.latex import latex_to_unicode

__all__ = ["MathSpan", "find_math", "math_plugin", "replace_math"]

_DOLLAR = re.compile(r"\$")
_DOUBLE = re.compile(r"\$\$")


class MathSpan(NamedTuple):
    """One formula found in a text: ``text[start:end]`` including its dollars."""

    start: int
    end: int
    source: str
    display: bool


def _escaped(src: str, pos: int) -> bool:
    """Whether ``src[pos]`` is preceded by an odd number of backslashes."""
    count = 0
    while pos - count - 1 >= 0 and src[pos - count - 1] == "\\":
        count += 1
    return count % 2 == 1


class _Scanner:
    """Matches formulas at given positions of one source string.

    As in pandoc, a formula closes at the first unescaped ``$`` (or ``$$``) after its opening;
    if that one cannot close (space before it, digit after it), there is no formula. Dollar
    positions are computed once per string and found by bisection, so scanning stays linear
    even for text full of ``$``.
    """

    def __init__(self, src: str) -> None:
        self.src = src
        self._single: list[int] | None = None
        self._double: list[int] | None = None

    def _singles(self) -> list[int]:
        if self._single is None:
            src = self.src
            self._single = [
                m.start() for m in _DOLLAR.finditer(src) if not _escaped(src, m.start())
            ]
        return self._single

    def _doubles(self) -> list[int]:
        if self._double is None:
            src = self.src
            self._double = [
                m.start() for m in _DOUBLE.finditer(src) if not _escaped(src, m.start())
            ]
        return self._double

    def match(self, pos: int, limit: int) -> MathSpan | None:
        """Return the formula opening at ``pos`` and closing before ``limit``, if any."""
        src = self.src
        if pos >= limit or src[pos] != "$" or _escaped(src, pos):
            return None
        if src.startswith("$$", pos):
            doubles = self._doubles()
            k = bisect.bisect_left(doubles, pos + 2)
            if k < len(doubles) and doubles[k] + 2 <= limit:
                end = doubles[k]
                if src[pos + 2 : end].strip():
                    return MathSpan(pos, end + 2, src[pos + 2 : end], True)
            return None
        if pos + 1 >= limit or src[pos + 1].isspace():
            return None
        singles = self._singles()
        k = bisect.bisect_left(singles, pos + 1)
        if k == len(singles) or singles[k] >= limit:
            return None
        end = singles[k]
        if end == pos + 1 or src[end - 1].isspace() or src[end + 1 : end + 2].isdigit():
            return None
        return MathSpan(pos, end + 1, src[pos + 1 : end], False)


def find_math(text: str) -> list[MathSpan]:
    """Find the formulas of a prose text (not Markdown-aware: code is not skipped)."""
    scanner = _Scanner(text)
    spans: list[MathSpan] = []
    pos = text.find("$")
    while pos >= 0:
        span = scanner.match(pos, len(text))
        if span is None:
            pos = text.find("$", pos + (2 if text.startswith("$$", pos) else 1))
        else:
            spans.append(span)
            pos = text.find("$", span.end)
    return spans


def replace_math(text: str, convert: Callable[[str], str] = latex_to_unicode) -> str:
    """Replace every formula of a prose text with ``convert(source)``; ``\\$`` becomes ``$``.

    Args:
        text: Plain prose (for Markdown, use the renderers: they skip code).
        convert: Maps a formula's LaTeX source to its replacement.

    Returns:
        The text with formulas converted and escaped dollars unescaped.
    """
    out: list[str] = []
    last = 0
    for span in find_math(text):
        out.append(_unescape_dollars(text[last : span.start]))
        out.append(convert(span.source))
        last = span.end
    out.append(_unescape_dollars(text[last:]))
    return "".join(out)


def _unescape_dollars(text: str) -> str:
    return text.replace("\\$", "$")


def _scanner_for(state: StateInline) -> _Scanner:
    """One scanner per inline source, cached in the parse environment."""
    cached = state.env.get("_markup_math_scanner")
    if isinstance(cached, _Scanner) and cached.src is state.src:
        return cached
    scanner = _Scanner(state.src)
    state.env["_markup_math_scanner"] = scanner
    return scanner


def _math_inline(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] != "$":
        return False
    span = _scanner_for(state).match(state.pos, state.posMax)
    if span is None:
        if not state.src.startswith("$$", state.pos) or state.pos + 2 > state.posMax:
            return False
        # An unclosed ``$$`` is text; consuming both keeps the second from opening a formula.
        if not silent:
            state.append_pending("$$")
        state.pos += 2
        return True
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = span.source
        token.markup = "$$" if span.display else "$"
    state.pos = span.end
    return True


def _math_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    begin = state.bMarks[start_line] + state.tShift[start_line]
    line_end = state.eMarks[start_line]
    if state.is_code_block(start_line) or not state.src.startswith("$$", begin):
        return False
    first = state.src[begin + 2 : line_end].rstrip()
    if first.endswith("$$") and "$$" not in first[:-2]:
        content, last_line = first[:-2], start_line
    else:
        if "$$" in first:
            return False
        last_line = start_line + 1
        lines = [first]
        while last_line < end_line:
            text = state.src[
                state.bMarks[last_line] + state.tShift[last_line] : state.eMarks[last_line]
            ].rstrip()
            if not text or state.sCount[last_line] < state.blkIndent:
                return False
            if text.endswith("$$"):
                lines.append(text[:-2])
                break
            if "$$" in text:
                return False
            lines.append(text)
            last_line += 1
        else:
            return False
        content = "\n".join(lines)
    if not content.strip():
        return False
    if silent:
        return True
    state.line = last_line + 1
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = content.strip()
    token.markup = "$$"
    token.map = [start_line, state.line]
    return True


def math_plugin(md: MarkdownIt) -> None:
    """Teach a markdown-it parser ``$...$``, ``$$...$$`` and ``$$`` display blocks."""
    md.inline.ruler.before("escape", "math_inline", _math_inline)
    md.block.ruler.before(
        "fence", "math_block", _math_block, {"alt": ["paragraph", "reference", "blockquote"]}
    )
