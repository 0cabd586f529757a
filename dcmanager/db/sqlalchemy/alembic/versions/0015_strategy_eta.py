"""What a strategy's estimated end is computed from: when each step entered its phase,
how long (and for a transfer, how many bytes) each phase it left took, and when its
progress was recorded; and the estimate.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

from dcmanager.db.sqlalchemy import types as db_types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "strategy_steps", sa.Column("phase_started_at", db_types.Timestamp, nullable=True)
    )
    op.add_column("strategy_steps", sa.Column("timings", oslo_types.JsonEncodedDict()))
    op.add_column("strategy_steps", sa.Column("progress_at", db_types.Timestamp, nullable=True))
    op.add_column("strategies", sa.Column("eta", db_types.Timestamp, nullable=True))
