"""A standalone step's arguments may be long: an application operation carries the
user overrides of its charts (MySQL's TEXT holds 64 KiB; the others have no limit).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "mysql":
        op.alter_column(
            "strategy_steps",
            "extra_args",
            type_=oslo_types.JsonEncodedDict(mysql_as_long=True),
            existing_type=oslo_types.JsonEncodedDict(),
            existing_nullable=True,
        )
