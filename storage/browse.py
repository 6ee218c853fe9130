"""Browsing by venue and year, as ShortScience lists summaries "by paper, conference, and year".

Only approved summaries count. A venue-year also has a short `VenueYear.key`, so an adapter
can name it in a 64-byte Telegram callback and find it again with `find_venue_year`.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Paper, Summary, SummaryStatus


class VenueYear(NamedTuple):
    """A venue and year with how many approved summaries its papers have."""

    venue: str
    year: int | None
    summaries: int

    @property
    def key(self) -> str:
        """A short stable name for this venue-year (12 hex digits)."""
        return venue_key(self.venue, self.year)


def venue_key(venue: str, year: int | None) -> str:
    """A short stable name for a venue-year, fit for a callback."""
    return hashlib.sha256(f"{venue}\x00{year or ''}".encode()).hexdigest()[:12]


async def venues_with_summaries(
    session: AsyncSession, *, limit: int | None = None, offset: int = 0
) -> list[VenueYear]:
    """Venues and years whose papers have approved summaries, newest year first, then venue.

    Papers without a venue are left out; a venue without a year comes after the dated ones.
    """
    count = func.count(Summary.id)
    stmt = (
        select(Paper.venue, Paper.year, count)
        .join(Summary, Summary.paper_id == Paper.id)
        .where(Summary.status == SummaryStatus.APPROVED, Paper.venue.is_not(None))
        .group_by(Paper.venue, Paper.year)
        .order_by(Paper.year.desc().nulls_last(), Paper.venue)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = await session.execute(stmt)
    return [VenueYear(venue, year, n) for venue, year, n in rows.tuples() if venue is not None]


async def find_venue_year(session: AsyncSession, key: str) -> VenueYear | None:
    """The venue-year whose `VenueYear.key` this is, if it still has approved summaries."""
    for venue_year in await venues_with_summaries(session):
        if venue_year.key == key:
            return venue_year
    return None


def _in_venue_year(venue: str, year: int | None) -> list[ColumnElement[bool]]:
    return [
        Paper.venue == venue,
        Paper.year.is_(None) if year is None else Paper.year == year,
        Summary.status == SummaryStatus.APPROVED,
    ]


async def venue_summaries(
    session: AsyncSession, venue: str, year: int | None, *, limit: int = 10, offset: int = 0
) -> list[Summary]:
    """The approved summaries of one venue-year's papers, best voted first, then oldest."""
    stmt = (
        select(Summary)
        .join(Paper, Summary.paper_id == Paper.id)
        .options(joinedload(Summary.paper), joinedload(Summary.author))
        .where(*_in_venue_year(venue, year))
        .order_by(Summary.score.desc(), Summary.approved_at, Summary.id)
        .limit(limit)
        .offset(offset)
    )
    return list(await session.scalars(stmt))


async def count_venue_summaries(session: AsyncSession, venue: str, year: int | None) -> int:
    """How many approved summaries one venue-year has (for paging)."""
    count = await session.scalar(
        select(func.count(Summary.id))
        .join(Paper, Summary.paper_id == Paper.id)
        .where(*_in_venue_year(venue, year))
    )
    return int(count or 0)
