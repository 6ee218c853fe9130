"""Where the tests find real data: tests/data, with a copy of the project's shared corpus."""

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SHARED = DATA / "shared"
SEED_PAGE = SHARED / "seed" / "shortscience-home.txt"
ARXIV_CORPUS = SHARED / "corpus" / "arxiv-api"
CROSSREF_CORPUS = SHARED / "corpus" / "crossref-api"
PAPERNOTES = SHARED / "corpus" / "papernotes"
