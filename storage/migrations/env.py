"""Alembic environment: runs on the connection `storage.db.Database` hands over."""

from __future__ import annotations

from alembic import context

from storage.models import Base

# Full-text objects are dialect-specific SQL in the migrations, not part of the models.
FULL_TEXT_OBJECTS = ("papers_fts", "search_vector")


def include_object(obj: object, name: str | None, *_: object) -> bool:
    """Leave the full-text index out of autogenerate's comparison."""
    return not (name and name.startswith(FULL_TEXT_OBJECTS))


connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we always pass one
    raise RuntimeError("run migrations through storage.db.Database.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
