"""Summaries as a reader sees them in Telegram: the seed's real summaries and hostile input."""

from __future__ import annotations

import pytest

from markup import restore_blocks, split_html, telegram_length, to_telegram_html
from tests.markup.telegram_html import InvalidTelegramHTML, validate_telegram_html

NBSP = "\u00a0"


def test_zhang_summary(seed_summaries: dict[str, str]) -> None:
    html = to_telegram_html(restore_blocks(seed_summaries["zhang"]))
    validate_telegram_html(html)
    lines = html.split("\n")
    assert "<b>Key contributions</b>" in lines
    assert "<b>Funny</b>" in lines
    assert "⇒Those architectures can simply brute-force memorize" in html
    assert "$" not in html
    assert (
        "• Deep neural networks easily fit random labels"
        in lines[lines.index("<b>Key contributions</b>") + 2]
    )
    assert sum(line.startswith("• ") for line in lines) == 6
    assert "<blockquote>deep neural nets remain mysterious for many reasons</blockquote>" in lines
    assert f"(p_c{NBSP}∈{NBSP}[0,{NBSP}1], where p_c{NBSP}=0 is a perfect labeling" in html
    assert f"with p{NBSP}={NBSP}2n+d parameters" in html
    assert (
        '• <a href="https://openreview.net/pdf?id=rJv6ZgHYg">'
        "Deep Nets Don't Learn Via Memorization</a>" in lines
    )


def test_resnet_summary(seed_summaries: dict[str, str]) -> None:
    html = to_telegram_html(restore_blocks(seed_summaries["resnet"]))
    validate_telegram_html(html)
    lines = html.split("\n")
    assert "Weight decay of 0.0001 (10⁻⁴), momentum of 0.9." in html
    assert "<b>Evaluation</b>" in lines
    assert "• ImageNet ILSVRC 2015: 3.57% (ensemble)" in lines
    assert "• PASCAL VOC 2012: 83.8% mAp@0.5" in lines
    assert "higher <b>training</b> error" in html
    assert lines[-1] == (
        '• <a href="http://www.shortscience.org/paper?bibtexKey=journals/corr/1608.06993">'
        "DenseNets</a>"
    )


def test_alexnet_summary(seed_summaries: dict[str, str]) -> None:
    html = to_telegram_html(restore_blocks(seed_summaries["alexnet"]))
    validate_telegram_html(html)
    assert f"• Weight decay of 0.0005{NBSP}·{NBSP}ε." in html.split("\n")
    assert "• Learning rate of ε (initialized at 0.01)" in html


def test_mask_rcnn_summary(seed_summaries: dict[str, str]) -> None:
    html = to_telegram_html(restore_blocks(seed_summaries["maskrcnn"]))
    validate_telegram_html(html)
    lines = html.split("\n")
    assert "<b>Methodology</b>" in lines
    assert "<b>Major Changes and intutions</b>" in lines
    assert "<b>Observation</b>" in lines
    assert '<a href="https://i.imgur.com/snUq73Q.png">image</a>' in html
    assert "<i>sigmoid</i>" in html


def test_dcgan_summary(seed_summaries: dict[str, str]) -> None:
    html = to_telegram_html(restore_blocks(seed_summaries["dcgan"]))
    validate_telegram_html(html)
    lines = html.split("\n")
    assert lines[0] == "<b>Deep Convolutional Generative Adversarial Nets</b>"
    assert "• Learning rate = 0.0002, β1 = 0.5" in lines
    assert "<code>smiling woman - normal woman + normal man = smiling man</code>" in html


def test_blocks() -> None:
    md = (
        "## Key contributions\n\n"
        "* one **bold `code` here**\n  * nested $\\alpha$\n* two\n\n"
        "3. third\n4. fourth\n\n"
        "> quote\n>\n> > inner\n\n"
        "```python\ndef f():\n    return 1 < 2\n```\n\n---\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    html = to_telegram_html(md)
    validate_telegram_html(html)
    assert html.split("\n") == [
        "<b>Key contributions</b>",
        "",
        "• one <b>bold </b><code>code</code><b> here</b>",
        "    • nested α",
        "• two",
        "",
        "3. third",
        "4. fourth",
        "",
        "<blockquote>quote",
        "",
        "» inner</blockquote>",
        "",
        '<pre><code class="language-python">def f():',
        "    return 1 &lt; 2</code></pre>",
        "",
        "———",
        "",
        "<b>a</b> | <b>b</b>",
        "1 | 2",
    ]


def test_code_in_list_keeps_its_indentation() -> None:
    html = to_telegram_html("* item\n\n  ```\n  if x:\n      y\n  ```\n")
    validate_telegram_html(html)
    assert "<pre>if x:\n    y</pre>" in html


def test_links_and_images() -> None:
    html = to_telegram_html(
        '[ok](https://x.org/?a=1&b="2") [bad](javascript:alert(1)) [rel](/paper/1) '
        "[tg](tg://resolve?domain=x) [`code` link](https://y.org) ![](https://i.org/a.png) "
        "![alt](ftp://nope) [![logo](https://i.org/l.png)](https://z.org) [](https://e.org)"
    )
    validate_telegram_html(html)
    assert '<a href="https://x.org/?a=1&amp;b=%222%22">ok</a>' in html
    assert " bad rel " in html
    assert '<a href="tg://resolve?domain=x">tg</a>' in html
    assert '<a href="https://y.org">code link</a>' in html
    assert '<a href="https://i.org/a.png">image</a>' in html
    assert " alt " in html
    assert '<a href="https://z.org">logo</a>' in html
    assert '<a href="https://e.org">https://e.org</a>' in html


def test_raw_html_is_shown_escaped() -> None:
    html = to_telegram_html("<script>alert('x')</script> & <b>not bold</b>\n\n<div>\nblock\n</div>")
    validate_telegram_html(html)
    assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;b&gt;not bold&lt;/b&gt;" in html
    assert "&lt;div&gt;" in html


def test_math_is_not_touched_in_code() -> None:
    html = to_telegram_html("`$x^2$` and\n\n    $y_1$\n\nbut $z^2$ and $a_i * b_j$ here")
    assert "<code>$x^2$</code>" in html
    assert "<pre>$y_1$</pre>" in html
    assert f"but z² and aᵢ{NBSP}*{NBSP}bⱼ here" in html


def test_lone_dollar_untouched() -> None:
    assert to_telegram_html("it costs $5 a month") == "it costs $5 a month"


def test_display_math_block() -> None:
    html = to_telegram_html("Loss:\n\n$$\n\\mathcal{L} = \\sum_i x_i\n$$\n\nDone.")
    assert html == f"Loss:\n\nℒ{NBSP}={NBSP}∑ᵢ{NBSP}xᵢ\n\nDone."


HOSTILE = [
    "😀" * 3000,
    "日本語のテキスト。" * 1000,
    "word " * 20_000,
    "<script>alert(1)</script>",
    "**unbalanced bold",
    "__a *b",
    "[a](javascript:alert(1))",
    "$$ unclosed",
    "$$\n\\frac{1}{2",
    "> " * 500 + "deep",
    "* " * 500 + "deep",
    "[" * 2000 + "x" + "]" * 2000,
    "`" * 1001,
    "&amp; &#0; &#xD800; &bogus; &",
    "\x00\x01\u202e\ufeff",
    "# \n#",
    "",
    "   \n\n  ",
]


@pytest.mark.parametrize("md", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_renders_valid_html(md: str) -> None:
    html = to_telegram_html(md)
    validate_telegram_html(html)
    for chunk in split_html(html):
        validate_telegram_html(chunk)
        assert telegram_length(chunk) <= 4096


def test_hundred_thousand_characters() -> None:
    md = ("Some **bold** text with $x_i$ and [a link](https://example.org). " * 1600)[:100_000]
    html = to_telegram_html(md)
    validate_telegram_html(html)
    chunks = split_html(html)
    assert len(chunks) > 1
    for chunk in chunks:
        validate_telegram_html(chunk)
        assert telegram_length(chunk) <= 4096


def test_validator_rejects_bad_html() -> None:
    for bad in [
        "<b>x",
        "<b>x</i>",
        "<div>x</div>",
        "a < b",
        "a & b",
        '<a href="javascript:x">x</a>',
        "<pre><b>x</b></pre>",
        "<b><code>x</code></b>",
        "<blockquote><blockquote>x</blockquote></blockquote>",
        "&#xD800;",
    ]:
        with pytest.raises(InvalidTelegramHTML):
            validate_telegram_html(bad)
