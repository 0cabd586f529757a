"""What every dcmanager service does around its main loop."""

import logging
import os
import signal

import sqlalchemy.engine
from oslo_config import cfg

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
