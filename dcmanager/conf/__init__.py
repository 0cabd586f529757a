"""dcmanager configuration: one module per option group, all registered on ``CONF``."""

from oslo_config import cfg

from dcmanager.conf import api
from dcmanager.conf import database
from dcmanager.conf import default

CONF = cfg.CONF

default.register_opts(CONF)
api.register_opts(CONF)
database.register_opts(CONF)
