"""Each strategy's steps counted by state as they move, and the bytes its finished
transfers moved, so that a live view of the strategy reads a few rows instead of
counting its steps. The counts of a strategy that exists already are taken from its
steps (in share 0). And an index that reads a page of a strategy's steps in id order
without sorting them all.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from dcmanager.db.sqlalchemy import types as db_types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tallies = op.create_table(
        "strategy_tallies",
        # No foreign key: see dcmanager.db.sqlalchemy.models.StrategyTally.
        sa.Column("strategy_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("shard", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(64), primary_key=True),
        sa.Column("steps", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("bytes_moved", sa.BigInteger(), nullable=False, server_default="0"),
        **db_types.TABLE_OPTIONS,
    )
    op.create_index("ix_strategy_steps_strategy_id", "strategy_steps", ["strategy_id", "id"])
    steps = sa.table(
        "strategy_steps", sa.column("strategy_id", sa.Integer), sa.column("state", sa.String)
    )
    counted = op.get_bind().execute(
        sa.select(steps.c.strategy_id, steps.c.state, sa.func.count())
        .where(steps.c.strategy_id.is_not(None))
        .group_by(steps.c.strategy_id, steps.c.state)
    )
    rows = [
        {"strategy_id": strategy_id, "shard": 0, "state": state, "steps": count, "bytes_moved": 0}
        for strategy_id, state, count in counted
    ]
    if rows:
        op.bulk_insert(tallies, rows)
