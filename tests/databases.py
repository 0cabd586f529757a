"""Throw-away databases on every backend the tests cover.

SQLite always works. PostgreSQL and MariaDB/MySQL are used when their servers answer
(by default the local ones: ``postgresql+psycopg2://postgres@127.0.0.1:5432`` and
``mysql+pymysql://root@127.0.0.1:3306``; override with ``DCMANAGER_TEST_POSTGRESQL_URL``
and ``DCMANAGER_TEST_MYSQL_URL``). When a server does not answer, its tests are skipped,
except under ``CI=true``, where they fail (see :mod:`tests.services`).
"""

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy
from sqlalchemy.engine import Engine
from sqlalchemy.engine import make_url

from tests import services

BACKENDS = ("sqlite", "postgresql", "mysql")

SERVER_URLS = {
    "postgresql": os.environ.get(
        "DCMANAGER_TEST_POSTGRESQL_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    ),
    "mysql": os.environ.get("DCMANAGER_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}

_reachable: dict[str, str | None] = {}


def _server_error(backend: str) -> str | None:
    """None if the backend's server answers, else why not (remembered per run)."""
    if backend not in _reachable:
        engine = sqlalchemy.create_engine(SERVER_URLS[backend], connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                _reachable[backend] = None
        except sqlalchemy.exc.OperationalError as exc:
            _reachable[backend] = str(exc).splitlines()[0]
        finally:
            engine.dispose()
    return _reachable[backend]


def require_backend(backend: str) -> None:
    """Skip (or, under CI=true, fail) when the backend's server is unreachable."""
    if backend == "sqlite":
        return
    error = _server_error(backend)
    if error is None:
        return
    services.unavailable(
        f"{backend} server at {make_url(SERVER_URLS[backend])!r} unreachable: {error}"
    )


@contextlib.contextmanager
def temporary_database(backend: str, tmp_path) -> Iterator[str]:
    """A URL of a new, empty database on ``backend``, dropped afterwards."""
    require_backend(backend)
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/dcmanager-test.sqlite"
        return
    name = f"dcmtest_{uuid.uuid4().hex[:12]}"
    server_url = make_url(SERVER_URLS[backend])
    # No pool: a test may restart the server between the CREATE and the DROP.
    admin = sqlalchemy.create_engine(
        server_url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool
    )
    quoted = admin.dialect.identifier_preparer.quote(name)
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {quoted}"))
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            else:
                conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {quoted}"))
        admin.dispose()


def create_engine(url: str) -> Engine:
    from oslo_db.sqlalchemy import engines

    return engines.create_engine(url, sqlite_fk=True)
