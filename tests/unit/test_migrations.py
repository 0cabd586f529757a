"""Alembic migrations build exactly the schema of the models, on every backend."""

import pytest
import sqlalchemy
from alembic import autogenerate
from alembic import migration as alembic_migration

from dcmanager.common import exception
from dcmanager.db.sqlalchemy import migration
from dcmanager.db.sqlalchemy import models


def test_upgrade_empty_database_to_head_matches_models(empty_engine):
    assert migration.version(empty_engine) is None

    migration.upgrade("head", engine=empty_engine)

    assert migration.version(empty_engine) == migration.head()
    with empty_engine.connect() as conn:
        context = alembic_migration.MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        diff = autogenerate.compare_metadata(context, models.Base.metadata)
    assert diff == []


def test_head_has_the_default_group_with_id_1(empty_engine):
    migration.upgrade("head", engine=empty_engine)

    with empty_engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text(
                "SELECT id, name, update_apply_type, max_parallel_subclouds FROM subcloud_groups"
            )
        ).all()
    assert [tuple(row) for row in rows] == [(1, "Default", "parallel", 2)]


def test_upgrade_is_idempotent(empty_engine):
    migration.upgrade("head", engine=empty_engine)
    migration.upgrade("head", engine=empty_engine)

    assert migration.version(empty_engine) == migration.head()


def test_check_current_names_the_fix(empty_engine):
    with pytest.raises(exception.SchemaOutOfDate, match="dcmanager-manage .* db_sync"):
        migration.check_current(empty_engine)

    migration.upgrade("head", engine=empty_engine)
    migration.check_current(empty_engine)
