"""Pecan hooks that run around every controller call."""

from oslo_config import cfg
from pecan import hooks

from dcmanager.common import context as dc_context
from dcmanager.conf import default as default_conf
from dcmanager.manager import rpcapi as manager_rpcapi
from dcmanager.orchestrator import rpcapi as orchestrator_rpcapi


class ContextHook(hooks.PecanHook):
    """Attach the caller's :class:`RequestContext` as ``request.context``.

    With keystone, the identity comes from the headers auth_token has validated; with
    noauth every caller is an administrator and identity headers are ignored.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def before(self, state) -> None:
        if self.conf.auth_strategy == default_conf.AUTH_KEYSTONE:
            ctx = dc_context.RequestContext.from_environ(state.request.environ)
        else:
            ctx = dc_context.get_admin_context()
        state.request.context = ctx


class ServicesHook(hooks.PecanHook):
    """Give controllers the configuration and the RPC clients of the other roles, as
    ``request.conf``, ``request.orchestrator`` and ``request.manager``."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self.orchestrator = orchestrator_rpcapi.OrchestratorClient(conf)
        self.manager = manager_rpcapi.ManagerClient(conf)

    def before(self, state) -> None:
        state.request.conf = self.conf
        state.request.orchestrator = self.orchestrator
        state.request.manager = self.manager
