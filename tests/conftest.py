"""Shared fixtures: configuration, migrated databases, the API app."""

import os
import socketserver
import threading
import wsgiref.simple_server

import pytest
import webtest
from oslo_db.sqlalchemy import enginefacade

from dcmanager.api import app as api_app
from dcmanager.audit import service as audit_service
from dcmanager.common import policy
from dcmanager.common import rpc
from dcmanager.common import service
from dcmanager.conf import CONF
from dcmanager.db import session
from dcmanager.db.sqlalchemy import migration
from dcmanager.drivers import simulator
from dcmanager.manager import service as manager_service
from dcmanager.orchestrator import service as orchestrator_service
from dcmanager.orchestrator import worker
from tests import databases
from tests import releases as test_releases
from tests import tallies as test_tallies

# Test processes (pytest-xdist, ``--numprocesses auto``): one more than the cores, since
# many tests wait on processes, brokers and databases rather than compute.
MAX_TEST_PROCESSES = 8


def pytest_xdist_auto_num_workers(config) -> int:
    return min((os.cpu_count() or 1) + 1, MAX_TEST_PROCESSES)


@pytest.fixture
def conf(tmp_path):
    """The global configuration, parsed with no files, state under ``tmp_path``; noauth
    and in-process messaging as in the embedded mode (a configuration file a test parses
    may still say otherwise)."""
    CONF([], project="dcmanager", default_config_files=[])
    CONF.set_override("state_path", str(tmp_path / "state"))
    CONF.set_default("auth_strategy", "noauth")
    rpc.default_to_in_process(CONF)
    policy.reset()
    yield CONF
    rpc.cleanup()
    CONF.reset()
    CONF.clear_override("state_path")
    CONF.clear_default("auth_strategy")
    CONF.clear_default("transport_url")
    policy.reset()


# Intervals small enough for tests to watch strategies run in well under a second per
# step, and leases short enough to see them expire.
FAST_ENGINE = {
    "orchestrator": {
        "step_lease_seconds": 2.0,
        "heartbeat_interval": 0.3,
        "scan_interval": 0.3,
        "poll_interval": 0.05,
        # Each refresh reads the steps: often only where a test watches the estimate.
        "eta_interval": 2.0,
    },
    "scheduler": {"subcloud_audit_interval": 0.2},
}


@pytest.fixture
def fast_engine(conf):
    """Engine intervals for tests (see ``FAST_ENGINE``)."""
    for group, options in FAST_ENGINE.items():
        for name, value in options.items():
            conf.set_override(name, value, group=group)
    return conf


@pytest.fixture
def roles(fast_engine, db, tmp_path, monkeypatch):
    """Every role but the API running in this process (threads, in-process messaging),
    as dcmanager-all runs them, the simulated sites remembering their operations by key.
    Yields the started services."""
    monkeypatch.setenv(simulator.STATE_VARIABLE, str(tmp_path / "simulated-sites"))
    services = [
        audit_service.AuditService(fast_engine),
        worker.WorkerService(fast_engine),
        manager_service.ManagerService(fast_engine),
        orchestrator_service.OrchestratorService(fast_engine),
    ]
    service.start_all(services)
    yield services
    service.stop_all(services)


def _migrate(url: str, variant: str) -> None:
    """Migrate the database at ``url``; the ``seeded`` variant also gets the test
    releases' records (their blobs go into each test's store, see ``db``)."""
    context_manager = enginefacade.transaction_context()
    context_manager.configure(connection=url, sqlite_fk=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "main_context_manager", context_manager)
        try:
            migration.upgrade("head", engine=session.get_engine())
            if variant == "seeded":
                test_releases.seed_records()
        finally:
            context_manager.dispose_pool()


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory):
    """Migrated databases to copy, made once per test process (see
    :class:`tests.databases.Templates`)."""
    templates = databases.Templates(tmp_path_factory.mktemp("db-templates"), _migrate)
    yield templates
    templates.drop()


def _migrated_engine(db_templates, backend, tmp_path, monkeypatch, variant="migrated"):
    """A migrated database on ``backend`` (a copy of the template) that the DB API uses."""
    with db_templates.copy(backend, tmp_path, variant) as url:
        context_manager = enginefacade.transaction_context()
        context_manager.configure(connection=url, sqlite_fk=True)
        monkeypatch.setattr(session, "main_context_manager", context_manager)
        try:
            yield session.get_engine()
            test_tallies.check()
        finally:
            context_manager.dispose_pool()


@pytest.fixture
def db(request, conf, tmp_path, monkeypatch, db_templates):
    """A migrated SQLite database that the DB API uses, with releases 24.09 and 25.09
    (the newest) in the release store, unless the test is marked
    ``empty_release_store``."""
    seeded = not request.node.get_closest_marker("empty_release_store")
    if seeded:
        test_releases.seed_blobs(conf.prestage.release_store)
    yield from _migrated_engine(
        db_templates, "sqlite", tmp_path, monkeypatch, "seeded" if seeded else "migrated"
    )


@pytest.fixture(params=databases.BACKENDS)
def any_db(request, conf, tmp_path, monkeypatch, db_templates):
    """A migrated database on each backend in turn (SQLite, PostgreSQL, MySQL)."""
    yield from _migrated_engine(db_templates, request.param, tmp_path, monkeypatch)


@pytest.fixture(params=databases.BACKENDS)
def empty_engine(request, tmp_path):
    """An engine on an empty database of each backend in turn (for the migrations)."""
    with databases.temporary_database(request.param, tmp_path) as url:
        engine = databases.create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


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
