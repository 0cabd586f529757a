"""Option listing for ``oslo-config-generator`` (namespace ``dcmanager``)."""

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


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    return [
        ("DEFAULT", default.opts),
        (api.GROUP.name, api.opts),
        (apps.GROUP.name, apps.opts),
        (helm.GROUP.name, helm.opts),
        (orchestrator.GROUP.name, orchestrator.opts),
        (prestage.GROUP.name, prestage.opts),
        (scheduler.GROUP.name, scheduler.opts),
        (subcloud_agent.GROUP.name, subcloud_agent.list_opts()),
    ]


def set_lib_defaults() -> None:
    """Give library option groups dcmanager's defaults in the generated sample."""
    database.register_opts(cfg.ConfigOpts())
