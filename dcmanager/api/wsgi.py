"""WSGI application factory for uwsgi, gunicorn or mod_wsgi.

For example ``gunicorn 'dcmanager.api.wsgi:init_application()'``. The configuration
file comes from ``DCMANAGER_CONFIG_FILE`` (default ``/etc/dcmanager/dcmanager.conf``).
The server must not monkey-patch with eventlet unless it runs eventlet workers.
"""

import os

from dcmanager.api import app as api_app
from dcmanager.common import config
from dcmanager.conf import CONF

DEFAULT_CONFIG_FILE = "/etc/dcmanager/dcmanager.conf"


def init_application():
    """Read the configuration and build the API's WSGI application."""
    config_file = os.environ.get("DCMANAGER_CONFIG_FILE", DEFAULT_CONFIG_FILE)
    config.parse_args([], default_config_files=[config_file])
    return api_app.setup_app(CONF)
