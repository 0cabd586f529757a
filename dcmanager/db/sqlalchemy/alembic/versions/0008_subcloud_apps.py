"""The applications at each site: one row per version a site has or had.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

from dcmanager.db.sqlalchemy import types as db_types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subcloud_apps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subcloud_id",
            sa.Integer(),
            sa.ForeignKey("subclouds.id", name="fk_subcloud_apps_subcloud_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("progress", sa.Text()),
        sa.Column("releases", oslo_types.JsonEncodedList()),
        sa.Column("phases", oslo_types.JsonEncodedDict()),
        sa.Column("created_at", db_types.Timestamp, nullable=False),
        sa.Column("updated_at", db_types.Timestamp),
        sa.UniqueConstraint("subcloud_id", "name", "version", name="uq_subcloud_apps_version"),
        **db_types.TABLE_OPTIONS,
    )
    op.create_index("ix_subcloud_apps_subcloud_id", "subcloud_apps", ["subcloud_id"])
