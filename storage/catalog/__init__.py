"""The paper catalog: reference parsing, arXiv look-ups and full-text search."""
