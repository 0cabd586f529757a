"""The orchestrator: owns the strategy's state machine and its max-parallel window.

It reacts at once to events (a strategy applied or aborted, steps ended) and scans
every ``[orchestrator] scan_interval`` as a safety net (lost messages, expired leases).
While several orchestrators may run, one at a time drives the strategy: the one whose
lease on the strategy row is current.
"""

import datetime
import logging

import oslo_messaging
from oslo_config import cfg

from dcmanager.common import clock as clock_module
from dcmanager.common import context as dc_context
from dcmanager.common import logcontext
from dcmanager.common import rpc
from dcmanager.common import service
from dcmanager.common import states
from dcmanager.common.states import STEP_ACTIVE
from dcmanager.common.states import StepState
from dcmanager.common.states import StrategyState
from dcmanager.common.states import first_phase
from dcmanager.db import orchestration as db
from dcmanager.db import strategy_eta as db_eta
from dcmanager.orchestrator import eta
from dcmanager.orchestrator import rpcapi
from dcmanager.releases import collector
from dcmanager.releases import store

LOG = logging.getLogger(__name__)

ABORTED = states.NOT_STARTED_ABORTED
LOST_TOO_OFTEN = "the workers running it stopped {attempts} times"
# The completed steps whose timings the estimated end is drawn from (the latest).
ETA_SAMPLE = 500


def final_state(counts: dict[str, int], aborting: bool) -> StrategyState:
    """The state a strategy ends in: failed if a step failed, else aborted if it was
    aborted or a step was, else complete."""
    if counts.get(StepState.FAILED):
        return StrategyState.FAILED
    if aborting or counts.get(StepState.ABORTED):
        return StrategyState.ABORTED
    return StrategyState.COMPLETE


class Orchestrator:
    """The strategy state machine. :meth:`tick` does everything due now."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        owner: str,
        workers: rpcapi.WorkerClient,
        clock: clock_module.Clock = clock_module.SYSTEM,
    ) -> None:
        self.conf = conf
        self.clock = clock
        self.owner = owner
        self.workers = workers
        self._context = dc_context.get_admin_context()
        # When this orchestrator's lease on the strategy ends, and when it last looked
        # for expired step leases: both are renewed on the scan's rhythm, not on every
        # event, so a busy window costs few writes.
        self._lease_until = datetime.datetime.min
        self._last_reclaim = datetime.datetime.min
        self._eta_at = datetime.datetime.min

    def tick(self) -> None:
        try:
            self._tick()
        except db.StrategyStateConflict as exc:
            # An operator acted meanwhile (abort, delete); the event that woke us for it
            # runs the next tick at once.
            LOG.debug("Strategy changed while the orchestrator worked on it: %s", exc)

    def _tick(self) -> None:
        strategy = db.strategy_find()
        if strategy is None:
            return
        state = StrategyState(strategy.state)
        if state not in (
            StrategyState.APPLYING,
            StrategyState.PAUSING,
            StrategyState.ABORT_REQUESTED,
            StrategyState.ABORTING,
            StrategyState.DELETING,
        ):
            return
        if not self._hold(strategy):
            return
        if state == StrategyState.DELETING:
            db.strategy_destroy(strategy.id)
            _log(strategy.id).info("%s strategy deleted", strategy.type)
            return
        if state == StrategyState.ABORT_REQUESTED:
            strategy = db.strategy_transition(
                strategy.id, [state], StrategyState.ABORTING, "aborted"
            )
            state = StrategyState.ABORTING
            # Running steps stop now rather than at their workers' next poll.
            self.workers.strategy_aborting(self._context, strategy.id)
        if state == StrategyState.ABORTING:
            db.steps_finish_initial(strategy.id, StepState.ABORTED, ABORTED)
        if self.clock.utcnow() >= self._last_reclaim + datetime.timedelta(
            seconds=self.conf.orchestrator.scan_interval
        ):
            self._reclaim(strategy.id)
        counts = db.step_counts(strategy.id)
        if state in (StrategyState.APPLYING, StrategyState.PAUSING):
            counts = self._start_steps(strategy, state, counts)
        if state == StrategyState.APPLYING:
            self._refresh_eta(strategy, counts)
        if state == StrategyState.PAUSING and counts.get(StepState.INITIAL) and not _active(counts):
            db.strategy_transition(strategy.id, [state], StrategyState.PAUSED, "paused")
            _log(strategy.id).info("%s strategy paused: %s", strategy.type, counts)
            return
        if not counts.get(StepState.INITIAL) and not _active(counts):
            final = final_state(counts, aborting=state == StrategyState.ABORTING)
            db.strategy_transition(
                strategy.id,
                [state],
                final,
                "finished",
                # The password is needed no more, unless retry-failed runs the strategy
                # again (it goes when the strategy is deleted).
                {"finished_at": self.clock.utcnow(), "owner": None}
                | ({} if final == StrategyState.FAILED else {"secret": None}),
            )
            _log(strategy.id).info("%s strategy ended %s: %s", strategy.type, final, counts)

    def _hold(self, strategy) -> bool:
        """Whether this orchestrator drives the strategy (renewing its lease when a third
        of it is left); another one does while its lease is current."""
        scan = self.conf.orchestrator.scan_interval
        now = self.clock.utcnow()
        if strategy.owner == self.owner and now < self._lease_until - datetime.timedelta(
            seconds=scan
        ):
            return True
        now, until = clock_module.lease(self.clock, 3 * scan)
        if not db.strategy_claim(strategy.id, self.owner, now, until):
            return False
        self._lease_until = until
        return True

    def _reclaim(self, strategy_id: int) -> None:
        """Give the steps of workers that stopped renewing their leases to others."""
        now, until = clock_module.lease(self.clock, self.conf.orchestrator.step_lease_seconds)
        self._last_reclaim = now
        attempts = self.conf.orchestrator.max_step_attempts
        released, failed = db.steps_reclaim_expired(
            strategy_id, now, until, attempts, LOST_TOO_OFTEN.format(attempts=attempts)
        )
        if failed:
            _log(strategy_id).warning("%d steps failed: their workers kept stopping", len(failed))
        if released:
            _log(strategy_id).warning("%d steps with expired leases resumed", len(released))
            self._hand_out(released)

    def _refresh_eta(self, strategy, counts: dict[str, int]) -> None:
        """Estimate the strategy's end again, every ``eta_interval`` (a failure to is
        logged: the estimate is a view, never a reason to stop)."""
        now = self.clock.utcnow()
        interval = datetime.timedelta(seconds=self.conf.orchestrator.eta_interval)
        if now < self._eta_at + interval:
            return
        self._eta_at = now
        try:
            finished, running = db_eta.eta_inputs(strategy.id, ETA_SAMPLE)
            end = eta.estimate(
                strategy.type,
                finished,
                [eta.Running(*row) for row in running],
                counts.get(StepState.INITIAL, 0),
                strategy.max_parallel_subclouds,
                now,
                states.window_start(strategy.extra_args),
            )
            db_eta.strategy_set_eta(strategy.id, end)
        except Exception as exc:
            service.log_failure(LOG, exc, "Could not estimate the strategy's end")

    def _start_steps(self, strategy, state: StrategyState, counts: dict[str, int]) -> dict:
        """Fill the window, unless the failure budget is spent or the maintenance window
        closed (the steps not started end aborted, saying which) or not yet open."""
        now = self.clock.utcnow()
        failed = counts.get(StepState.FAILED, 0)
        stopped = states.over_budget(
            strategy.stop_on_failure, strategy.extra_args, failed
        ) or states.window_closed(strategy.extra_args, now)
        if stopped:
            if db.steps_finish_initial(strategy.id, StepState.ABORTED, stopped):
                counts = db.step_counts(strategy.id)
        elif state == StrategyState.APPLYING and not states.window_not_open(
            strategy.extra_args, now
        ):
            counts = self._fill_window(strategy, counts)
        return counts

    def _fill_window(self, strategy, counts: dict[str, int]) -> dict:
        free = strategy.max_parallel_subclouds - _active(counts)
        if free <= 0 or not counts.get(StepState.INITIAL):
            return counts
        now, until = clock_module.lease(self.clock, self.conf.orchestrator.step_lease_seconds)
        first = first_phase(strategy.type)
        started = db.steps_dispatch(
            strategy.id, self.owner, strategy.max_parallel_subclouds, now, until, first
        )
        self._hand_out(started)
        return db.step_counts(strategy.id)

    def _hand_out(self, step_ids: list[int]) -> None:
        size = self.conf.orchestrator.dispatch_batch_size
        for first in range(0, len(step_ids), size):
            self.workers.run_steps(self._context, step_ids[first : first + size])


def _log(strategy_id: int) -> logging.LoggerAdapter:
    return logcontext.bind(LOG, strategy=strategy_id)


def _active(counts: dict[str, int]) -> int:
    return sum(counts.get(state, 0) for state in STEP_ACTIVE)


class OrchestratorEndpoint:
    target = oslo_messaging.Target(version="1.0")

    def __init__(self, wake) -> None:
        self._wake = wake

    def strategy_changed(self, ctxt, strategy_id: int) -> None:
        self._wake()

    def steps_finished(self, ctxt, strategy_id: int, count: int) -> None:
        _log(strategy_id).debug("%d steps ended", count)
        self._wake()


class OrchestratorService:
    """``dcmanager-orchestrator``: the state machine loop and its RPC server."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self.owner = service.worker_name(conf, "orchestrator")
        self.orchestrator = Orchestrator(conf, self.owner, rpcapi.WorkerClient(conf))
        self._loop = service.Periodic(
            "orchestrator", conf.orchestrator.scan_interval, self.orchestrator.tick
        )
        self._collector = service.Periodic(
            "blob-collector", conf.prestage.blob_collect_interval, self.collect_blobs
        )
        self._server = rpc.get_server(
            conf, rpcapi.ORCHESTRATOR_TOPIC, "orchestrator", [OrchestratorEndpoint(self._loop.wake)]
        )

    def collect_blobs(self) -> None:
        """Remove the release store's blobs no release names, past their grace."""
        prestage = self.conf.prestage
        collector.sweep(store.BlobStore(prestage.release_store), prestage.blob_grace_seconds)

    def start(self) -> None:
        self._loop.start()
        self._collector.start()
        self._server.start()
        self._loop.wake()

    def stop(self) -> None:
        self._server.stop()
        self._server.wait()
        self._loop.stop()
        self._collector.stop()
        # Let another orchestrator take over at once rather than after the lease.
        try:
            db.strategy_release(self.owner)
        except Exception as exc:
            service.log_failure(LOG, exc, "Could not release the strategy; its lease will expire")
