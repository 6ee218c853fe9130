"""An index for claiming: each channel's due rows are a seek, not a scan of its history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_publications_channel_state_next",
        "publications",
        ["channel", "state", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_publications_channel_state_next", table_name="publications")
