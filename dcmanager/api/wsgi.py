"""WSGI entry point for uwsgi, gunicorn or mod_wsgi (``dcmanager-api-wsgi``).

The configuration file comes from ``DCMANAGER_CONFIG_FILE`` (default
``/etc/dcmanager/dcmanager.conf``).
"""

import os

from dcmanager.api import app as api_app
from dcmanager.common import config
from dcmanager.conf import CONF

DEFAULT_CONFIG_FILE = "/etc/dcmanager/dcmanager.conf"


def init_application():
    config_file = os.environ.get("DCMANAGER_CONFIG_FILE", DEFAULT_CONFIG_FILE)
    config.parse_args([], default_config_files=[config_file])
    return api_app.setup_app(CONF)
