"""Drafts may also be a paper a moderator is entering by hand (``add_paper``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind IN ('summary', 'edit', 'reject_reason')"
NEW = "kind IN ('summary', 'edit', 'reject_reason', 'add_paper')"


def _swap(condition: str) -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.drop_constraint(op.f("ck_drafts_draftkind"), type_="check")
        batch.create_check_constraint("draftkind", condition)


def upgrade() -> None:
    _swap(NEW)


def downgrade() -> None:
    op.execute("DELETE FROM drafts WHERE kind = 'add_paper'")
    _swap(OLD)
