"""The release store: releases, their package files and their container images.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from dcmanager.db.sqlalchemy import types as db_types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False, unique=True),
        sa.Column("created_at", db_types.Timestamp, nullable=False),
        sa.Column("updated_at", db_types.Timestamp, nullable=True),
        **db_types.TABLE_OPTIONS,
    )
    op.create_table(
        "release_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "release_id",
            sa.Integer(),
            sa.ForeignKey("releases.id", name="fk_release_files_release_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.UniqueConstraint("release_id", "path", name="uq_release_files_release_id_path"),
        sa.Index("ix_release_files_digest", "digest"),
        **db_types.TABLE_OPTIONS,
    )
    op.create_table(
        "release_images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "release_id",
            sa.Integer(),
            sa.ForeignKey("releases.id", name="fk_release_images_release_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(512), nullable=False),
        sa.UniqueConstraint("release_id", "position", name="uq_release_images_release_id_position"),
        **db_types.TABLE_OPTIONS,
    )
