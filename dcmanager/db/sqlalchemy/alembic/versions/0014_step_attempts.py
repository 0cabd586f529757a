"""A strategy step's attempts: the one running (from 1), the earlier ones' outcomes,
and when a step waiting to be retried may start again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

from dcmanager.db.sqlalchemy import types as db_types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "strategy_steps",
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
    )
    op.add_column(
        "strategy_steps", sa.Column("history", oslo_types.JsonEncodedList(mysql_as_long=True))
    )
    op.add_column("strategy_steps", sa.Column("retry_at", db_types.Timestamp, nullable=True))
