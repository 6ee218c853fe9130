"""Every channel's composer on the five real summaries and on hostile text."""

from __future__ import annotations

import re

import pytest

from markup import grapheme_length, mastodon_length, restore_blocks, x_weighted_length
from markup.split import telegram_length
from publisher.channels.base import Limits
from publisher.compose import Source, composer_for, hashtags
from tests.markup.telegram_html import validate_telegram_html
from tests.seed import seed_papers

LINK = "https://t.me/shortsci_bot?start=s_42"
CHANNELS = {
    "x": Limits(280, x_weighted_length),
    "mastodon": Limits(500, mastodon_length),
    "bluesky": Limits(300, grapheme_length),
    "facebook": Limits(63_206),
    "telegram": Limits(4096),
    "atom": Limits(1_000_000, link_required=False),
}


def _seed_sources() -> list[Source]:
    return [
        Source(
            1,
            42,
            p.title,
            p.authors,
            p.year,
            ["cs.LG", "cs.CV"] if p.arxiv_id else [],
            restore_blocks(p.summary),
        )
        for p in seed_papers()
    ]


HOSTILE = [
    Source(1, 42, "🎉" * 50, ["Ana"], 2024, [], "😀🎉🚀" * 300),
    Source(
        1,
        42,
        "深度学习需要重新思考泛化" * 5,
        ["张三", "李四"],
        2016,
        ["cs.LG"],
        "深度学习需要重新思考泛化。" * 400,
    ),
    Source(1, 42, "A " + "very " * 78 + "long title", ["X"], 2020, ["cs.AI"], "word " * 4000),
    Source(
        1,
        42,
        "Formula heavy",
        ["Y"],
        None,
        [],
        "We show $\\mathbb{R}^d \\Rightarrow 10^{-4}$ " * 500,
    ),
    Source(
        1,
        42,
        "<script>alert(1)</script>",
        [],
        None,
        [],
        "**bold** <b>raw</b> & [x](javascript:alert(1)) " * 50,
    ),
]


def _fits(channel: str, text: str, limits: Limits) -> None:
    assert limits.measure(text) <= limits.max_length, (channel, limits.measure(text))


@pytest.mark.parametrize("channel", sorted(CHANNELS))
@pytest.mark.parametrize("source", _seed_sources() + HOSTILE, ids=lambda s: s.title[:20])
def test_every_post_fits_and_keeps_its_link(channel: str, source: Source) -> None:
    limits = CHANNELS[channel]
    post = composer_for(channel, x_thread=True)(source, LINK, limits)
    _fits(channel, post.text, limits)
    if limits.link_required:
        assert LINK in post.text, "the link is never cut"
    for item in post.thread:
        _fits(channel, item, limits)
    if channel == "telegram":
        assert post.html is not None
        assert telegram_length(post.html) <= 4096
        validate_telegram_html(post.html)
        assert LINK in post.html
    assert "$" not in post.text.replace("$$", "") or "$" in source.body.split("$")[0]


def test_x_post_of_the_resnet_summary_reads_well() -> None:
    resnet = next(s for s in _seed_sources() if s.title.startswith("Deep Residual"))
    post = composer_for("x")(resnet, LINK, CHANNELS["x"])
    first, teaser, rest = post.text.split("\n\n")
    assert first == "📄 Deep Residual Learning for Image Recognition (He et al., 2015)"
    assert teaser.startswith("Deeper networks should never have a higher training error")
    assert teaser.endswith("…") and "**" not in teaser
    assert rest.startswith(LINK)
    assert x_weighted_length(post.text) <= 280


def test_words_and_formulas_are_never_cut() -> None:
    source = HOSTILE[3]
    post = composer_for("bluesky")(source, LINK, CHANNELS["bluesky"])
    teaser = post.text.split("\n\n")[1]
    assert teaser.endswith("…")
    body = teaser.removesuffix("…").rstrip()
    formula = "ℝᵈ\xa0⇒\xa010⁻⁴"
    assert body.count("ℝᵈ") == body.count(formula) > 0, "a formula is whole or absent"
    assert body.split(" ")[-1] in ("We", "show", formula)


def test_long_titles_are_shortened_at_a_word() -> None:
    post = composer_for("x")(HOSTILE[2], LINK, CHANNELS["x"])
    title = post.text.split("\n\n")[0]
    assert re.fullmatch(r"📄 A( very)+… \(X, 2020\)", title), title


def test_thread_is_numbered_key_points() -> None:
    zhang = _seed_sources()[0]
    post = composer_for("x", x_thread=True)(zhang, LINK, CHANNELS["x"])
    assert post.thread[0].startswith("1/5 Deep neural networks easily fit random labels")
    assert all(item.startswith(f"{n}/5 ") for n, item in enumerate(post.thread, start=1))


def test_hashtags() -> None:
    assert hashtags(["cs.LG", "stat.ML", "cs.CV", "math.CO"]) == [
        "#MachineLearning",
        "#ComputerVision",
        "#mathCO",
    ]


def test_atom_entry_is_the_full_summary() -> None:
    dcgan = _seed_sources()[-1]
    post = composer_for("atom")(dcgan, LINK, CHANNELS["atom"])
    assert (
        post.html is not None
        and "<h1>Deep Convolutional Generative Adversarial Nets</h1>" in post.html
    )
    assert "smiling woman - normal woman + normal man = smiling man" in post.html
