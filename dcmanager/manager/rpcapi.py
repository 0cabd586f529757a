"""RPC client of the manager: subcloud operations outside strategies."""

from dcmanager.common import context as dc_context
from dcmanager.common import rpc

# Prefixed with the deployment's control exchange (see rpc.topic).
TOPIC = "manager"


class ManagerClient(rpc.RPCClient):
    """API version history:

    1.0 - prestage_subcloud
    1.1 - app_operation
    """

    TOPIC = TOPIC
    RPC_API_VERSION = "1.1"

    def prestage_subcloud(self, ctxt: dc_context.RequestContext, step_id: int) -> None:
        """Run the standalone prestage started as step ``step_id``."""
        self.cast(ctxt, "prestage_subcloud", "1.0", {"step_id": step_id})

    def app_operation(self, ctxt: dc_context.RequestContext, step_id: int) -> None:
        """Run the operation on a site's application started as step ``step_id``."""
        self.cast(ctxt, "app_operation", "1.1", {"step_id": step_id})
