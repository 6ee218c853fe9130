"""The five papers and summaries of the real ShortScience page in shared/seed, parsed.

The page is a text capture: each summary is one line (its Markdown line breaks were lost
in the capture) after a ``[link]`` line, ending in `` |``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache

from tests.paths import SEED_PAGE

_VENUE = re.compile(r"^(?P<venue>.+?) - (?P<year>\d{4}) via ")

ARXIV_IDS = {
    "Understanding deep learning requires rethinking generalization": "1611.03530",
    "Deep Residual Learning for Image Recognition": "1512.03385",
    "Mask R-CNN": "1703.06870",
    "Unsupervised Representation Learning with Deep Convolutional Generative Adversarial "
    "Networks": "1511.06434",
}


@dataclass(frozen=True)
class SeedPaper:
    """One paper of the seed page with its one community summary."""

    title: str
    authors: list[str]
    venue: str
    year: int
    keywords: list[str]
    summary: str

    @property
    def arxiv_id(self) -> str | None:
        """The paper's arXiv id (AlexNet has none)."""
        return ARXIV_IDS.get(self.title)


def _header(block: str) -> tuple[str, list[str], str, int, list[str]]:
    lines = [line for line in block.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("- ", "Welcome to"))]
    title, authors = lines[0], lines[1]
    venue = _VENUE.match(lines[2])
    assert venue, lines[2]
    keywords = lines[3].removeprefix("Keywords: ").split(", ")
    return title, authors.split(" and "), venue["venue"], int(venue["year"]), keywords


@cache
def seed_papers() -> tuple[SeedPaper, ...]:
    """The five seed papers, in page order."""
    segments = SEED_PAGE.read_text(encoding="utf-8").split("\n[link]\n")
    papers: list[SeedPaper] = []
    for before, after in itertools.pairwise(segments):
        header_block = before if not papers else before.split("\n", 1)[1]
        title, authors, venue, year, keywords = _header(header_block)
        summary = after.split("\n", 1)[0].removesuffix(" |")
        papers.append(SeedPaper(title, authors, venue, year, keywords, summary))
    return tuple(papers)


def seed_paper(title_start: str) -> SeedPaper:
    """The seed paper whose title starts with `title_start`."""
    return next(p for p in seed_papers() if p.title.startswith(title_start))
