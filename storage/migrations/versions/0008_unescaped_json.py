"""Papers' authors and categories stored before non-ASCII was kept as written get rewritten.

`J\\u00fcrgen` becomes `Jürgen`: the same JSON value, but now the full-text index (the
SQLite update trigger, the PostgreSQL generated column) holds the word people search for.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # jsonb holds the decoded text; json keeps it as is
        op.execute(
            r"UPDATE papers SET authors = authors::jsonb::json, "
            r"categories = categories::jsonb::json "
            r"WHERE authors::text LIKE '%\\u%' OR categories::text LIKE '%\\u%'"
        )
        return
    escaped = bind.execute(
        sa.text(
            r"SELECT id, authors, categories FROM papers "
            r"WHERE authors LIKE '%\u%' OR categories LIKE '%\u%'"
        )
    ).all()
    rewrite = sa.text(
        "UPDATE papers SET authors = :authors, categories = :categories WHERE id = :id"
    )
    for start in range(0, len(escaped), _BATCH):
        bind.execute(
            rewrite,
            [
                {"id": id_, "authors": _unescaped(authors), "categories": _unescaped(categories)}
                for id_, authors, categories in escaped[start : start + _BATCH]
            ],
        )


def _unescaped(stored: str | None) -> str | None:
    return None if stored is None else json.dumps(json.loads(stored), ensure_ascii=False)


def downgrade() -> None:
    """Nothing to undo: the values are the same JSON."""
