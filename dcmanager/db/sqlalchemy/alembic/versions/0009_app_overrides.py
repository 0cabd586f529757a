"""Helm overrides belong to an application: ``app`` joins the chart and namespace.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite changes a constraint by copying the table.
    with op.batch_alter_table("helm_overrides") as batch:
        batch.add_column(sa.Column("app", sa.String(63), nullable=False, server_default=""))
        batch.drop_constraint("uq_helm_overrides_name_namespace", type_="unique")
        batch.create_unique_constraint("uq_helm_overrides_app_chart", ["app", "name", "namespace"])
