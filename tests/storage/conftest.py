"""Storage fixtures beyond the shared ones: the fake Crossref and a catalog that uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from storage.catalog.arxiv_source import ArxivSource
from storage.catalog.crossref_source import CrossrefSource
from storage.catalog.service import Catalog
from storage.db import Database
from tests.fakes.crossref import FakeCrossref

CONTACT = "team@shortsci.example.org"


@pytest.fixture
def fake_crossref() -> Iterator[FakeCrossref]:
    """A local Crossref REST API with the recorded works and ours."""
    with FakeCrossref() as fake:
        yield fake


@pytest.fixture
async def crossref_source(fake_crossref: FakeCrossref) -> AsyncIterator[CrossrefSource]:
    """A `CrossrefSource` aimed at the fake, with a contact address and a short timeout."""
    source = CrossrefSource(fake_crossref.url, contact_email=CONTACT, timeout=1.0)
    yield source
    await source.aclose()


@pytest.fixture
def crossref_catalog(
    db: Database, arxiv_source: ArxivSource, crossref_source: CrossrefSource
) -> Catalog:
    """The catalog over the test database, the fake arXiv and the fake Crossref."""
    return Catalog(db, arxiv_source, crossref=crossref_source)
