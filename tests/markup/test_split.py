"""Long summaries cut into Telegram messages: each fits, each is valid, nothing is lost."""

from __future__ import annotations

import re
from html import unescape

import pytest

from markup import restore_blocks, split_html, telegram_length, to_telegram_html
from tests.markup.conftest import PAPERNOTES
from tests.markup.telegram_html import validate_telegram_html


def visible(html: str) -> str:
    """The text Telegram shows, without whitespace (cuts drop whitespace)."""
    return re.sub(r"\s", "", unescape(re.sub(r"<[^>]*>", "", html)))


def check_chunks(html: str, limit: int) -> list[str]:
    chunks = split_html(html, limit)
    for chunk in chunks:
        validate_telegram_html(chunk)
        assert telegram_length(chunk) <= limit
    assert "".join(visible(chunk) for chunk in chunks) == visible(html)
    return chunks


def test_telegram_length_counts_text_after_parsing() -> None:
    assert telegram_length('<a href="https://x.org">ab</a> &amp; <b>😀</b>') == 2 + 3 + 2


def test_short_message_is_one_chunk() -> None:
    assert split_html("<b>Hi</b> there") == ["<b>Hi</b> there"]
    assert split_html("") == []
    assert split_html("  \n ") == []


def test_prefers_paragraphs_then_lines_then_sentences_then_words() -> None:
    para = "First sentence here. Second one there.\nA new line."
    html = f"{para}\n\n{para}"
    assert split_html(html, len(para) + 5) == [para, para]
    assert split_html(para, 45) == ["First sentence here. Second one there.", "A new line."]
    assert split_html("First sentence here. Second one there.", 30) == [
        "First sentence here.",
        "Second one there.",
    ]
    assert split_html("alpha beta gamma delta", 12) == ["alpha beta", "gamma delta"]


def test_heading_stays_with_its_paragraph() -> None:
    html = to_telegram_html(
        "Intro words here.\n\n## Evaluation\n\nThe learning rate starts at 0.1."
    )
    assert split_html(html, 40) == [
        "Intro words here.",
        "<b>Evaluation</b>\n\nThe learning rate starts at",
        "0.1.",
    ]
    assert split_html("<b>Only a heading</b>\n\nand a very long paragraph", 30) == [
        "<b>Only a heading</b>\n\nand a very",
        "long paragraph",
    ]
    assert split_html("<b>Only a heading</b>\n\nand_a_very_long_paragraph", 30) == [
        "<b>Only a heading</b>",
        "and_a_very_long_paragraph",
    ]


def test_open_tags_are_closed_and_reopened() -> None:
    html = "<b>bold words <i>and italic words</i> go on</b>"
    assert check_chunks(html, 16) == [
        "<b>bold words <i>and</i></b>",
        "<b><i>italic words</i> go</b>",
        "<b>on</b>",
    ]


def test_pre_block_reopens_with_its_language() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(40))
    html = to_telegram_html(f"```python\n{code}\n```")
    chunks = check_chunks(html, 100)
    assert all(c.startswith('<pre><code class="language-python">') for c in chunks)
    assert all(c.endswith("</code></pre>") for c in chunks)


def test_entities_and_links_are_not_cut() -> None:
    html = 'a &amp; b <a href="https://x.org/long">link text here</a> and more words here'
    chunks = check_chunks(html, 20)
    assert chunks == [
        "a &amp; b",
        '<a href="https://x.org/long">link text here</a> and',
        "more words here",
    ]
    assert all(not re.search(r"&[a-z#0-9]*$", c) for c in chunks)


def test_long_link_text_is_cut_as_last_resort() -> None:
    html = '<a href="https://x.org">' + "word " * 50 + "</a>"
    chunks = check_chunks(html, 40)
    assert all(c.startswith('<a href="https://x.org">') for c in chunks)


def test_formula_is_not_cut() -> None:
    html = to_telegram_html("Padding words. " * 3 + r"Then $a + b + c + d = e$ ends.")
    for limit in range(25, 70):
        chunks = check_chunks(html, limit)
        assert any("a\u00a0+\u00a0b\u00a0+\u00a0c\u00a0+\u00a0d\u00a0=\u00a0e" in c for c in chunks)


def test_hard_cut_keeps_graphemes_whole() -> None:
    family = "👨\u200d👩\u200d👧"
    chunks = check_chunks(family * 10, 16)
    assert all(c.replace(family, "") == "" for c in chunks)
    assert all(telegram_length(c) <= 16 for c in chunks)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_html("x", 0)


@pytest.mark.parametrize("path", PAPERNOTES, ids=[p.stem for p in PAPERNOTES])
def test_papernotes_render_and_split(path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    html = to_telegram_html(path.read_text(encoding="utf-8"))
    validate_telegram_html(html)
    assert html.strip()
    check_chunks(html, 4096)
    check_chunks(html, 700)


def test_corpus_is_all_there() -> None:
    assert len(PAPERNOTES) == 99


def test_seed_summaries_split_small(seed_summaries: dict[str, str]) -> None:
    for flat in seed_summaries.values():
        html = to_telegram_html(restore_blocks(flat))
        chunks = check_chunks(html, 300)
        assert len(chunks) > 1
