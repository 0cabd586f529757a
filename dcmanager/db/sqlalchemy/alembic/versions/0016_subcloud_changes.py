"""Indexes on when each subcloud was registered and last changed, so that a client can
ask for the subclouds changed since a time (``?changed-since=``) at the cost of those
changes, not of the fleet.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_subclouds_created_at", "subclouds", ["created_at"])
    op.create_index("ix_subclouds_updated_at", "subclouds", ["updated_at"])
