"""Shared fixtures: configuration, migrated databases, the API app."""

import socketserver
import threading
import wsgiref.simple_server

import pytest
import webtest
from oslo_db.sqlalchemy import enginefacade

from dcmanager.api import app as api_app
from dcmanager.common import policy
from dcmanager.conf import CONF
from dcmanager.db import session
from dcmanager.db.sqlalchemy import migration
from tests import databases


@pytest.fixture
def conf(tmp_path):
    """The global configuration, parsed with no files, state under ``tmp_path``, noauth."""
    CONF([], project="dcmanager", default_config_files=[])
    CONF.set_override("state_path", str(tmp_path / "state"))
    # As in the embedded mode; a configuration file a test parses may still say keystone.
    CONF.set_default("auth_strategy", "noauth")
    policy.reset()
    yield CONF
    CONF.reset()
    CONF.clear_override("state_path")
    CONF.clear_default("auth_strategy")
    policy.reset()


def _migrated_engine(backend: str, tmp_path, monkeypatch):
    """Migrate a new database on ``backend`` and point the DB API at it."""
    with databases.temporary_database(backend, tmp_path) as url:
        context_manager = enginefacade.transaction_context()
        context_manager.configure(connection=url, sqlite_fk=True)
        monkeypatch.setattr(session, "main_context_manager", context_manager)
        engine = session.get_engine()
        try:
            migration.upgrade("head", engine=engine)
            yield engine
        finally:
            context_manager.dispose_pool()


@pytest.fixture
def db(conf, tmp_path, monkeypatch):
    """A migrated SQLite database that the DB API uses."""
    yield from _migrated_engine("sqlite", tmp_path, monkeypatch)


@pytest.fixture(params=databases.BACKENDS)
def any_db(request, conf, tmp_path, monkeypatch):
    """A migrated database on each backend in turn (SQLite, PostgreSQL, MySQL)."""
    yield from _migrated_engine(request.param, tmp_path, monkeypatch)


@pytest.fixture
def api(db):
    """The real WSGI application (noauth) over the migrated SQLite database."""
    return webtest.TestApp(api_app.setup_app(CONF))


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


@pytest.fixture
def live_api(db):
    """The real WSGI application served over HTTP on a free loopback port.

    Yields the base URL, e.g. ``http://127.0.0.1:40123``.
    """
    server = wsgiref.simple_server.make_server(
        "127.0.0.1",
        0,
        api_app.setup_app(CONF),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
