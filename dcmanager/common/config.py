"""Start-up of every dcmanager process: options, configuration files, logging."""

from collections.abc import Sequence

import oslo_messaging
from oslo_log import log

from dcmanager import version
from dcmanager.conf import CONF

_LOG_OPTIONS_REGISTERED = False


def parse_args(argv: Sequence[str], default_config_files: list[str] | None = None) -> None:
    """Parse the command line and configuration files, then set up logging.

    :param argv: the command line without the program name.
    """
    global _LOG_OPTIONS_REGISTERED
    if not _LOG_OPTIONS_REGISTERED:
        log.register_options(CONF)
        # Logs go to stderr unless a log file is configured, so a command's own output
        # on stdout (dcmanager-manage db_version) stays clean.
        CONF.set_default("use_stderr", True)
        log.set_defaults(
            default_log_levels=log.get_default_log_levels() + ["eventlet.wsgi.server=INFO"]
        )
        _LOG_OPTIONS_REGISTERED = True
    oslo_messaging.set_transport_defaults(control_exchange="dcmanager")
    CONF(
        list(argv),
        project="dcmanager",
        version=version.version_string,
        default_config_files=default_config_files,
    )
    log.setup(CONF, "dcmanager")
