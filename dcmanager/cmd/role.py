"""What the single-role services (orchestrator, worker, manager, audit) share."""

import logging
import sys
from collections.abc import Callable
from collections.abc import Sequence

from oslo_config import cfg

from dcmanager import version
from dcmanager.common import config
from dcmanager.common import exception
from dcmanager.common import rpc
from dcmanager.common import service
from dcmanager.conf import CONF
from dcmanager.db.sqlalchemy import migration

LOG = logging.getLogger(__name__)


def run(
    name: str, build: Callable[[cfg.ConfigOpts], Sequence[service.Service]], rpc_needed: bool
) -> int:
    """Run one role as its own process until Ctrl-C or SIGTERM.

    :param rpc_needed: the role talks to other processes, so the in-process transport
        cannot work for it.
    """
    config.parse_args(sys.argv[1:])
    services: list[service.Service] = []
    try:
        service.prepare_state_path(CONF)
        migration.check_current()
        if rpc_needed and rpc.is_in_process(CONF):
            raise exception.ConfigInvalid(
                reason=f"{name} runs as its own process and needs a shared transport: "
                "set [DEFAULT] transport_url = rabbit://... (or run dcmanager-all)"
            )
        services = list(build(CONF))
        service.start_all(services)
    except service.STARTUP_ERRORS as exc:
        service.stop_all(services)
        LOG.error("%s cannot start: %s", name, service.describe_startup_error(CONF, exc))
        return 1
    LOG.info(
        "%s %s running (host %s, database %s, messaging %s)",
        name,
        version.version_string,
        CONF.host,
        service.database_location(CONF),
        rpc.describe_transport(CONF),
    )
    service.wait_for_signal()
    LOG.info("%s stopping", name)
    service.stop_all(services)
    rpc.cleanup()
    LOG.info("%s stopped", name)
    return 0
