"""Text library shared by the bot and the publisher: Markdown + LaTeX to each output format.

Pure functions only: nothing here reads settings, touches the network or the database.

- :func:`to_telegram_html`, :func:`to_plain_text`, :func:`to_feed_html`: render a summary.
- :func:`split_html`, :func:`telegram_length`: cut Telegram HTML into messages that fit.
- :func:`latex_to_unicode`, :func:`replace_math`, :func:`find_math`: formulas as Unicode.
- :func:`x_weighted_length`, :func:`grapheme_length`, :func:`mastodon_length`,
  :func:`utf16_length`, :func:`truncate_words`: per-platform lengths and shortening.
- :func:`restore_blocks`: put back the line structure of a scraped, flattened summary.
"""

from markup.latex import latex_to_unicode
from markup.length import (
    ELLIPSIS,
    grapheme_length,
    mastodon_length,
    truncate_words,
    utf16_length,
    x_weighted_length,
)
from markup.markdown import (
    FEED_SCHEMES,
    TELEGRAM_HTML_VERSION,
    TELEGRAM_SCHEMES,
    parse_markdown,
    to_feed_html,
    to_plain_text,
    to_telegram_html,
)
from markup.mathspans import MathSpan, find_math, replace_math
from markup.restore import restore_blocks
from markup.split import split_html, telegram_length

TELEGRAM_MESSAGE_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024

__all__ = [
    "ELLIPSIS",
    "FEED_SCHEMES",
    "TELEGRAM_CAPTION_LIMIT",
    "TELEGRAM_HTML_VERSION",
    "TELEGRAM_MESSAGE_LIMIT",
    "TELEGRAM_SCHEMES",
    "MathSpan",
    "find_math",
    "grapheme_length",
    "latex_to_unicode",
    "mastodon_length",
    "parse_markdown",
    "replace_math",
    "restore_blocks",
    "split_html",
    "telegram_length",
    "to_feed_html",
    "to_plain_text",
    "to_telegram_html",
    "truncate_words",
    "utf16_length",
    "x_weighted_length",
]
