"""Which dollars open a formula in prose: pandoc's rules, so prices are left alone."""

from __future__ import annotations

from markup import find_math, replace_math


def test_prices_are_not_formulas() -> None:
    assert replace_math("it costs $5 a month") == "it costs $5 a month"
    assert replace_math("costs $5 and $10 later") == "costs $5 and $10 later"
    assert replace_math("from $ 3 to $ 4") == "from $ 3 to $ 4"
    assert find_math("$x$5") == []


def test_inline_and_display_math_converted() -> None:
    assert replace_math(r"weight decay $10^{-4}$ and $$\mathbb{R}^d$$.") == (
        "weight decay 10⁻⁴ and ℝᵈ."
    )


def test_escaped_dollar_is_literal() -> None:
    assert replace_math(r"pay \$5 for $x$") == "pay $5 for x"


def test_unclosed_display_math_left_alone() -> None:
    assert replace_math("$$ unclosed") == "$$ unclosed"


def test_many_dollars_stay_fast() -> None:
    text = "$a " * 30_000
    assert replace_math(text) == text
