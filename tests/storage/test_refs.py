"""Every reference form people type resolves to the right kind and canonical value."""

from __future__ import annotations

import pytest

from storage.catalog.refs import (
    ACCEPTED_FORMS,
    MalformedReference,
    PaperRef,
    RefKind,
    find_reference,
    parse_reference,
)

ARXIV, DOI, DBLP, TITLE = RefKind.ARXIV, RefKind.DOI, RefKind.DBLP, RefKind.TITLE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1611.03530", PaperRef(ARXIV, "1611.03530")),
        ("1611.03530v2", PaperRef(ARXIV, "1611.03530", 2)),
        ("  1611.03530v12  ", PaperRef(ARXIV, "1611.03530", 12)),
        ("2101.00001", PaperRef(ARXIV, "2101.00001")),
        ("0704.0001", PaperRef(ARXIV, "0704.0001")),
        ("hep-th/9901001", PaperRef(ARXIV, "hep-th/9901001")),
        ("hep-th/9901001v3", PaperRef(ARXIV, "hep-th/9901001", 3)),
        ("math.GT/0309136", PaperRef(ARXIV, "math/0309136")),
        ("quant-ph/0201082v1", PaperRef(ARXIV, "quant-ph/0201082", 1)),
        ("arXiv:1611.03530", PaperRef(ARXIV, "1611.03530")),
        ("arxiv: 1611.03530v2", PaperRef(ARXIV, "1611.03530", 2)),
        ("ARXIV:hep-th/9901001", PaperRef(ARXIV, "hep-th/9901001")),
        ("https://arxiv.org/abs/1611.03530", PaperRef(ARXIV, "1611.03530")),
        ("https://arxiv.org/abs/1611.03530v3", PaperRef(ARXIV, "1611.03530", 3)),
        ("http://arxiv.org/pdf/1611.03530", PaperRef(ARXIV, "1611.03530")),
        ("https://arxiv.org/pdf/1611.03530v1.pdf", PaperRef(ARXIV, "1611.03530", 1)),
        ("https://export.arxiv.org/abs/1611.03530", PaperRef(ARXIV, "1611.03530")),
        ("https://www.arxiv.org/abs/1611.03530?context=cs", PaperRef(ARXIV, "1611.03530")),
        ("arxiv.org/abs/hep-th/9901001v2", PaperRef(ARXIV, "hep-th/9901001", 2)),
        ("<https://arxiv.org/abs/1512.03385>", PaperRef(ARXIV, "1512.03385")),
        ("10.1145/3446776", PaperRef(DOI, "10.1145/3446776")),
        ("10.1371/journal.pone.0033693", PaperRef(DOI, "10.1371/journal.pone.0033693")),
        ("doi:10.1109/CVPR.2016.90", PaperRef(DOI, "10.1109/cvpr.2016.90")),
        ("https://doi.org/10.1109/CVPR.2016.90", PaperRef(DOI, "10.1109/cvpr.2016.90")),
        ("http://dx.doi.org/10.1038/nature14539", PaperRef(DOI, "10.1038/nature14539")),
        ("https://doi.org/10.1002/(SICI)1097-4571", PaperRef(DOI, "10.1002/(sici)1097-4571")),
        ("10.48550/arXiv.1611.03530", PaperRef(ARXIV, "1611.03530")),
        ("https://doi.org/10.48550/arXiv.1611.03530", PaperRef(ARXIV, "1611.03530")),
        ("journals/corr/1608.06993", PaperRef(ARXIV, "1608.06993")),
        ("journals/corr/abs-1608-06993", PaperRef(ARXIV, "1608.06993")),
        ("conf/icml/FinnAL17", PaperRef(DBLP, "conf/icml/FinnAL17")),
        ("conf/nips/KrizhevskySH12", PaperRef(DBLP, "conf/nips/KrizhevskySH12")),
        ("journals/corr/LinDGHHB16", PaperRef(DBLP, "journals/corr/LinDGHHB16")),
        (
            "http://www.shortscience.org/paper?bibtexKey=journals/corr/1608.06993",
            PaperRef(ARXIV, "1608.06993"),
        ),
        ("Mask R-CNN", PaperRef(TITLE, "Mask R-CNN")),
        (
            "understanding  deep learning\nrequires rethinking",
            PaperRef(TITLE, "understanding deep learning requires rethinking"),
        ),
        (
            "Apprentissage profond: généralisation",
            PaperRef(TITLE, "Apprentissage profond: généralisation"),
        ),
    ],
)
def test_reference_forms(text: str, expected: PaperRef) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "1611.035",
        "1501.0001",  # from 2015 on, ids have five digits
        "0612.12345",  # before 2015, four
        "1613.03530",  # no thirteenth month
        "arXiv:abc",
        "arXiv:",
        "https://arxiv.org/abs/",
        "https://arxiv.org/abs/notanid",
        "10.1234",
        "doi:banana",
        "https://doi.org/nope",
        "https://example.com/paper.pdf",
        "!!!",
        "123",
    ],
)
def test_malformed_references_name_the_accepted_forms(text: str) -> None:
    with pytest.raises(MalformedReference) as err:
        parse_reference(text)
    assert ACCEPTED_FORMS in str(err.value)


def test_alias_keys() -> None:
    assert parse_reference("1611.03530v2").alias == "arxiv:1611.03530"
    assert parse_reference("1611.03530v2").versioned_id == "1611.03530v2"
    assert parse_reference("conf/icml/FinnAL17").alias == "dblp:conf/icml/finnal17"
    assert parse_reference("10.1109/CVPR.2016.90").alias == "doi:10.1109/cvpr.2016.90"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("have you read https://arxiv.org/abs/1512.03385?", PaperRef(ARXIV, "1512.03385")),
        ("see (https://doi.org/10.1038/nature14539).", PaperRef(DOI, "10.1038/nature14539")),
        ("it's arXiv:1611.03530v2, great read", PaperRef(ARXIV, "1611.03530", 2)),
        ("nothing to see at https://example.com", None),
        (
            "bad https://arxiv.org/abs/99 then https://arxiv.org/abs/1703.06870",
            PaperRef(ARXIV, "1703.06870"),
        ),
        ("just some words", None),
    ],
)
def test_find_reference_in_a_message(message: str, expected: PaperRef | None) -> None:
    assert find_reference(message) == expected


@pytest.mark.parametrize(
    "text", ["\u202e" * 4000, "1" * 5000 + "v", "doi:10.1/" + "\u200b" * 3000 + " x"]
)
def test_a_huge_malformed_reference_is_quoted_short(text: str) -> None:
    with pytest.raises(MalformedReference) as refused:
        parse_reference(text)
    message = str(refused.value)
    assert len(message) < 1000  # a chat message holds 4,096 characters; escaping may grow it
    assert "…" in message
