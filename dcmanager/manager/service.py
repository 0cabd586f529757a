"""``dcmanager-manager``: subcloud operations outside strategies (standalone prestage,
operations on a site's applications).

Each is a step of no strategy: the API creates it (atomically refused while a
strategy holds the subcloud) and casts it here; the manager runs it with the same step
engine as the workers, and takes back its expired leases itself.
"""

import logging

import oslo_messaging
from oslo_config import cfg

from dcmanager.common import clock as clock_module
from dcmanager.common import rpc
from dcmanager.common import service
from dcmanager.db import orchestration as db
from dcmanager.db import prestage as db_prestage
from dcmanager.manager import rpcapi
from dcmanager.orchestrator import engine
from dcmanager.orchestrator import service as orchestrator_service

LOG = logging.getLogger(__name__)


class ManagerEndpoint:
    target = oslo_messaging.Target(version="1.1")

    def __init__(self, step_engine: engine.StepEngine) -> None:
        self.engine = step_engine

    def prestage_subcloud(self, ctxt, step_id: int) -> None:
        self.engine.claim([step_id])

    def app_operation(self, ctxt, step_id: int) -> None:
        self.engine.claim([step_id])


class ManagerService:
    def __init__(
        self, conf: cfg.ConfigOpts, clock: clock_module.Clock = clock_module.SYSTEM
    ) -> None:
        self.conf = conf
        self.clock = clock
        self.owner = service.worker_name(conf, "manager")
        self.engine = engine.StepEngine(conf, self.owner, on_finished=self._finished, clock=clock)
        self._scan = service.Periodic(
            "manager-scan", conf.orchestrator.scan_interval, self.reclaim_expired
        )
        self._server = rpc.get_server(conf, rpcapi.TOPIC, "manager", [ManagerEndpoint(self.engine)])

    def _finished(self, steps: list[engine.FinishedStep]) -> None:
        # The outcome is on the subcloud; the step row has done its job.
        db_prestage.standalone_steps_delete_finished([step.step_id for step in steps])

    def reclaim_expired(self) -> None:
        """Resume standalone prestages whose manager stopped."""
        now, until = clock_module.lease(self.clock, self.conf.orchestrator.step_lease_seconds)
        attempts = self.conf.orchestrator.max_step_attempts
        released, failed = db.steps_reclaim_expired(
            None,
            now,
            until,
            attempts,
            orchestrator_service.LOST_TOO_OFTEN.format(attempts=attempts),
        )
        db_prestage.standalone_steps_delete_finished(failed)
        if released:
            LOG.warning("Resuming %d standalone prestages", len(released))
            self.engine.claim(released)

    def start(self) -> None:
        self.engine.start()
        self._server.start()
        self._scan.start()
        self._scan.wake()

    def stop(self) -> None:
        self._scan.stop()
        self._server.stop()
        self._server.wait()
        self.engine.stop()
