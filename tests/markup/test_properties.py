"""For any text at all: valid Telegram HTML, and chunks that are valid and fit."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from markup import split_html, telegram_length, to_plain_text, to_telegram_html, truncate_words
from markup.length import x_weighted_length
from tests.markup.telegram_html import validate_telegram_html

MARKDOWNISH = st.lists(
    st.one_of(
        st.sampled_from(list("*_`$#>[]()!-+\\<&;\"' \n\t|~=^{}.1aA")),
        st.sampled_from(["http://x.y", "javascript:", "\\frac", "**", "$$", "```", "\n\n", "😀"]),
        st.characters(codec="utf-8"),
    ),
    max_size=120,
).map("".join)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(MARKDOWNISH, st.integers(min_value=8, max_value=200))
def test_any_text_renders_valid_and_splits_to_fit(md: str, limit: int) -> None:
    html = to_telegram_html(md)
    validate_telegram_html(html)
    for chunk in split_html(html, limit):
        validate_telegram_html(chunk)
        assert telegram_length(chunk) <= limit
        assert chunk.strip()


@FAST
@given(MARKDOWNISH, st.integers(min_value=0, max_value=60))
def test_teasers_fit(md: str, limit: int) -> None:
    teaser = truncate_words(to_plain_text(md), limit, x_weighted_length)
    assert x_weighted_length(teaser) <= limit
