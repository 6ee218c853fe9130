"""Lengths as each platform counts them, and truncation that never cuts a word."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from markup import (
    grapheme_length,
    latex_to_unicode,
    mastodon_length,
    to_plain_text,
    truncate_words,
    utf16_length,
    x_weighted_length,
)

URL = "https://www.shortscience.org/paper?bibtexKey=journals/corr/1608.06993"


def test_x_counts_a_url_as_23_and_an_emoji_as_2() -> None:
    assert x_weighted_length(URL) == 23
    assert x_weighted_length("🎉") == 2
    assert x_weighted_length("ab " + URL + " 🎉") == 3 + 23 + 1 + 2
    assert x_weighted_length("日本語") == 6


def test_bluesky_counts_graphemes() -> None:
    family = "👨\u200d👩\u200d👧"
    assert grapheme_length(family) == 1
    assert grapheme_length("é") == 1  # e + combining acute


def test_telegram_counts_utf16_units() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("🎉") == 2
    assert utf16_length("ℝᵈ") == 2


def test_mastodon_counts_urls_as_23() -> None:
    assert mastodon_length(f"see {URL}.") == 4 + 23 + 1
    assert mastodon_length("hi @alice@example.social") == len("hi @alice")


@pytest.mark.parametrize(
    "measure", [len, x_weighted_length, grapheme_length, utf16_length, mastodon_length]
)
def test_truncate_words_fits_and_keeps_whole_words(measure: Callable[[str], int]) -> None:
    text = "Deep residual networks learn identities easily " + URL + " 🎉 " * 20
    for limit in range(1, 80):
        short = truncate_words(text, limit, measure)
        assert measure(short) <= limit
        if short not in ("", "…"):
            assert short.endswith("…")
            assert text.startswith(short[:-1])
            assert text[len(short) - 1] in " \n"  # cut at a word boundary
            assert URL not in text[: len(short)] or URL in short


def test_truncate_keeps_fitting_text_and_formulas() -> None:
    assert truncate_words("short", 10) == "short"
    teaser = to_plain_text(r"Weight decay of $0.0005 \cdot \varepsilon$ works")
    formula = latex_to_unicode(r"0.0005 \cdot \varepsilon").replace(" ", "\u00a0")
    for limit in range(1, len(teaser)):
        short = truncate_words(teaser, limit)
        assert formula in short or "0.0005" not in short
    assert truncate_words("word", 0) == ""
    assert truncate_words("unbreakable", 5) == "…"
