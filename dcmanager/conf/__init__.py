"""dcmanager configuration: one module per option group, all registered on ``CONF``."""

from oslo_config import cfg

from dcmanager.conf import api
from dcmanager.conf import apps
from dcmanager.conf import database
from dcmanager.conf import default
from dcmanager.conf import helm
from dcmanager.conf import orchestrator
from dcmanager.conf import prestage
from dcmanager.conf import scheduler
from dcmanager.conf import subcloud_agent

CONF = cfg.CONF

default.register_opts(CONF)
helm.register_opts(CONF)
api.register_opts(CONF)
apps.register_opts(CONF)
database.register_opts(CONF)
orchestrator.register_opts(CONF)
prestage.register_opts(CONF)
scheduler.register_opts(CONF)
subcloud_agent.register_opts(CONF)
