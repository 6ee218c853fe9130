"""Scraped, flattened summaries get their headings, lists and quotes back."""

from __future__ import annotations

from markup import restore_blocks


def test_zhang_structure(seed_summaries: dict[str, str]) -> None:
    md = restore_blocks(seed_summaries["zhang"])
    assert "\n\n## Key contributions\n* Deep neural networks easily fit random labels" in md
    assert "\n\n## Funny\n\n> deep neural nets remain mysterious for many reasons\n\n> Note" in md
    assert "\n\n## See also\n* [Deep Nets Don't Learn Via Memorization](" in md
    assert "$p_c \\in [0, 1]$" in md  # formulas untouched


def test_resnet_structure(seed_summaries: dict[str, str]) -> None:
    md = restore_blocks(seed_summaries["resnet"])
    assert "Advantages:\n* Learning the identity becomes learning 0 which is simpler\n* Loss" in md
    assert "\n\n## Evaluation\n\nThe learning rate starts at 0.1" in md
    assert "\n* ImageNet ILSVRC 2015: 3.57% (ensemble)\n* CIFAR-10: 6.43%\n" in md


def test_mask_rcnn_structure(seed_summaries: dict[str, str]) -> None:
    md = restore_blocks(seed_summaries["maskrcnn"])
    assert "\n\n#### Methodology\n\nMask RCNN retains most" in md
    assert "\n\n##### Major Changes and intutions\n\n**Mask prediction** Mask" in md
    assert "\n\n#### Observation\n\nMask RCNN performs" in md


def test_dcgan_structure(seed_summaries: dict[str, str]) -> None:
    md = restore_blocks(seed_summaries["dcgan"])
    assert md.startswith("# Deep Convolutional Generative Adversarial Nets\n\n## Introduction\n")
    assert "\n* Learning rate = 0.0002, β1 = 0.5\n" in md


def test_math_code_and_arithmetic_untouched() -> None:
    flat = "Compute 2 * 3 and a * b, `x * Y`, $a * B$ and $x > Y$; x > 3 holds."
    assert restore_blocks(flat) == flat


def test_issue_numbers_and_lowercase_hashes_are_not_headings() -> None:
    flat = "See issue #5 and the # of samples."
    assert restore_blocks(flat) == flat


def test_structured_text_is_left_alone() -> None:
    md = "# Title\n\nText.\n\n* a\n  * nested\n* b\n"
    assert restore_blocks(md) == md


def test_long_input_is_fast() -> None:
    flat = "a * b " * 20_000 + "## Heading * Item " * 2_000
    assert restore_blocks(flat).count("\n* Item") == 2_000
