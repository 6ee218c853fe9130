"""Text length as each platform counts it, and truncation to a limit at a word boundary.

| platform | counter | rule |
|---|---|---|
| X | ``x_weighted_length`` | twitter-text weights: URLs 23, CJK and emoji 2, most others 1 |
| Bluesky | ``grapheme_length`` | grapheme clusters |
| Mastodon | ``mastodon_length`` | graphemes; http(s) URL 23; ``@user@domain`` as ``@user`` |
| Telegram | ``utf16_length`` | UTF-16 code units (of the text after entity parsing) |
"""

from __future__ import annotations

import re
from collections.abc import Callable

import grapheme

__all__ = [
    "ELLIPSIS",
    "grapheme_length",
    "mastodon_length",
    "truncate_words",
    "utf16_length",
    "x_weighted_length",
]

ELLIPSIS = "…"
MASTODON_URL_LENGTH = 23

# Mastodon's URL pattern, simplified: the scheme, then up to a space; trailing punctuation is
# not part of the link.
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]}'…]", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w/])@(\w+)@[\w.-]+\w", re.ASCII)
# Regular whitespace separates words; a no-break space (inside formulas) does not.
_BREAK = re.compile(r"[^\S\u00a0\u202f\u2007]+")
_TRAILING = " \t\n\r,;:-–—"
# Scripts written without spaces (CJK) and emoji may break after any of their characters.
_WIDE = re.compile(
    "[\u2600-\u27bf\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U0001f000-\U0001faff]"
)


def _break_points(text: str) -> list[int]:
    """Offsets where a line may be cut: before white space, after a CJK or emoji cluster."""
    points = {m.start() for m in _BREAK.finditer(text) if m.start() > 0}
    if _WIDE.search(text):
        offset = 0
        for cluster in grapheme.graphemes(text):
            offset += len(cluster)
            if _WIDE.match(cluster) and offset < len(text):
                points.add(offset)
    return sorted(points)


def utf16_length(text: str) -> int:
    """Count UTF-16 code units, as Telegram does (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def x_weighted_length(text: str) -> int:
    """Count like X: twitter-text's weighted length (URL 23, CJK and emoji 2)."""
    import twitter_text  # 18 MiB of compiled patterns: loaded only where X is posted to

    return int(twitter_text.parse_tweet(text).weightedLength)


def grapheme_length(text: str) -> int:
    """Count grapheme clusters, as Bluesky does (a family emoji counts 1)."""
    return int(grapheme.length(text))


def mastodon_length(text: str) -> int:
    """Count like Mastodon: graphemes, with each http(s) URL as 23 and remote mentions short."""
    countable = _URL.sub("x" * MASTODON_URL_LENGTH, text)
    countable = _MENTION.sub(r"@\1", countable)
    return grapheme_length(countable)


def truncate_words(
    text: str,
    limit: int,
    measure: Callable[[str], int] = len,
    ellipsis: str = ELLIPSIS,
) -> str:
    """Shorten ``text`` at a word boundary so that ``measure(result) <= limit``.

    Words are separated by ordinary whitespace, so a word, a URL or a formula (whose spaces
    are no-break spaces in :func:`markup.to_plain_text`) is never cut. When the text is
    shortened, trailing whitespace and ``,;:-`` are dropped and ``ellipsis`` is appended.

    Args:
        text: The text to shorten.
        limit: The maximum allowed ``measure``.
        measure: A counter such as :func:`x_weighted_length`; ``len`` by default.
        ellipsis: Appended when the text is shortened.

    Returns:
        ``text`` itself if it fits; otherwise the longest prefix of whole words plus the
        ellipsis that fits; just the ellipsis if not even the first word fits; ``""`` if not
        even the ellipsis fits.
    """
    if measure(text) <= limit:
        return text
    if measure(ellipsis) > limit:
        return ""
    ends = _break_points(text)

    def candidate(k: int) -> str:
        return text[: ends[k]].rstrip(_TRAILING) + ellipsis

    # Prefixes of whole words grow with k, and so does their measure: binary search.
    low, high, found = 0, len(ends) - 1, -1
    while low <= high:
        middle = (low + high) // 2
        if measure(candidate(middle)) <= limit:
            found, low = middle, middle + 1
        else:
            high = middle - 1
    while found >= 0 and measure(candidate(found)) > limit:  # pragma: no cover - safety net
        found -= 1
    if found < 0:
        return ellipsis
    result = candidate(found)
    return result if result.strip() != ellipsis else ellipsis
