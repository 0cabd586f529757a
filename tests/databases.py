"""Throw-away databases on every backend the tests cover.

A test that needs a migrated database gets a copy of a template migrated once per test
process (:class:`Templates`): a file copy on SQLite; on PostgreSQL the process's one
migrated database, emptied and given the template's rows again (``TRUNCATE`` takes a
tenth of the time of ``CREATE DATABASE ... TEMPLATE``); on MariaDB/MySQL a new database
made by the template's own ``SHOW CREATE TABLE`` statements and rows. A test of the
migrations themselves starts from :func:`temporary_database`, which is empty.

SQLite always works. PostgreSQL and MariaDB/MySQL are used when their servers answer
(by default the local ones: ``postgresql+psycopg2://postgres@127.0.0.1:5432`` and
``mysql+pymysql://root@127.0.0.1:3306``; override with ``DCMANAGER_TEST_POSTGRESQL_URL``
and ``DCMANAGER_TEST_MYSQL_URL``). When a server does not answer, its tests are skipped,
except under ``CI=true``, where they fail (see :mod:`tests.services`).
"""

import contextlib
import os
import pathlib
import shutil
import threading
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import sqlalchemy
from sqlalchemy.engine import Engine
from sqlalchemy.engine import make_url

from tests import services

BACKENDS = ("sqlite", "postgresql", "mysql")

# What rebuilds or resets a database: SQL text, or an INSERT with its rows.
Script = list[str | tuple[sqlalchemy.Insert, list[dict]]]

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


def migrate(url: str) -> None:
    """Migrate the database at ``url`` to the newest revision in this process, as
    ``dcmanager-manage db_sync`` would (the e2e tests of that command run it for real;
    the others save a process start)."""
    from dcmanager.db.sqlalchemy import migration

    engine = create_engine(url)
    try:
        migration.upgrade("head", engine=engine)
    finally:
        engine.dispose()


def _admin(backend: str) -> Engine:
    # No pool: a test may restart the server between the CREATE and the DROP.
    return sqlalchemy.create_engine(
        make_url(SERVER_URLS[backend]),
        isolation_level="AUTOCOMMIT",
        poolclass=sqlalchemy.pool.NullPool,
    )


def _drop(admin: Engine, backend: str, name: str) -> None:
    quoted = admin.dialect.identifier_preparer.quote(name)
    force = " WITH (FORCE)" if backend == "postgresql" else ""
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {quoted}{force}"))


class Templates:
    """Migrated template databases, each made the first time a test asks for its backend
    (and variant), and copied for every test that follows.

    :param directory: where the SQLite template files are kept.
    :param migrate: migrates the database at a URL (and, for a variant, fills it).
    """

    def __init__(self, directory: pathlib.Path, migrate: Callable[[str, str], None]) -> None:
        self._directory = directory
        self._migrate = migrate
        self._lock = threading.Lock()
        self._made: dict[tuple[str, str], Any] = {}
        self._pg_databases: list[str] = []
        self._pg_in_use: set[str] = set()

    def _template(self, backend: str, variant: str) -> Any:
        with self._lock:
            if (backend, variant) not in self._made:
                self._made[backend, variant] = self._make(backend, variant)
            return self._made[backend, variant]

    def _make(self, backend: str, variant: str) -> Any:
        if backend == "sqlite":
            path = self._directory / f"{variant}.sqlite"
            self._migrate(f"sqlite:///{path}", variant)
            return str(path)
        name = f"dcmtpl_{uuid.uuid4().hex[:12]}"
        admin = _admin(backend)
        quoted = admin.dialect.identifier_preparer.quote(name)
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {quoted}"))
        url = make_url(SERVER_URLS[backend]).set(database=name)
        self._migrate(url.render_as_string(hide_password=False), variant)
        if backend == "postgresql":
            self._pg_databases.append(name)
            return [name, *_postgresql_reset(url)]
        statements = _mysql_script(url)
        _drop(admin, backend, name)
        return statements

    @contextlib.contextmanager
    def copy(self, backend: str, tmp_path, variant: str = "migrated") -> Iterator[str]:
        """A URL of a database holding what the template of ``backend`` holds (a new one,
        or on PostgreSQL the template itself, reset), dropped or reset afterwards."""
        require_backend(backend)
        template = self._template(backend, variant)
        if backend == "sqlite":
            path = pathlib.Path(tmp_path) / "dcmanager-test.sqlite"
            shutil.copyfile(template, path)
            yield f"sqlite:///{path}"
        elif backend == "postgresql":
            with self._postgresql(template[0], template[1:]) as url:
                yield url
        else:
            with self._mysql(template) as url:
                yield url

    @contextlib.contextmanager
    def _postgresql(self, name: str, reset: Script) -> Iterator[str]:
        if name in self._pg_in_use:
            raise RuntimeError("one PostgreSQL test database at a time per process")
        self._pg_in_use.add(name)
        url = make_url(SERVER_URLS["postgresql"]).set(database=name)
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            self._pg_in_use.discard(name)
            _terminate_others(name)
            engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
            try:
                with engine.begin() as conn:
                    _run(conn, reset)
            finally:
                engine.dispose()

    @contextlib.contextmanager
    def _mysql(self, script: Script) -> Iterator[str]:
        name = f"dcmtest_{uuid.uuid4().hex[:12]}"
        admin = _admin("mysql")
        quoted = admin.dialect.identifier_preparer.quote(name)
        try:
            with admin.connect() as conn:
                conn.execute(sqlalchemy.text(f"CREATE DATABASE {quoted}"))
                conn.execute(sqlalchemy.text(f"USE {quoted}"))
                _run(conn, script)
            yield (
                make_url(SERVER_URLS["mysql"])
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            _drop(admin, "mysql", name)
            admin.dispose()

    def drop(self) -> None:
        """Drop the PostgreSQL databases (the others are files, or dropped after use)."""
        for name in self._pg_databases:
            _drop(_admin("postgresql"), "postgresql", name)


def _terminate_others(name: str) -> None:
    """End the connections a test left open to database ``name`` (they would hold the
    locks its reset needs)."""
    admin = _admin("postgresql")
    with admin.connect() as conn:
        conn.execute(
            sqlalchemy.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    admin.dispose()


def _postgresql_reset(url) -> Script:
    """The statements that bring the migrated database at ``url`` back to what it holds
    now: every table emptied (the migrations' record aside), its rows put back, and its
    sequences where they are."""
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            metadata = sqlalchemy.MetaData()
            metadata.reflect(conn)
            tables = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
            names = ", ".join(engine.dialect.identifier_preparer.quote(t.name) for t in tables)
            statements = [f"TRUNCATE {names} RESTART IDENTITY CASCADE"]
            statements += _inserts(conn, tables)
            sequences = conn.exec_driver_sql(
                "SELECT schemaname, sequencename, last_value FROM pg_sequences"
                " WHERE last_value IS NOT NULL"
            ).all()
            statements += [
                f"SELECT setval('{schema}.{sequence}', {value})"
                for schema, sequence, value in sequences
            ]
    finally:
        engine.dispose()
    return statements


def _inserts(conn, tables) -> Script:
    """An INSERT with the rows of each of ``tables`` that has any."""
    found = [
        (table, [dict(row._mapping) for row in conn.execute(sqlalchemy.select(table))])
        for table in tables
    ]
    return [(sqlalchemy.insert(table), rows) for table, rows in found if rows]


def _run(conn, script: Script) -> None:
    for statement in script:
        if isinstance(statement, str):
            conn.exec_driver_sql(statement)
        else:
            conn.execute(*statement)


def _mysql_script(url) -> Script:
    """The statements that make a copy of the database at ``url``: its tables as MySQL
    itself writes them (foreign keys, charsets and collations included), then their
    rows."""
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    quote = engine.dialect.identifier_preparer.quote
    try:
        with engine.connect() as conn:
            metadata = sqlalchemy.MetaData()
            metadata.reflect(conn)
            tables = list(metadata.sorted_tables)
            creates = [
                conn.exec_driver_sql(f"SHOW CREATE TABLE {quote(table.name)}").one()[1]
                for table in tables
            ]
            inserts = _inserts(conn, tables)
    finally:
        engine.dispose()
    return ["SET FOREIGN_KEY_CHECKS = 0", *creates, *inserts, "SET FOREIGN_KEY_CHECKS = 1"]
