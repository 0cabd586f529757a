"""``dcmanager-all``: every dcmanager role in one process — the embedded mode.

With no configuration file at all it keeps its SQLite database under
``[DEFAULT] state_path``, migrates it, uses in-process messaging and serves the API
on 127.0.0.1:8119 with noauth.
"""

from dcmanager.cmd import eventlet_setup  # noqa: F401 - must come first

import logging
import sys

from dcmanager import version
from dcmanager.api import app as api_app
from dcmanager.api import server
from dcmanager.audit import service as audit_service
from dcmanager.common import config
from dcmanager.common import rpc
from dcmanager.common import service
from dcmanager.conf import CONF
from dcmanager.conf import default as default_conf
from dcmanager.db.sqlalchemy import migration
from dcmanager.manager import service as manager_service
from dcmanager.orchestrator import service as orchestrator_service
from dcmanager.orchestrator import worker

LOG = logging.getLogger(__name__)


def main() -> int:
    # The embedded defaults; a configuration file still wins.
    rpc.default_to_in_process(CONF)
    CONF.set_default("auth_strategy", default_conf.AUTH_NOAUTH)
    config.parse_args(sys.argv[1:])
    LOG.info("dcmanager-all %s starting", version.version_string)
    services: list[service.Service] = []
    try:
        service.prepare_state_path(CONF)
        migration.upgrade("head")
        app = api_app.setup_app(CONF)
        sock = server.listen(CONF)
        services = [
            audit_service.AuditService(CONF),
            worker.WorkerService(CONF),
            manager_service.ManagerService(CONF),
            orchestrator_service.OrchestratorService(CONF),
        ]
        service.start_all(services)
    except service.STARTUP_ERRORS as exc:
        service.stop_all(services)
        LOG.error("dcmanager-all cannot start: %s", service.describe_startup_error(CONF, exc))
        return 1
    url = server.url_of(sock)
    LOG.info("State directory: %s", CONF.state_path)
    LOG.info("Database: %s (migrated to %s)", service.database_location(CONF), migration.head())
    LOG.info("Messaging: %s", rpc.describe_transport(CONF))
    LOG.info("Authentication: %s", CONF.auth_strategy)
    LOG.info("Roles: API, orchestrator, worker, manager, audit")
    service.warn_if_open_noauth(CONF, url, sock.getsockname()[0])
    LOG.info("API: %s/v1.0 — try: DCMANAGER_URL=%s/v1.0 dcmanager subcloud list", url, url)
    LOG.info("Press Ctrl-C to stop.")
    service.stop_on_sigterm()
    try:
        server.serve(sock, app, CONF)
    finally:
        service.stop_all(services)
        rpc.cleanup()
    LOG.info("dcmanager-all stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
