"""Parse what people type to name a paper into one `PaperRef`.

Accepted forms (case-insensitive where the scheme is):

- arXiv ids, new style ``1611.03530``, ``1611.03530v2``, ``2101.00001`` and old style
  ``hep-th/9901001``, ``math.GT/0309136``; with or without an ``arXiv:`` prefix;
- arxiv.org ``abs`` and ``pdf`` URLs (``www.``/``export.`` hosts, versions, ``.pdf``);
- DOIs, ``doi:`` prefixed or as doi.org URLs; arXiv DOIs ``10.48550/arXiv.<id>`` are arXiv;
- DBLP-style keys ``journals/corr/1608.06993`` (arXiv) and ``conf/icml/FinnAL17`` (an alias),
  also inside ShortScience ``paper?bibtexKey=`` URLs;
- anything else with words in it is a title search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs, unquote, urlsplit

ACCEPTED_FORMS = (
    "an arXiv id (1611.03530, 1611.03530v2, hep-th/9901001), "
    "an arxiv.org link (https://arxiv.org/abs/1611.03530), "
    "a DOI (10.1145/3446776 or https://doi.org/10.1145/3446776), "
    "a DBLP key (conf/icml/FinnAL17), or words from the title"
)


class RefKind(StrEnum):
    """What a reference names a paper by."""

    ARXIV = "arxiv"
    DOI = "doi"
    DBLP = "dblp"
    TITLE = "title"


def _quoted(text: str, limit: int = 60) -> str:
    """`text` quoted for an error message, shortened: a message may hold thousands of characters."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


class MalformedReference(ValueError):
    """The text looks like an identifier but is not a valid one."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"{problem}. Send {ACCEPTED_FORMS}.")
        self.text = text
        self.problem = problem


@dataclass(frozen=True, slots=True)
class PaperRef:
    """A parsed reference: `value` is canonical (versionless arXiv id, lower-case DOI)."""

    kind: RefKind
    value: str
    version: int | None = None

    @property
    def alias(self) -> str:
        """The alias key this reference is stored under, e.g. ``arxiv:1611.03530``."""
        if self.kind is RefKind.DBLP:
            return f"dblp:{self.value.lower()}"
        return f"{self.kind}:{self.value}"

    @property
    def versioned_id(self) -> str:
        """The arXiv id with its version, when one was given."""
        return f"{self.value}v{self.version}" if self.version else self.value


_NEW_ID = re.compile(r"(?P<yymm>\d{4})\.(?P<num>\d{4,5})(?:v(?P<v>\d+))?")
_OLD_ID = re.compile(
    r"(?P<archive>[a-z]+(?:-[a-z]+)?)(?P<cls>\.[a-z]{2})?/(?P<num>\d{7})(?:v(?P<v>\d+))?",
    re.IGNORECASE,
)
_ARXIV_PREFIX = re.compile(r"^arxiv\s*:\s*", re.IGNORECASE)
_ARXIV_URL = re.compile(r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/", re.IGNORECASE)
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_DOI_PREFIX = re.compile(r"^doi\s*:\s*", re.IGNORECASE)
_DOI_URL = re.compile(r"^(?:https?://)?(?:dx\.)?doi\.org/", re.IGNORECASE)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
_DBLP = re.compile(r"^(?:journals|conf|books|phd|series|reference|tr|persons)/[\w.-]+/[\w.:-]+$")
_CORR_ABS = re.compile(r"^abs-(\d{4})-(\d{4,5})(?:v(\d+))?$")
_WORD = re.compile(r"\w{2,}")
_LINK_IN_TEXT = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/\S+"
    r"|(?:https?://)?(?:dx\.)?doi\.org/\S+"
    r"|\barxiv\s*:\s*\S+"
    r"|\bdoi\s*:\s*10\.\S+",
    re.IGNORECASE,
)


def _valid_new_id(yymm: str, num: str) -> bool:
    year, month = int(yymm[:2]), int(yymm[2:])
    if not 1 <= month <= 12 or (year, month) < (7, 4):
        return False
    return len(num) == (5 if (year, month) >= (15, 1) else 4)


def parse_arxiv_id(text: str) -> PaperRef | None:
    """Parse a bare arXiv id; None if `text` is not one, `MalformedReference` if nearly."""
    candidate = text.strip()
    if match := _NEW_ID.fullmatch(candidate):
        if not _valid_new_id(match["yymm"], match["num"]):
            raise MalformedReference(text, f"{_quoted(candidate)} is not a valid arXiv id")
        version = int(match["v"]) if match["v"] else None
        return PaperRef(RefKind.ARXIV, f"{match['yymm']}.{match['num']}", version)
    if match := _OLD_ID.fullmatch(candidate):
        version = int(match["v"]) if match["v"] else None
        return PaperRef(RefKind.ARXIV, f"{match['archive'].lower()}/{match['num']}", version)
    return None


def _strip_version_suffix(path: str) -> str:
    path = unquote(path.split("?", 1)[0].split("#", 1)[0]).strip("/")
    return path.removesuffix(".pdf")


def _parse_arxiv(text: str, candidate: str) -> PaperRef:
    ref = parse_arxiv_id(candidate)
    if ref is None:
        raise MalformedReference(text, f"{_quoted(candidate or text)} is not a valid arXiv id")
    return ref


def _parse_doi(text: str, doi: str) -> PaperRef:
    doi = unquote(doi).strip().rstrip(".,;")
    if doi.endswith(")") and doi.count("(") < doi.count(")"):
        doi = doi[:-1]
    if not _DOI.fullmatch(doi):
        raise MalformedReference(text, f"{_quoted(doi)} is not a valid DOI")
    if arxiv := _ARXIV_DOI.match(doi):
        return _parse_arxiv(text, arxiv.group(1))
    return PaperRef(RefKind.DOI, doi.lower())


def _parse_dblp(key: str) -> PaperRef:
    parts = key.split("/")
    if parts[:2] == ["journals", "corr"]:
        tail = parts[2]
        if abs_match := _CORR_ABS.match(tail):
            yymm, num, version = abs_match.groups()
            tail = f"{yymm}.{num}" + (f"v{version}" if version else "")
        try:
            if (ref := parse_arxiv_id(tail)) is not None:
                return ref
        except MalformedReference:
            pass
    return PaperRef(RefKind.DBLP, key)


def parse_reference(text: str) -> PaperRef:
    """Parse one reference; raises `MalformedReference` naming the accepted forms."""
    candidate = text.replace("\x00", "").strip().strip("<>").strip()
    if not candidate:
        raise MalformedReference(text, "The reference is empty")
    if _ARXIV_PREFIX.match(candidate):
        return _parse_arxiv(text, _ARXIV_PREFIX.sub("", candidate))
    if _ARXIV_URL.match(candidate):
        return _parse_arxiv(text, _strip_version_suffix(_ARXIV_URL.sub("", candidate)))
    if _DOI_URL.match(candidate):
        return _parse_doi(text, _DOI_URL.sub("", candidate).split("?", 1)[0].split("#", 1)[0])
    if _DOI_PREFIX.match(candidate):
        return _parse_doi(text, _DOI_PREFIX.sub("", candidate))
    if candidate.startswith("10.") and "/" in candidate and " " not in candidate:
        return _parse_doi(text, candidate)
    if "bibtexKey=" in candidate:
        keys = parse_qs(urlsplit(candidate).query).get("bibtexKey")
        if keys:
            return _parse_dblp(keys[0])
    if _DBLP.match(candidate):
        return _parse_dblp(candidate)
    if (ref := parse_arxiv_id(candidate)) is not None:
        return ref
    if re.fullmatch(r"[\d.v/]+", candidate) or candidate.lower().startswith(
        ("http://", "https://")
    ):
        raise MalformedReference(text, f"{_quoted(candidate)} is not an identifier I know")
    if not _WORD.search(candidate):
        raise MalformedReference(text, f"{_quoted(candidate)} has no words to search for")
    return PaperRef(RefKind.TITLE, " ".join(candidate.split()))


def find_reference(message: str) -> PaperRef | None:
    """The first arXiv or DOI link in a free-text message, or None if it holds none."""
    for match in _LINK_IN_TEXT.finditer(message):
        try:
            ref = parse_reference(match.group(0).rstrip(".,;:!?)]>'\""))
        except MalformedReference:
            continue
        if ref.kind is not RefKind.TITLE:
            return ref
    return None
