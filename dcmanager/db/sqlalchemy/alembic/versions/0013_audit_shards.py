"""The audit's shards of the fleet, leased by the audit processes, with the processes
that share them; and what the audit last found of each site's applications.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

from dcmanager.db.sqlalchemy import types as db_types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Subcloud ``id`` belongs to shard ``id % SHARDS``: enough shards for dozens of audit
# processes, few enough that leasing them all is one short transaction.
SHARDS = 64


def upgrade() -> None:
    shards = op.create_table(
        "audit_shards",
        sa.Column("shard", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", db_types.Timestamp, nullable=True),
        **db_types.TABLE_OPTIONS,
    )
    op.bulk_insert(shards, [{"shard": number} for number in range(SHARDS)])
    op.create_table(
        "audit_members",
        sa.Column("owner", sa.String(255), primary_key=True),
        sa.Column("lease_expires_at", db_types.Timestamp, nullable=False),
        **db_types.TABLE_OPTIONS,
    )
    op.add_column("subclouds", sa.Column("app_sync_status", sa.String(32), nullable=True))
    op.add_column("subclouds", sa.Column("app_sync_details", oslo_types.JsonEncodedList()))
