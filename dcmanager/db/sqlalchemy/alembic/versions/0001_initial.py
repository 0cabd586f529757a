"""Initial schema: subcloud groups, subclouds, strategies and strategy steps.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import datetime

import sqlalchemy as sa
from alembic import op
from oslo_db.sqlalchemy import types as oslo_types

from dcmanager.db.sqlalchemy import types as db_types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", db_types.Timestamp, nullable=False),
        sa.Column("updated_at", db_types.Timestamp, nullable=True),
    ]


def upgrade() -> None:
    groups = op.create_table(
        "subcloud_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("update_apply_type", sa.String(32), nullable=False),
        sa.Column("max_parallel_subclouds", sa.Integer(), nullable=False),
        *_timestamps(),
        **db_types.TABLE_OPTIONS,
    )
    op.create_table(
        "subclouds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("location", sa.String(255), nullable=True),
        sa.Column("software_version", sa.String(32), nullable=True),
        sa.Column("management_state", sa.String(32), nullable=False),
        sa.Column("availability_status", sa.String(32), nullable=False),
        sa.Column("deploy_status", sa.String(64), nullable=False),
        sa.Column("backup_status", sa.String(64), nullable=True),
        sa.Column("prestage_status", sa.String(64), nullable=True),
        sa.Column("prestage_versions", sa.String(255), nullable=True),
        sa.Column("error_description", sa.Text(), nullable=True),
        sa.Column("region_name", sa.String(255), nullable=False, unique=True),
        sa.Column("endpoint", sa.String(1024), nullable=False),
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("subcloud_groups.id", name="fk_subclouds_group_id"),
            nullable=False,
        ),
        *_timestamps(),
        **db_types.TABLE_OPTIONS,
    )
    op.create_index("ix_subclouds_group_id", "subclouds", ["group_id"])
    op.create_table(
        "strategies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slot", sa.Integer(), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subcloud_apply_type", sa.String(32), nullable=False),
        sa.Column("max_parallel_subclouds", sa.Integer(), nullable=False),
        sa.Column("stop_on_failure", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("extra_args", oslo_types.JsonEncodedDict(), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", db_types.Timestamp, nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("started_at", db_types.Timestamp, nullable=True),
        sa.Column("finished_at", db_types.Timestamp, nullable=True),
        *_timestamps(),
        **db_types.TABLE_OPTIONS,
    )
    op.create_table(
        "strategy_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "strategy_id",
            sa.Integer(),
            sa.ForeignKey(
                "strategies.id", name="fk_strategy_steps_strategy_id", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column(
            "subcloud_id",
            sa.Integer(),
            sa.ForeignKey("subclouds.id", name="fk_strategy_steps_subcloud_id"),
            nullable=False,
        ),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", db_types.Timestamp, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("operation", oslo_types.JsonEncodedDict(), nullable=True),
        sa.Column("progress", oslo_types.JsonEncodedDict(), nullable=True),
        sa.Column("started_at", db_types.Timestamp, nullable=True),
        sa.Column("finished_at", db_types.Timestamp, nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("strategy_id", "subcloud_id", name="uniq_strategy_steps_subcloud"),
        **db_types.TABLE_OPTIONS,
    )
    op.create_index("ix_strategy_steps_subcloud_id", "strategy_steps", ["subcloud_id"])
    op.create_index("ix_strategy_steps_strategy_state", "strategy_steps", ["strategy_id", "state"])
    op.create_index("ix_strategy_steps_lease", "strategy_steps", ["owner", "lease_expires_at"])

    # The Default group always exists. It is the first row, so it gets id 1 on
    # every backend without touching the id sequence.
    op.bulk_insert(
        groups,
        [
            {
                "name": "Default",
                "description": "Default Subcloud Group",
                "update_apply_type": "parallel",
                "max_parallel_subclouds": 2,
                "created_at": datetime.datetime.now(datetime.UTC).replace(tzinfo=None),
            }
        ],
    )
