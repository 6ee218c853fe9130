"""Teasers for social posts and HTML for the Atom feed."""

from __future__ import annotations

from markup import restore_blocks, to_feed_html, to_plain_text

NBSP = "\u00a0"


def test_plain_text_of_resnet(seed_summaries: dict[str, str]) -> None:
    text = to_plain_text(restore_blocks(seed_summaries["resnet"]))
    assert "higher training error" in text
    assert "Weight decay of 0.0001 (10⁻⁴)" in text
    assert "\nEvaluation\n" in text
    assert "• ImageNet ILSVRC 2015: 3.57% (ensemble)" in text.split("\n")
    assert text.endswith("• DenseNets")
    assert "<" not in text and "**" not in text and "http" not in text


def test_plain_text_keeps_urls_on_request() -> None:
    md = "See [DenseNets](https://x.org/d) and <https://y.org>."
    assert to_plain_text(md) == "See DenseNets and https://y.org."
    assert to_plain_text(md, keep_urls=True) == "See DenseNets (https://x.org/d) and https://y.org."


def test_plain_text_blocks() -> None:
    md = "# T\n\n* a\n  1. b\n\n> q\n\n`$x$` and $x^2$ and [bad](javascript:x)"
    assert to_plain_text(md) == "T\n\n• a\n    1. b\n\n> q\n\n$x$ and x² and bad"


def test_feed_html_of_zhang(seed_summaries: dict[str, str]) -> None:
    html = to_feed_html(restore_blocks(seed_summaries["zhang"]))
    assert "<h2>Key contributions</h2>" in html
    assert '<span class="math">⇒</span>Those' in html
    assert "<blockquote>\n<p>deep neural nets remain mysterious for many reasons</p>" in html
    assert '<a href="https://openreview.net/pdf?id=rJv6ZgHYg">' in html


def test_feed_html_is_safe() -> None:
    html = to_feed_html(
        "<script>alert(1)</script> [x](javascript:alert(1)) [t](tg://x) ![i](data:image/png;a) "
        '![ok](https://i.org/a.png "t") $a < b$'
    )
    assert "<script" not in html
    assert "javascript" not in html
    assert "tg://" not in html
    assert "data:" not in html
    assert '<img src="https://i.org/a.png" alt="ok" title="t" />' in html
    assert f'<span class="math">a{NBSP}&lt;{NBSP}b</span>' in html
    assert html.startswith("<p>&lt;script&gt;alert(1)&lt;/script&gt; x t i ")
