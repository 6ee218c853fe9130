"""Where the tests find shared real data: ``../shared`` beside the checkout, and tests/data."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED_PAGE = SHARED / "seed" / "shortscience-home.txt"
ARXIV_CORPUS = SHARED / "corpus" / "arxiv-api"
CROSSREF_CORPUS = SHARED / "corpus" / "crossref-api"
PAPERNOTES = SHARED / "corpus" / "papernotes"
DATA = Path(__file__).resolve().parent / "data"
