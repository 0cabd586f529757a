"""Pecan hooks that run around every controller call."""

from oslo_config import cfg
from pecan import hooks

from dcmanager.api import validation
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


BINARY_CONTENT_TYPE = "application/octet-stream"


class JsonBodyHook(hooks.PecanHook):
    """Decode the JSON body once, before routing.

    Routing decodes a JSON body to look for arguments, and pecan answers a bare 400 (or
    fails) when that does not work; this says what is wrong instead.
    """

    def on_route(self, state) -> None:
        if state.request.content_type != BINARY_CONTENT_TYPE:
            # A blob upload's body is streamed to the store, never read whole.
            validation.parse_body(state.request)


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
