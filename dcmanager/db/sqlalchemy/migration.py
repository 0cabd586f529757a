"""Schema migrations with alembic, on the engine of ``[database] connection``."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
from sqlalchemy.engine import Engine

from dcmanager.common import exception
from dcmanager.db import session

_ALEMBIC_INI = os.path.join(os.path.dirname(__file__), "alembic.ini")


def _run(engine: Engine | None, func, *args) -> None:
    engine = engine or session.get_engine()
    config = alembic_config.Config(_ALEMBIC_INI)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        func(config, *args)


def upgrade(revision: str = "head", engine: Engine | None = None) -> None:
    """Upgrade the database to ``revision`` (default: the newest)."""
    engine = engine or session.get_engine()
    session.use_wal(engine)
    _run(engine, alembic_command.upgrade, revision)


def version(engine: Engine | None = None) -> str | None:
    """The database's current revision, or None if it was never migrated."""
    engine = engine or session.get_engine()
    with engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    """The newest revision this code knows."""
    script = alembic_script.ScriptDirectory.from_config(alembic_config.Config(_ALEMBIC_INI))
    return script.get_current_head()


def check_current(engine: Engine | None = None) -> None:
    """:raises exception.SchemaOutOfDate: the database is not at :func:`head`."""
    current, newest = version(engine), head()
    if current != newest:
        raise exception.SchemaOutOfDate(current=current or "none (empty database)", head=newest)
