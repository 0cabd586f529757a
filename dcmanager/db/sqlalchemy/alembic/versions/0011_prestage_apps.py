"""What applications' images each subcloud was prestaged with (``app@version``), so
that an app-update can report (and require) them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subclouds", sa.Column("prestage_apps", oslo_types.JsonEncodedList()))
