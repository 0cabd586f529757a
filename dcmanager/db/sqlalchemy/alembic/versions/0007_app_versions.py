"""The application catalog: one row per version of an application.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

from dcmanager.db.sqlalchemy import types as db_types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("md5", sa.String(32), nullable=False),
        sa.Column("details", oslo_types.JsonEncodedDict(mysql_as_long=True), nullable=False),
        sa.Column("created_at", db_types.Timestamp, nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_app_versions_name_version"),
        **db_types.TABLE_OPTIONS,
    )
