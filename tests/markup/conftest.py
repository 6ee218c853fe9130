"""Real data for the markup tests: the ShortScience seed page and the papernotes corpus."""

from __future__ import annotations

import pytest

from tests.paths import PAPERNOTES as PAPERNOTES_DIR
from tests.seed import seed_papers

PAPERNOTES = sorted(PAPERNOTES_DIR.glob("*.md"))

# The five summaries of the seed page, in page order, each with a phrase it must contain.
SEED_KEYS = {
    "zhang": "## Key contributions",
    "resnet": "## Evaluation",
    "alexnet": "## Training details",
    "maskrcnn": "#### Methodology",
    "dcgan": "# Deep Convolutional Generative Adversarial Nets",
}


@pytest.fixture(scope="session")
def seed_summaries() -> dict[str, str]:
    """The flattened Markdown of each seed summary, by short name."""
    bodies = [paper.summary for paper in seed_papers()]
    assert len(bodies) == len(SEED_KEYS)
    summaries = dict(zip(SEED_KEYS, bodies, strict=True))
    for name, phrase in SEED_KEYS.items():
        assert phrase in summaries[name]
    return summaries
