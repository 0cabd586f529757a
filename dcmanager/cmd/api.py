"""``dcmanager-api``: serve the REST API from a configuration file."""

from dcmanager.cmd import eventlet_setup  # noqa: F401 - must come first

import logging
import sys

from dcmanager.api import app as api_app
from dcmanager.api import server
from dcmanager.common import config
from dcmanager.common import service
from dcmanager.conf import CONF
from dcmanager.db.sqlalchemy import migration

LOG = logging.getLogger(__name__)


def main() -> int:
    config.parse_args(sys.argv[1:])
    try:
        service.prepare_state_path(CONF)
        migration.check_current()
        app = api_app.setup_app(CONF)
        sock = server.listen(CONF)
    except service.STARTUP_ERRORS as exc:
        LOG.error("dcmanager-api cannot start: %s", service.describe_startup_error(CONF, exc))
        return 1
    url = server.url_of(sock)
    LOG.info(
        "dcmanager-api serving %s/v1.0 (auth: %s, database: %s)",
        url,
        CONF.auth_strategy,
        service.database_location(CONF),
    )
    service.warn_if_open_noauth(CONF, url, sock.getsockname()[0])
    service.stop_on_sigterm()
    server.serve(sock, app, CONF)
    LOG.info("dcmanager-api stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
