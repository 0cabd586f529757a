"""Engine and transactions of ``[database] connection``, shared by the DB API modules.

Only the DB API modules (:mod:`dcmanager.db.api`, :mod:`dcmanager.db.orchestration` and
the others beside them) open transactions, with :func:`reader` and :func:`writer`.
"""

import contextlib
import sqlite3
import threading
from collections.abc import Iterator

from oslo_db.sqlalchemy import enginefacade
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

_CONTEXT = threading.local()

main_context_manager = enginefacade.transaction_context()
# SQLite ignores foreign keys unless asked; every other backend enforces them.
main_context_manager.configure(sqlite_fk=True)

# SQLite has one writer at a time and waits for the lock inside C, where an eventlet
# process cannot switch to the green thread holding it. Writers in this process take
# turns here first instead. Reentrant: a writer may call another DB API writer.
_SQLITE_WRITE_LOCK = threading.RLock()

# How long a SQLite connection waits for another process's write lock.
SQLITE_BUSY_TIMEOUT_MS = 30_000


@event.listens_for(Engine, "do_connect")
def _mysql_full_unicode(dialect, connection_record, cargs, cparams) -> None:
    """Talk utf8mb4 to MySQL: oslo.db asks for the 3-byte utf8, which rejects emoji."""
    if dialect.name == "mysql" and cparams.get("charset") in (None, "utf8", "utf8mb3"):
        cparams["charset"] = "utf8mb4"


@event.listens_for(Engine, "connect")
def _sqlite_busy_timeout(dbapi_connection, connection_record) -> None:
    """Wait on a database another process is writing (each connection's setting)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


# Rows per round trip of an UPDATE or DELETE run for many rows on PostgreSQL.
POSTGRESQL_BATCH = 200


@event.listens_for(Engine, "do_connect")
def _postgresql_batches(dialect, connection_record, cargs, cparams) -> None:
    """Send UPDATEs and DELETEs of many rows to PostgreSQL in pages (SQLAlchemy's
    ``values_plus_batch`` mode of psycopg2, through ``execute_batch``), not one round
    trip per row as psycopg2's ``executemany`` does: a worker recording its batch of
    step moves spent a quarter of its time there. oslo.db creates the engine and takes
    no dialect arguments, so the mode is set before the first connection initialises
    the dialect. Such executions report no row count (the dialect says so, and
    :func:`check_rowcount` skips them)."""
    if dialect.driver != "psycopg2":
        return
    from sqlalchemy.dialects.postgresql import psycopg2  # loaded already with the driver

    if dialect.executemany_mode != psycopg2.EXECUTEMANY_VALUES_PLUS_BATCH:
        dialect.executemany_mode = psycopg2.EXECUTEMANY_VALUES_PLUS_BATCH
        dialect.executemany_batch_page_size = POSTGRESQL_BATCH
        dialect.supports_sane_multi_rowcount = False


def use_wal(engine: Engine) -> None:
    """Put a SQLite database file in WAL mode, where readers work while a write is in
    progress. The mode is stored in the file, so this runs once, with the migrations."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        # On the driver's connection: oslo.db wraps SQLAlchemy connections in BEGIN, and
        # SQLite changes the journal mode only outside a transaction.
        connection = engine.raw_connection()
        try:
            connection.driver_connection.execute("PRAGMA journal_mode=WAL")
        finally:
            connection.close()


# Set while this thread is in a writer() transaction.
_WRITING = threading.local()


@event.listens_for(Engine, "begin", insert=True)
def _sqlite_begin_immediate(connection) -> None:
    """Writers take SQLite's write lock when they begin (waiting up to the busy timeout
    for another process to finish), instead of failing with "database is locked" when a
    read turns into a write after another process wrote. oslo.db, which would emit a
    plain BEGIN next, sees the transaction already open."""
    if (
        connection.dialect.name == "sqlite"
        and getattr(_WRITING, "active", False)
        and "in_transaction" not in connection.info
    ):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.info["in_transaction"] = True


def get_engine() -> Engine:
    """The engine of ``[database] connection`` (created on first use)."""
    return main_context_manager.writer.get_engine()


def reader():
    """A read transaction (joins the caller's transaction if there is one)."""
    return main_context_manager.reader.using(_CONTEXT)


@contextlib.contextmanager
def writer() -> Iterator[Session]:
    """A write transaction, committed when the block ends without an error."""
    if get_engine().dialect.name == "sqlite":
        with _SQLITE_WRITE_LOCK:
            outer = getattr(_WRITING, "active", False)
            _WRITING.active = True
            try:
                with main_context_manager.writer.using(_CONTEXT) as session:
                    yield session
            finally:
                _WRITING.active = outer
    else:
        with main_context_manager.writer.using(_CONTEXT) as session:
            yield session


class LostUpdate(Exception):
    """An UPDATE of rows this transaction had locked did not change them all: the
    locking the DB API relies on does not hold (a bug, never a race)."""


def check_rowcount(db, rowcount: int, expected: int, what: str, many: bool = False) -> None:
    """Check an UPDATE's row count against the rows it was to change, where the driver
    reports it (psycopg2 does not for an executemany)."""
    dialect = db.get_bind().dialect
    if many and not dialect.supports_sane_multi_rowcount:
        return
    if rowcount != expected:
        raise LostUpdate(f"{what}: {rowcount} rows changed, {expected} expected")
