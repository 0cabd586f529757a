"""RPC clients of the orchestrator and of its workers."""

from dcmanager.common import context as dc_context
from dcmanager.common import rpc

# Topic names, each prefixed with the deployment's control exchange (see rpc.topic).
ORCHESTRATOR_TOPIC = "orchestrator"
WORKER_TOPIC = "orchestrator-worker"


class OrchestratorClient(rpc.RPCClient):
    """Tells the orchestrator that something changed.

    API version history:

    1.0 - strategy_changed, steps_finished
    """

    TOPIC = ORCHESTRATOR_TOPIC
    RPC_API_VERSION = "1.0"

    def strategy_changed(self, ctxt: dc_context.RequestContext, strategy_id: int) -> None:
        """The strategy was applied, aborted or is to be deleted."""
        self.cast(ctxt, "strategy_changed", "1.0", {"strategy_id": strategy_id})

    def steps_finished(self, ctxt: dc_context.RequestContext, strategy_id: int, count: int) -> None:
        """``count`` steps of the strategy ended: their window slots are free."""
        self.cast(ctxt, "steps_finished", "1.0", {"strategy_id": strategy_id, "count": count})


class WorkerClient(rpc.RPCClient):
    """Hands steps to the workers.

    API version history:

    1.0 - run_steps, preparation_finished
    1.1 - strategy_aborting
    """

    TOPIC = WORKER_TOPIC
    RPC_API_VERSION = "1.1"

    def run_steps(self, ctxt: dc_context.RequestContext, step_ids: list[int]) -> None:
        """One worker (any) takes these started steps and runs them."""
        self.cast(ctxt, "run_steps", "1.0", {"step_ids": step_ids})

    def preparation_finished(self, ctxt: dc_context.RequestContext, strategy_id: int) -> None:
        """Every worker: the strategy's preparation ended, wake the steps waiting on it."""
        self.cast(ctxt, "preparation_finished", "1.0", {"strategy_id": strategy_id}, fanout=True)

    def strategy_aborting(self, ctxt: dc_context.RequestContext, strategy_id: int) -> None:
        """Every worker: the strategy was aborted, its running steps stop now."""
        self.cast(ctxt, "strategy_aborting", "1.1", {"strategy_id": strategy_id}, fanout=True)
