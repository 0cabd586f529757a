"""Alembic environment: runs migrations on the connection dcmanager hands over."""

from alembic import context

from dcmanager.db.sqlalchemy import models

config = context.config


def run_migrations() -> None:
    connection = config.attributes["connection"]
    context.configure(connection=connection, target_metadata=models.Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
