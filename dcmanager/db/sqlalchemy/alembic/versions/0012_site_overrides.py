"""An application's chart may have overrides of one subcloud's besides its own:
``subcloud_id`` joins the key (0: the application's, for every site).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite changes a constraint by copying the table.
    with op.batch_alter_table("helm_overrides") as batch:
        batch.add_column(sa.Column("subcloud_id", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_helm_overrides_app_chart", type_="unique")
        batch.create_unique_constraint(
            "uq_helm_overrides_app_chart_site", ["app", "name", "namespace", "subcloud_id"]
        )
