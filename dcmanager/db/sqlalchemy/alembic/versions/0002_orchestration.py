"""Orchestration: standalone prestage steps, preparations, audit failure counts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

from dcmanager.db.sqlalchemy import types as db_types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subclouds", table_kwargs=db_types.TABLE_OPTIONS) as batch:
        batch.add_column(
            sa.Column("audit_fail_count", sa.Integer(), nullable=False, server_default="0")
        )

    # A standalone prestage is a step of no strategy, with its own arguments.
    with op.batch_alter_table("strategy_steps", table_kwargs=db_types.TABLE_OPTIONS) as batch:
        batch.alter_column("strategy_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("extra_args", oslo_types.JsonEncodedDict(), nullable=True))
        batch.add_column(sa.Column("secret", sa.LargeBinary(), nullable=True))
        batch.create_index("ix_strategy_steps_state_lease", ["state", "lease_expires_at"])

    op.create_table(
        "prestage_preparations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "strategy_id",
            sa.Integer(),
            sa.ForeignKey(
                "strategies.id", name="fk_prestage_preparations_strategy_id", ondelete="CASCADE"
            ),
            nullable=False,
            unique=True,
        ),
        sa.Column("release", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", db_types.Timestamp, nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", db_types.Timestamp, nullable=False),
        sa.Column("updated_at", db_types.Timestamp, nullable=True),
        **db_types.TABLE_OPTIONS,
    )
