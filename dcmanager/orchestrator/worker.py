"""``dcmanager-orchestrator-worker``: runs strategy steps handed out by the orchestrator.

Any number of workers, on any number of hosts, share one RPC topic: each message of
started steps goes to one of them.
"""

import collections
import logging

import oslo_messaging
from oslo_config import cfg

from dcmanager.common import context as dc_context
from dcmanager.common import rpc
from dcmanager.common import service
from dcmanager.orchestrator import engine
from dcmanager.orchestrator import rpcapi

LOG = logging.getLogger(__name__)


class WorkerEndpoint:
    target = oslo_messaging.Target(version="1.1")

    def __init__(self, step_engine: engine.StepEngine) -> None:
        self.engine = step_engine

    def run_steps(self, ctxt, step_ids: list[int]) -> None:
        self.engine.claim(step_ids)

    def preparation_finished(self, ctxt, strategy_id: int) -> None:
        self.engine.wake_preparation(strategy_id)

    def strategy_aborting(self, ctxt, strategy_id: int) -> None:
        self.engine.wake_strategy(strategy_id)


class WorkerService:
    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.owner = service.worker_name(conf, "worker")
        self._context = dc_context.get_admin_context()
        self._orchestrator = rpcapi.OrchestratorClient(conf)
        self._workers = rpcapi.WorkerClient(conf)
        self.engine = engine.StepEngine(
            conf, self.owner, on_finished=self._finished, on_prepared=self._prepared
        )
        self._server = rpc.get_server(
            conf, rpcapi.WORKER_TOPIC, "worker", [WorkerEndpoint(self.engine)]
        )

    def _finished(self, steps: list[engine.FinishedStep]) -> None:
        """Tell the orchestrator at once, so it refills the window."""
        per_strategy = collections.Counter(step.strategy_id for step in steps)
        for strategy_id, count in per_strategy.items():
            self._orchestrator.steps_finished(self._context, strategy_id, count)

    def _prepared(self, strategy_id: int) -> None:
        self._workers.preparation_finished(self._context, strategy_id)

    def start(self) -> None:
        self.engine.start()
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
        self._server.wait()
        self.engine.stop()
