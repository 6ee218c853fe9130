"""Telegram's HTML parse mode and entity detection, as the emulator implements them."""

from __future__ import annotations

import pytest

from bot.emulator import EntityParseError, find_entities, parse_html, utf16_len
from bot.emulator.entities import strip_text


def test_plain_text_and_entities_in_utf16() -> None:
    text, entities = parse_html('🧪 <b>Bold <i>both</i></b> <a href="https://arxiv.org">x</a>')
    assert text == "🧪 Bold both x"
    assert entities == [
        {"offset": 3, "length": 9, "type": "bold"},
        {"offset": 8, "length": 4, "type": "italic"},
        {"offset": 13, "length": 1, "type": "text_link", "url": "https://arxiv.org"},
    ]
    assert utf16_len("🧪") == 2


def test_every_supported_tag() -> None:
    html = (
        "<strong>a</strong><em>b</em><u>c</u><ins>d</ins><s>e</s><strike>f</strike><del>g</del>"
        '<code>h</code><pre><code class="language-python">i</code></pre><blockquote>j</blockquote>'
        '<blockquote expandable>k</blockquote><tg-spoiler>l</tg-spoiler><span class="tg-spoiler">'
        'm</span><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    text, entities = parse_html(html)
    assert text == "abcdefghijklm👍"
    assert [e["type"] for e in entities] == [
        "bold", "italic", "underline", "underline", "strikethrough", "strikethrough",
        "strikethrough", "code", "pre", "blockquote", "expandable_blockquote", "spoiler",
        "spoiler", "custom_emoji",
    ]  # fmt: skip
    assert entities[8]["language"] == "python"


def test_character_references() -> None:
    text, _ = parse_html("&lt;tag&gt; &amp; &quot;q&quot; &#65;&#x42; 5 &gt; 3")
    assert text == '<tag> & "q" AB 5 > 3'


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("é <br/>", 'Unsupported start tag "br/" at byte offset 3'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("R&D", 'Character "&" must be escaped as "&amp;" at byte offset 1'),
        ("&nbsp;", 'Character "&" must be escaped as "&amp;" at byte offset 0'),
        ("5 > 3", 'Character ">" must be escaped as "&gt;" at byte offset 2'),
    ],
)
def test_refusals(html: str, message: str) -> None:
    with pytest.raises(EntityParseError) as raised:
        parse_html(html)
    assert str(raised.value) == message


def test_lenient_mode_matches_tdlib_on_bare_ampersands() -> None:
    assert parse_html("R&D 5 > 3 &amp", strict=False)[0] == "R&D 5 > 3 &"


def test_links_telegram_would_drop() -> None:
    assert parse_html('<a href="javascript:alert(1)">x</a>')[1] == []
    assert parse_html("<a>arxiv.org</a>")[1][0]["url"] == "http://arxiv.org"


def test_strip_keeps_entities_aligned() -> None:
    entities = [
        {"type": "bold", "offset": 1, "length": 12},
        {"type": "code", "offset": 6, "length": 5},
    ]
    text, stripped = strip_text("\n  hi there \n", entities)
    assert text == "hi there"
    assert stripped == [
        {"type": "bold", "offset": 0, "length": 8},
        {"type": "code", "offset": 3, "length": 5},
    ]


def test_found_entities() -> None:
    text = "/paper@shortsci_bot 1706.03762 by @vaswani_a see https://arxiv.org/abs/1706.03762."
    found = {
        (e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in find_entities(text)
    }
    assert found == {
        ("bot_command", "/paper@shortsci_bot"),
        ("mention", "@vaswani_a"),
        ("url", "https://arxiv.org/abs/1706.03762"),
    }
    assert find_entities("path a/b and /x") == [{"type": "bot_command", "offset": 13, "length": 2}]
