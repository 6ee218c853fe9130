"""Markdown (CommonMark + tables + strikethrough + ``$`` math) to Telegram HTML, text and HTML.

All three renderers share one markdown-it parser with raw HTML disabled: tags typed in a summary
are shown as text, never passed through. Formulas become Unicode (see :mod:`markup.latex`) with
no-break spaces, so a formula is never wrapped or split. Links keep their target only when it is
an absolute URL with a safe scheme; otherwise their text stands alone.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from markup._plain import PlainRenderer
from markup._render import math_text, sanitize_links
from markup._telegram import TelegramRenderer
from markup.mathspans import math_plugin

__all__ = [
    "FEED_SCHEMES",
    "TELEGRAM_HTML_VERSION",
    "TELEGRAM_SCHEMES",
    "parse_markdown",
    "to_feed_html",
    "to_plain_text",
    "to_telegram_html",
]

TELEGRAM_SCHEMES = frozenset({"http", "https", "tg", "mailto"})
# Bump whenever `to_telegram_html`'s output changes: stored renders of older versions are redone
# (tests/markup/test_render_version.py fails until the version and its pinned digest agree).
TELEGRAM_HTML_VERSION = 1
FEED_SCHEMES = frozenset({"http", "https", "mailto"})


class _Parser(MarkdownIt):
    """A parser that accepts every link target; renderers decide which ones are safe."""

    def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's name
        return True


@functools.cache
def _parser() -> MarkdownIt:
    md = _Parser("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.use(math_plugin)
    return md


def parse_markdown(md: str) -> list[Token]:
    """Parse Markdown into the markdown-it token stream the renderers use."""
    return _parser().parse(md.replace("\x00", "\ufffd"))


def to_telegram_html(md: str) -> str:
    """Render Markdown as Telegram Bot API HTML (``parse_mode="HTML"``).

    Headings become bold lines, lists "• " or "1. " lines (nested ones indented), links
    ``<a href>`` (http, https, tg and mailto only), images a link named by their alt text,
    code ``<code>``/``<pre>``, quotes ``<blockquote>``, rules "———", formulas Unicode. All
    text is escaped; the result uses only tags Telegram allows, balanced and properly nested.

    Args:
        md: A summary in Markdown.

    Returns:
        The HTML; empty if the Markdown has no visible content.
    """
    tokens = parse_markdown(md)
    sanitize_links(tokens, TELEGRAM_SCHEMES)
    return TelegramRenderer().render(tokens)


def to_plain_text(md: str, *, keep_urls: bool = False) -> str:
    """Render Markdown as plain text: markup stripped, "• " bullets, formulas in Unicode.

    Args:
        md: A summary in Markdown.
        keep_urls: Append a link's address after its text, as "text (url)".

    Returns:
        The text, with paragraphs separated by one blank line.
    """
    tokens = parse_markdown(md)
    sanitize_links(tokens, TELEGRAM_SCHEMES)
    return PlainRenderer(keep_urls=keep_urls).render(tokens)


class _FeedRenderer(RendererHTML):
    """markdown-it's HTML renderer plus rules for the math tokens."""

    def math_inline(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A formula inside a paragraph."""
        return f'<span class="math">{_escape_html(math_text(tokens[idx].content))}</span>'

    def math_block(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        """A displayed formula."""
        return f'<p class="math">{_escape_html(math_text(tokens[idx].content))}</p>\n'


def _escape_html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def to_feed_html(md: str) -> str:
    """Render Markdown as HTML for an Atom entry's ``content type="html"``.

    This is markdown-it's CommonMark HTML with raw HTML disabled, formulas as Unicode in
    ``<span class="math">``, and links or images kept only for http, https (and mailto links).

    Args:
        md: A summary in Markdown.

    Returns:
        An HTML fragment.
    """
    parser = _parser()
    tokens = parse_markdown(md)
    sanitize_links(tokens, FEED_SCHEMES)
    return str(_FeedRenderer(parser).render(tokens, parser.options, {}))
