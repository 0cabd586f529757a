"""``dcmanager-api``: serve the REST API from a configuration file."""

from dcmanager.cmd import eventlet_setup  # noqa: F401 - must come first

import logging
import sys

from dcmanager.api import app as api_app
from dcmanager.api import server
from dcmanager.common import config
from dcmanager.common import exception
from dcmanager.common import service
from dcmanager.conf import CONF
from dcmanager.db.sqlalchemy import migration

LOG = logging.getLogger(__name__)


def main() -> int:
    config.parse_args(sys.argv[1:])
    try:
        service.prepare_state_path(CONF)
        migration.check_current()
        sock = server.listen(CONF)
    except exception.DCManagerException as exc:
        LOG.error("dcmanager-api cannot start: %s", exc.message)
        return 1
    LOG.info(
        "dcmanager-api serving %s/v1.0 (auth: %s, database: %s)",
        server.url_of(sock),
        CONF.auth_strategy,
        service.database_location(CONF),
    )
    service.stop_on_sigterm()
    server.serve(sock, api_app.setup_app(CONF), CONF)
    LOG.info("dcmanager-api stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
