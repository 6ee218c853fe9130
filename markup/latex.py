"""LaTeX math to readable Unicode.

``latex_to_unicode`` reads the source between the dollars of a formula and writes what a reader
would see: Greek letters, arrows, relations and operators as Unicode symbols, ``\\mathbb{R}`` as
ℝ, scripts as Unicode super/subscripts where every character has one (``10^{-4}`` -> 10⁻⁴,
``x_i`` -> xᵢ) and as ``^(...)``/``_(...)`` otherwise (``p_c`` stays ``p_c``), fractions as
``a/b`` or ``(a+b)/(c+d)``, roots as √, accents as combining marks. Unknown commands keep their
name without the backslash. It never raises: unbalanced braces, stray scripts and deep nesting
degrade to plain text.
"""

from __future__ import annotations

import re
import unicodedata

from markup._latex_tables import (
    ACCENTS,
    ALPHABETS,
    DROPPED,
    ESCAPED,
    GREEK,
    SUBSCRIPTS,
    SUPERSCRIPTS,
    SYMBOLS,
    WORDS,
    WRAPPERS,
)

__all__ = ["latex_to_unicode"]

# Deeper groups and command arguments are flattened instead of recursed into.
_MAX_DEPTH = 24

_NEGATED = {
    "=": "≠",
    "∈": "∉",
    "≡": "≢",
    "<": "≮",
    ">": "≯",
    "≤": "≰",
    "≥": "≱",
    "⊂": "⊄",
    "⊆": "⊈",
    "∼": "≁",
    "≈": "≉",
    "∃": "∄",
    "∣": "∤",
    "|": "∤",
}
_ROOTS = {"2": "√", "3": "∛", "4": "∜"}
_SPACES = re.compile(r"\s+")
# Control words that glue to what follows (``\partial x`` reads ∂x).
_PREFIX_SYMBOLS = frozenset({"partial", "nabla", "neg", "lnot"})
_ATOMIC_EXTRA = (
    frozenset(".′'∂∇∞") | frozenset(SUPERSCRIPTS.values()) | frozenset(SUBSCRIPTS.values())
)


def latex_to_unicode(src: str) -> str:
    """Convert LaTeX math (without its dollars) to readable Unicode text.

    Args:
        src: The formula source, e.g. ``"\\mathbb{R}^d"``.

    Returns:
        A single-line Unicode rendering in NFC (``\\hat{y}`` is ŷ), e.g. ``"ℝᵈ"``; runs of
        spaces are collapsed.
    """
    try:
        out = _Converter(src).sequence(0, closing=False)
    except Exception:  # pragma: no cover - defensive: user input must never crash a render
        out = src
    return unicodedata.normalize("NFC", _SPACES.sub(" ", out).strip())


class _Converter:
    """A single-pass recursive-descent reader over the formula source."""

    def __init__(self, src: str) -> None:
        self.s = src
        self.i = 0
        self.n = len(src)

    def sequence(self, depth: int, *, closing: bool) -> str:
        """Read items until the end or, if ``closing``, the matching ``}``."""
        out: list[str] = []
        flat_braces = 0  # beyond _MAX_DEPTH, braces are counted instead of recursed into
        while self.i < self.n:
            c = self.s[self.i]
            if c == "}":
                self.i += 1
                if flat_braces:
                    flat_braces -= 1
                elif closing:
                    break
            elif c == "{":
                self.i += 1
                if depth >= _MAX_DEPTH:
                    flat_braces += 1
                else:
                    out.append(self.sequence(depth + 1, closing=True))
            elif c in "^_":
                self.i += 1
                arg = self.argument(depth)
                if arg is None:
                    out.append(c)
                else:
                    out.append(_script(arg, SUPERSCRIPTS if c == "^" else SUBSCRIPTS, c))
            elif c == "\\":
                out.append(self.command(depth))
            elif c == "&" or c == "~":
                self.i += 1
                out.append(" ")
            elif c.isspace():
                self._skip_spaces()
                out.append(" ")
            else:
                self.i += 1
                out.append(c)
        return "".join(out)

    def _skip_spaces(self) -> None:
        while self.i < self.n and self.s[self.i].isspace():
            self.i += 1

    def argument(self, depth: int) -> str | None:
        """Read one argument: a ``{group}``, a command or a single character."""
        self._skip_spaces()
        if self.i >= self.n or self.s[self.i] == "}":
            return None
        c = self.s[self.i]
        if c == "{":
            self.i += 1
            if depth >= _MAX_DEPTH:
                return self._raw_group()
            return self.sequence(depth + 1, closing=True)
        if c == "\\":
            return self.command(depth + 1)
        self.i += 1
        return c

    def _raw_group(self) -> str:
        """Skip to the matching ``}`` without recursion, returning the text with braces dropped."""
        level, start = 1, self.i
        while self.i < self.n and level:
            level += {"{": 1, "}": -1}.get(self.s[self.i], 0)
            self.i += 1
        return self.s[start : self.i].replace("{", "").replace("}", "").replace("\\", "")

    def _optional(self, depth: int) -> str | None:
        """Read an optional ``[...]`` argument if one follows."""
        self._skip_spaces()
        if self.i >= self.n or self.s[self.i] != "[":
            return None
        end = self.s.find("]", self.i)
        if end < 0:
            return None
        inner = _Converter(self.s[self.i + 1 : end])
        self.i = end + 1
        return inner.sequence(_MAX_DEPTH if depth >= _MAX_DEPTH else depth + 1, closing=False)

    def command(self, depth: int) -> str:
        """Read a backslash command and its arguments."""
        self.i += 1
        if self.i >= self.n:
            return ""
        c = self.s[self.i]
        if not (c.isascii() and c.isalpha()):
            self.i += 1
            return ESCAPED.get(c, c)
        start = self.i
        while self.i < self.n and self.s[self.i].isascii() and self.s[self.i].isalpha():
            self.i += 1
        name = self.s[start : self.i]
        if self.i < self.n and self.s[self.i] == "*":  # \operatorname*, \begin{align*} ...
            self.i += 1
        return self._dispatch(name, depth)

    def _dispatch(self, name: str, depth: int) -> str:
        if name in GREEK:
            return GREEK[name]
        if name in SYMBOLS:
            if name in _PREFIX_SYMBOLS:
                self._skip_spaces()
            return SYMBOLS[name]
        if name in WORDS:
            return name
        if name in DROPPED:
            self._skip_spaces()
            if name in {"left", "right", "middle"} and self.s.startswith(".", self.i):
                self.i += 1
            return ""
        if depth >= _MAX_DEPTH:
            return name
        if name in WRAPPERS:
            return self.argument(depth) or ""
        if name in ALPHABETS:
            table = ALPHABETS[name]
            return "".join(table.get(ch, ch) for ch in self.argument(depth) or "")
        if name in ACCENTS:
            mark = ACCENTS[name]
            return "".join(ch + mark if ch.isalnum() else ch for ch in self.argument(depth) or "")
        if name in {"frac", "dfrac", "tfrac", "cfrac"}:
            num, den = self.argument(depth) or "", self.argument(depth) or ""
            return f"{_wrap(num)}/{_wrap(den)}"
        if name in {"binom", "dbinom", "tbinom", "choose"}:
            top, bottom = self.argument(depth) or "", self.argument(depth) or ""
            return f"({top.strip()} choose {bottom.strip()})"
        if name == "sqrt":
            index = (self._optional(depth) or "").strip()
            body = self.argument(depth) or ""
            if index in _ROOTS or not index:
                root = _ROOTS.get(index or "2", "√")
            else:
                root = _script(index, SUPERSCRIPTS, "^") + "√"
            return root + _wrap(body)
        if name == "not":
            arg = (self.argument(depth) or "").strip()
            return _NEGATED.get(arg, arg + "\u0338" if arg else "")
        if name in {"begin", "end"}:
            env = self.argument(depth) or ""
            if name == "begin" and env.strip() in {"array", "tabular"}:
                self.argument(depth)
            return " "
        if name in {"pmod", "pod"}:
            return f" (mod {(self.argument(depth) or '').strip()})"
        if name in {"overset", "underset", "stackrel", "textcolor"}:
            self.argument(depth)
            return self.argument(depth) or ""
        if name in {"color", "phantom", "hphantom", "vphantom"}:
            self.argument(depth)
            return ""
        if name in {"hspace", "vspace", "kern", "mspace", "hskip"}:
            if self.s.startswith("{", self.i):
                self.argument(depth)
            return " "
        return name


def _single(text: str) -> bool:
    """Whether ``text`` is one visible character (a letter plus combining marks counts)."""
    return len(text) >= 1 and all(unicodedata.combining(ch) for ch in text[1:])


def _script(arg: str, table: dict[str, str], mark: str) -> str:
    """Render a super/subscript with Unicode forms, or ``^x`` / ``^(...)`` when one is missing."""
    text = _SPACES.sub(" ", arg).strip()
    if not text:
        return ""
    if all(ch in table for ch in text):
        return "".join(table[ch] for ch in text)
    if _single(text):
        return mark + text
    return f"{mark}({text})"


def _wrap(text: str) -> str:
    """Parenthesise a fraction or root operand unless it is a single term."""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return "()"
    if all(ch.isalnum() or ch in _ATOMIC_EXTRA or unicodedata.combining(ch) for ch in text):
        return text
    if text[0] == "(" and text[-1] == ")" and text.count("(") == 1:
        return text
    return f"({text})"
