"""What StarlingX's client reads of a subcloud: its management network, and the release
of its last prestage.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from dcmanager.db.sqlalchemy import types as db_types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NETWORK_COLUMNS = (
    "management_subnet",
    "management_start_ip",
    "management_end_ip",
    "management_gateway_ip",
    "systemcontroller_gateway_ip",
)


def upgrade() -> None:
    with op.batch_alter_table("subclouds", table_kwargs=db_types.TABLE_OPTIONS) as batch:
        for column in NETWORK_COLUMNS:
            batch.add_column(sa.Column(column, sa.String(64), nullable=True))
        batch.add_column(sa.Column("prestage_software_version", sa.String(32), nullable=True))
