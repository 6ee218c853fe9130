"""Shared machinery of the Markdown renderers: link safety and the block-structure walker."""

from __future__ import annotations

import re
from collections.abc import Iterable

from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

from markup.latex import latex_to_unicode

BULLET = "• "
INDENT = "    "
RULE = "———"
NBSP = "\u00a0"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f<>\"'`\\]")


def safe_href(url: str, schemes: Iterable[str]) -> str | None:
    """Return ``url`` if it is absolute with one of ``schemes`` (lowercase), else ``None``."""
    match = _SCHEME.match(url)
    if match is None or match.group(1).lower() not in schemes or _UNSAFE_URL_CHARS.search(url):
        return None
    return url


def math_text(source: str) -> str:
    """A formula as Unicode whose spaces do not break (so it is never split or wrapped)."""
    return latex_to_unicode(source).replace(" ", NBSP)


def sanitize_links(tokens: list[Token], schemes: frozenset[str]) -> None:
    """Unwrap links and images whose URL is not absolute with one of ``schemes``, in place.

    An unsafe link keeps its text; an unsafe image becomes its alt text. Images inside a link
    become their alt text too (links cannot nest).
    """
    for token in tokens:
        if token.children:
            sanitize_links(token.children, schemes)
    kept: list[Token] = []
    dropping = False
    in_link = False
    for token in tokens:
        if token.type == "link_open":
            if safe_href(str(token.attrGet("href") or ""), schemes) is None:
                dropping = True
                continue
            in_link = True
        elif token.type == "link_close":
            if dropping:
                dropping = False
                continue
            in_link = False
        elif token.type == "image":
            src = str(token.attrGet("src") or "")
            if in_link or dropping or safe_href(src, schemes - {"mailto", "tg"}) is None:
                text = Token("text", "", 0)
                text.content = plain_inline(token.children or [])
                kept.append(text)
                continue
        kept.append(token)
    tokens[:] = kept


def plain_inline(tokens: list[Token]) -> str:
    """The bare text of inline tokens (image alt texts, for instance)."""
    parts: list[str] = []
    for token in tokens:
        if token.type in {"text", "code_inline", "html_inline"}:
            parts.append(token.content)
        elif token.type == "math_inline":
            parts.append(math_text(token.content))
        elif token.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
        elif token.children:
            parts.append(plain_inline(token.children))
    return "".join(parts)


class BlockRenderer:
    """Walks the block tree and lays it out as lines; subclasses format inline content."""

    def __init__(self) -> None:
        self.quote_depth = 0

    # Hooks for subclasses.

    def inline(self, tokens: list[Token], outer: tuple[str, ...] = ()) -> str:
        """Render a run of inline tokens; ``outer`` names formatting tags already open."""
        raise NotImplementedError

    def escape(self, text: str) -> str:
        """Escape literal text for the output format."""
        return text

    def heading(self, text: str) -> str:
        """Render a heading whose inline content is ``text``."""
        raise NotImplementedError

    def code(self, content: str, language: str) -> str:
        """Render a code block."""
        return content

    def quote(self, text: str) -> str:
        """Render a blockquote whose inner blocks rendered to ``text``."""
        return "\n".join("> " + line if line else ">" for line in text.split("\n"))

    def indent(self, text: str, prefix: str) -> str:
        """Prefix every non-empty line of ``text``."""
        return "\n".join(prefix + line if line else line for line in text.split("\n"))

    def header_cell(self, text: str) -> str:
        """Render a table header cell."""
        return text

    # The walk.

    def render(self, tokens: list[Token]) -> str:
        """Render a whole token stream to text with blocks separated by blank lines."""
        return "\n\n".join(self.blocks(SyntaxTreeNode(tokens).children)).strip("\n")

    def blocks(self, nodes: list[SyntaxTreeNode]) -> list[str]:
        """Render block nodes, dropping empty ones."""
        out = (self.block(node) for node in nodes)
        return [text for text in out if text.strip()]

    def block(self, node: SyntaxTreeNode) -> str:
        """Render one block node."""
        kind = node.type
        if kind == "paragraph":
            return self.inline_of(node)
        if kind == "heading":
            return self.heading(self.inline_of(node, ("b",)))
        if kind in {"bullet_list", "ordered_list"}:
            return self.list_(node)
        if kind == "blockquote":
            self.quote_depth += 1
            try:
                inner = "\n\n".join(self.blocks(node.children))
            finally:
                self.quote_depth -= 1
            return self.quote(inner) if inner.strip() else ""
        if kind in {"fence", "code_block"}:
            content = node.content.rstrip("\n")
            language = node.info.split(maxsplit=1)[0] if node.info.strip() else ""
            return self.code(content, language) if content.strip() else ""
        if kind == "hr":
            return RULE
        if kind == "math_block":
            return self.escape(math_text(node.content))
        if kind == "table":
            return self.table(node)
        if node.children:
            return "\n\n".join(self.blocks(node.children))
        return self.escape(node.content)

    def inline_of(self, node: SyntaxTreeNode, outer: tuple[str, ...] = ()) -> str:
        """Render the inline content of a paragraph, heading or table cell."""
        parts: list[str] = []
        for child in node.children:
            if child.type == "inline" and child.token is not None:
                parts.append(self.inline(child.token.children or [], outer))
            else:
                parts.append(self.block(child))
        return "".join(parts)

    def list_(self, node: SyntaxTreeNode) -> str:
        """Render a list: one line per item with a bullet or number, nested content indented."""
        lines: list[str] = []
        number = int(str(node.attrs.get("start", 1))) if node.type == "ordered_list" else 0
        for item in node.children:
            marker = f"{number}. " if node.type == "ordered_list" else BULLET
            number += 1
            body = "\n".join(self.blocks(item.children))
            first, _, rest = body.partition("\n")
            line = (marker + first).rstrip()
            if rest:
                line += "\n" + self.indent(rest, INDENT)
            lines.append(line)
        return "\n".join(lines)

    def table(self, node: SyntaxTreeNode) -> str:
        """Render a table as lines of cells separated by vertical bars."""
        rows: list[str] = []
        for section in node.children:
            for row in section.children:
                cells = [
                    self.header_cell(self.inline_of(cell, ("b",)))
                    if cell.type == "th"
                    else self.inline_of(cell)
                    for cell in row.children
                ]
                rows.append(" | ".join(cells))
        return "\n".join(rows)
