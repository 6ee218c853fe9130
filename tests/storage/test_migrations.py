"""Migrations build the schema from empty, match the models, and go back down cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from storage.catalog.search import search_papers
from storage.db import Database, alembic_config
from storage.models import Base

# The full-text index is dialect-specific SQL in the migration, not part of the models.
FULL_TEXT_OBJECTS = ("papers_fts", "search_vector")


async def test_upgrade_from_empty_creates_every_table(db: Database) -> None:
    await db.downgrade("base")
    assert await db.current_revision() is None
    await db.upgrade()
    async with db.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables
    assert (
        await db.current_revision()
        == ScriptDirectory.from_config(alembic_config()).get_current_head()
    )


async def test_models_and_migrations_agree(db: Database) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        return [
            change
            for change in compare_metadata(context, Base.metadata)
            if not any(name in str(change) for name in FULL_TEXT_OBJECTS)
        ]

    async with db.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_authors_stored_escaped_are_rewritten_and_found(db: Database) -> None:
    """Rows from before JSON kept non-ASCII as written: 0008 makes their authors searchable."""
    await db.downgrade("0007")
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO papers (arxiv_id, title, authors, categories, source, created_at) "
                "VALUES ('1404.7828', 'Deep Learning in Neural Networks: An Overview', "
                ":authors, :categories, 'arxiv', '2014-04-30 00:00:00')"
            ),
            {"authors": '["J\\u00fcrgen Schmidhuber"]', "categories": '["cs.NE"]'},
        )

    async def by_author() -> list[str]:
        async with db.sessions() as session:
            return [p.title for p in await search_papers(session, "Jürgen Schmidhuber")]

    assert await by_author() == [], "escaped, the index holds 'u00fcrgen'"
    await db.upgrade()
    assert await by_author() == ["Deep Learning in Neural Networks: An Overview"]
    async with db.engine.connect() as conn:
        stored = await conn.scalar(text("SELECT authors FROM papers"))
    assert "Jürgen" in str(stored)
