"""Helm chart overrides, and the system mode audits learn from each subcloud.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from dcmanager.db.sqlalchemy import types as db_types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subclouds", sa.Column("system_mode", sa.String(32), nullable=True))
    op.create_table(
        "helm_overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("user_overrides", db_types.LongText, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", db_types.Timestamp, nullable=False),
        sa.Column("updated_at", db_types.Timestamp, nullable=True),
        sa.UniqueConstraint("name", "namespace", name="uq_helm_overrides_name_namespace"),
        **db_types.TABLE_OPTIONS,
    )
