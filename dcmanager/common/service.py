"""What every dcmanager service does around its main loop."""

import logging
import os
import signal

import sqlalchemy.engine
import sqlalchemy.exc
from oslo_config import cfg
from oslo_db import exception as db_exc

from dcmanager.common import exception
from dcmanager.conf import default as default_conf

LOG = logging.getLogger(__name__)


def prepare_state_path(conf: cfg.ConfigOpts) -> None:
    """Create ``state_path`` and the SQLite database's directory, if missing."""
    os.makedirs(conf.state_path, mode=0o700, exist_ok=True)
    url = sqlalchemy.engine.make_url(conf.database.connection)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), mode=0o700, exist_ok=True)


def database_location(conf: cfg.ConfigOpts) -> str:
    """``[database] connection`` fit for a log line (password hidden)."""
    return sqlalchemy.engine.make_url(conf.database.connection).render_as_string(hide_password=True)


def stop_on_sigterm() -> None:
    """Make SIGTERM stop the service the way Ctrl-C does."""

    def _handler(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _handler)


# What can stop a service from starting, as opposed to a bug.
STARTUP_ERRORS = (
    exception.DCManagerException,
    db_exc.DBError,
    sqlalchemy.exc.ArgumentError,
    sqlalchemy.exc.NoSuchModuleError,
    OSError,
)


def describe_startup_error(conf: cfg.ConfigOpts, exc: BaseException) -> str:
    """One line saying why a service could not start (no traceback, no password)."""
    if isinstance(exc, exception.DCManagerException):
        return exc.message
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    reason = str(getattr(exc, "inner_exception", None) or exc).strip().splitlines()[0]
    return str(exception.DatabaseUnavailable(database=database_location(conf), reason=reason))


def warn_if_open_noauth(conf: cfg.ConfigOpts, url: str, host: str) -> None:
    """Warn when noauth makes everyone who can reach a non-loopback address an admin."""
    if conf.auth_strategy == default_conf.AUTH_NOAUTH and not host.startswith(("127.", "::1")):
        LOG.warning("auth_strategy = noauth on %s: anyone who can reach it is an admin", url)
