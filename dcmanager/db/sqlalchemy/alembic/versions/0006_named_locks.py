"""Named locks: rows that actors working outside the database (the release store's
collector and the releases naming blobs) lock to take turns.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from dcmanager.db.sqlalchemy import types as db_types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    locks = op.create_table(
        "named_locks",
        sa.Column("name", sa.String(64), primary_key=True),
        **db_types.TABLE_OPTIONS,
    )
    op.bulk_insert(locks, [{"name": "release-store"}])
