"""Channel health (paused, last success, last error) and the ids of a posted thread.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_states",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_states")),
    )
    with op.batch_alter_table("publications") as batch:
        batch.add_column(sa.Column("thread_ids", sa.JSON(), nullable=False, server_default="[]"))
        batch.create_index("ix_publications_channel_posted_at", ["channel", "posted_at"])


def downgrade() -> None:
    with op.batch_alter_table("publications") as batch:
        batch.drop_index("ix_publications_channel_posted_at")
        batch.drop_column("thread_ids")
    op.drop_table("channel_states")
