"""The step engine: runs the steps a worker holds through their state machine.

One loop thread takes ready steps in batches, runs their actions on a thread pool (the
calls to subclouds), and records the whole batch in one transaction, each step a
compare-and-swap on its state and owner. A step that waits (an operation running on its
subcloud, or the strategy's preparation) holds no thread: the poller makes it ready
again every ``poll_interval``, so each subcloud gets one request per interval. The
heartbeat renews all leases in one UPDATE and drops steps this worker no longer holds.

Used by the orchestrator workers (strategy steps) and by the manager (standalone
prestages).
"""

import collections
import concurrent.futures
import datetime
import logging
import queue
import threading
from collections.abc import Callable
from collections.abc import Collection

from oslo_config import cfg

from dcmanager import drivers
from dcmanager.apps import images as app_images
from dcmanager.apps import operations as app_operations
from dcmanager.common import attempt_history
from dcmanager.common import clock as clock_module
from dcmanager.common import crypt
from dcmanager.common import logcontext
from dcmanager.common import service
from dcmanager.common import states
from dcmanager.db import prestage as db_prestage
from dcmanager.db import worker_steps
from dcmanager.db.sqlalchemy import models
from dcmanager.drivers import base as driver_base
from dcmanager.orchestrator import appsteps
from dcmanager.orchestrator import eta
from dcmanager.orchestrator import preparer
from dcmanager.orchestrator import prestage
from dcmanager.orchestrator import retries

LOG = logging.getLogger(__name__)

# How long the loop waits for a ready step before looking again at whether to stop.
IDLE_WAIT_SECONDS = 0.2
# How long the loop waits before retrying a batch that failed (the database away).
BATCH_RETRY_SECONDS = 1.0


class FinishedStep:
    """A step that reached a final state (reported to whoever dispatched it)."""

    __slots__ = ("step_id", "strategy_id", "state")

    def __init__(self, step_id: int, strategy_id: int | None, state: states.StepState) -> None:
        self.step_id = step_id
        self.strategy_id = strategy_id
        self.state = state


def context_of(conf: cfg.ConfigOpts, claimed: worker_steps.ClaimedStep) -> prestage.StepContext:
    """A held step's context, with its arguments and decrypted password."""
    step, subcloud, strategy = claimed.step, claimed.subcloud, claimed.strategy
    if strategy is not None and strategy.type == states.StrategyType.APP_UPDATE:
        # The step's own arguments once its precheck began the update at the site.
        args = step.extra_args or appsteps.pending_update(strategy.extra_args or {})
    else:
        args = (strategy.extra_args if strategy else step.extra_args) or {}
    secret = strategy.secret if strategy else step.secret
    app = args if args.get("kind") == "app" else None
    request = None
    if app is None:
        request = driver_base.PrestageRequest(
            release=args["prestage-software-version"],
            force=bool(args.get("force")),
            for_install=bool(args.get("for_install")),
            for_sw_deploy=bool(args.get("for_sw_deploy")),
            sysadmin_password=crypt.decrypt(conf, secret) if secret else b"",
            apps=tuple((entry["app"], entry["version"]) for entry in args.get("apps", [])),
        )
    return prestage.StepContext(
        step_id=step.id,
        strategy_id=step.strategy_id,
        subcloud_id=subcloud.id,
        subcloud_name=subcloud.name,
        endpoint=subcloud.endpoint,
        state=states.StepState(step.state),
        operation=step.operation,
        request=request,
        prestage_versions=subcloud.prestage_versions,
        app=app,
        details=step.details,
        attempt=step.attempt,
        history=step.history,
        phase_started_at=step.phase_started_at,
        timings=step.timings,
        retry=retries.RetryPolicy.from_args((strategy.extra_args or {}).get("retry"))
        if strategy is not None
        else None,
    )


def _act(ctx: prestage.StepContext, env: prestage.Environment) -> prestage.Outcome:
    """The action of the step's state: an application operation's or a prestage's."""
    if ctx.app is not None:
        return appsteps.act(ctx, env)
    return prestage.act(ctx, env)


def _retry(ctx: prestage.StepContext, outcome: prestage.Outcome, now: datetime.datetime) -> None:
    """Turn the step's failure into a wait for its next attempt, if its strategy's
    retry policy retries it: back to initial, unowned, with the attempt in its history."""
    delay = ctx.retry.delay(ctx.state, ctx.attempt, outcome.failure)
    if delay is None:
        return
    retry_at = now + datetime.timedelta(seconds=delay)
    entry = attempt_history.past_attempt(ctx.attempt, outcome.details, now, outcome.failure)
    outcome.state = states.StepState.INITIAL
    outcome.details = (
        f"attempt {ctx.attempt + 1} at {retry_at.isoformat(timespec='seconds')}; "
        f"attempt {ctx.attempt} failed in {outcome.details}"
    )[: states.MAX_DETAILS]
    outcome.retry_values = {
        "owner": None,
        "lease_expires_at": None,
        "attempt": ctx.attempt + 1,
        "attempts": 0,
        "history": attempt_history.with_attempt(ctx.history, entry),
        "retry_at": retry_at,
        # The next attempt reports its own transfers.
        "progress": None,
        "progress_at": None,
    }
    if ctx.app is not None:
        # An application update begins at its site anew (its records were put back).
        outcome.retry_values["extra_args"] = None


# The prestage states a step leaves at once when its strategy is aborted.
ABORTABLE = frozenset(prestage.ACTIONS)


class StepEngine:
    """Runs held steps. Thread-safe: RPC handlers call :meth:`claim` and :meth:`wake`."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        owner: str,
        on_finished: Callable[[list[FinishedStep]], None],
        on_prepared: Callable[[int], None] | None = None,
        clock: clock_module.Clock = clock_module.SYSTEM,
    ) -> None:
        """
        :param owner: this engine's unique name, written as the owner of its steps.
        :param on_finished: called (from the loop thread) with steps that ended.
        :param on_prepared: called with a strategy id when this engine finished its
            preparation, so that other workers wake their waiting steps.
        """
        self.conf = conf
        self.owner = owner
        self.clock = clock
        self._on_finished = on_finished
        self._on_prepared = on_prepared or (lambda strategy_id: None)
        self._lock = threading.Lock()
        self._steps: dict[int, prestage.StepContext] = {}
        self._ready: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._waiting_operation: set[int] = set()
        self._waiting_preparation: dict[int, set[int]] = collections.defaultdict(set)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=conf.orchestrator.worker_pool_size, thread_name_prefix="step"
        )
        # What the batch being processed needs from the database, read once per batch:
        # its subclouds and the running steps on them.
        self._batch_subclouds: dict[int, models.Subcloud] = {}
        self._batch_active: dict[int, set[int]] = {}
        self._batch_aborting: set[int] = set()
        # The ids of the batch the loop is processing (guarded by ``_lock``).
        self._in_batch: set[int] = set()
        # Until when this engine's leases are surely valid: it stops moving steps past
        # that (a failing heartbeat), since another worker may have them by then.
        self._leases_valid_until = self._lease()[1]
        self._preparer = preparer.Preparer(
            conf, owner, self._pool, self._stop, self._prepared, self._wake_step, clock
        )
        self.env = prestage.Environment(
            conf=conf,
            owner=owner,
            driver=self._driver,
            subcloud=lambda ctx: self._batch_subclouds.get(ctx.subcloud_id),
            other_active_step=lambda ctx: bool(
                self._batch_active.get(ctx.subcloud_id, set()) - {ctx.step_id}
            ),
            claim_preparation=self._preparer.claim,
            preparation_state=self._preparer.state,
            start_preparation=self._preparer.start,
            standalone_preparation=self._preparer.standalone_result,
            app_images=lambda ctx: app_images.for_apps(conf, ctx.request.apps, ctx.subcloud_id),
            clock=clock.monotonic,
        )

    # Life cycle.

    def start(self) -> None:
        for target, name in (
            (self._run, "step-engine"),
            (self._poll, "step-poller"),
            (self._heartbeat, "step-heartbeat"),
        ):
            thread = threading.Thread(target=target, name=f"{name}-{self.owner}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop, and give back the steps held: the orchestrator hands them to another
        worker at its next scan."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            held = list(self._steps)
            self._steps.clear()
        try:
            worker_steps.steps_release(self.owner, held, self._now())
        except Exception as exc:
            service.log_failure(
                LOG, exc, "Could not release %d steps; their leases will expire", len(held)
            )

    # Called from RPC handlers.

    def claim(self, step_ids: Collection[int]) -> int:
        """Take the given running steps if nobody holds them; returns how many."""
        now, until = self._lease()
        claimed = worker_steps.steps_claim(step_ids, self.owner, now, until)
        unreadable = []
        with self._lock:
            for row in claimed:
                if row.step.id in self._steps:
                    continue
                try:
                    self._steps[row.step.id] = context_of(self.conf, row)
                except crypt.SecretUnreadable as exc:
                    unreadable.append((row, exc.message))
                    continue
                self._ready.put(row.step.id)
        if unreadable:
            self._fail_unreadable(unreadable, now)
        return len(claimed)

    def _fail_unreadable(self, rows: list[tuple[worker_steps.ClaimedStep, str]], now) -> None:
        """Steps whose password this host cannot decrypt fail with the reason (a host
        with another key): holding them would keep them running forever."""
        changes = []
        for row, reason in rows:
            details = f"{row.step.state}: {reason}"[: states.MAX_DETAILS]
            logcontext.bind(LOG, row.step.strategy_id, row.subcloud.name, row.step.id).error(
                "%s", reason
            )
            changes.append(
                worker_steps.StepChange(
                    step_id=row.step.id,
                    expected_state=row.step.state,
                    values={
                        "state": str(states.StepState.FAILED),
                        "details": details,
                        "owner": None,
                        "finished_at": now,
                    },
                    subcloud_id=row.subcloud.id,
                    subcloud_values={"prestage_status": "failed", "error_description": reason},
                )
            )
        recorded = worker_steps.steps_record(self.owner, changes)
        self._on_finished(
            [
                FinishedStep(row.step.id, row.step.strategy_id, states.StepState.FAILED)
                for (row, _), ok in zip(rows, recorded, strict=True)
                if ok
            ]
        )

    def wake_strategy(self, strategy_id: int) -> None:
        """The strategy changed (an abort): its steps waiting here look at once."""
        with self._lock:
            waiting = [
                step_id
                for step_id in self._waiting_operation
                if self._steps[step_id].strategy_id == strategy_id
            ]
            self._waiting_operation.difference_update(waiting)
            waiting += self._waiting_preparation.pop(strategy_id, set())
        for step_id in waiting:
            self._ready.put(step_id)

    def wake_preparation(self, strategy_id: int) -> None:
        """The strategy's preparation ended: its waiting steps here go on."""
        with self._lock:
            waiting = self._waiting_preparation.pop(strategy_id, set())
        for step_id in waiting:
            self._ready.put(step_id)

    def _prepared(self, strategy_id: int) -> None:
        """This engine's preparation ended: wake its steps, and the other workers'."""
        self.wake_preparation(strategy_id)
        self._on_prepared(strategy_id)

    def _wake_step(self, step_id: int) -> None:
        with self._lock:
            self._waiting_preparation.get(None, set()).discard(step_id)
        self._ready.put(step_id)

    # The loop.

    def _now(self) -> datetime.datetime:
        return self.clock.utcnow()

    def _lease(self) -> tuple[datetime.datetime, datetime.datetime]:
        return clock_module.lease(self.clock, self.conf.orchestrator.step_lease_seconds)

    def _endpoint(self, ctx: prestage.StepContext) -> str:
        """The subcloud's endpoint as the database has it now (an operator may change
        it while the step runs)."""
        subcloud = self._batch_subclouds.get(ctx.subcloud_id)
        return subcloud.endpoint if subcloud is not None else ctx.endpoint

    def _driver(self, ctx: prestage.StepContext) -> driver_base.SubcloudDriver:
        return drivers.get_driver(ctx.subcloud_name, self._endpoint(ctx), self.clock)

    def _next_batch(self) -> list[prestage.StepContext]:
        if self._now() > self._leases_valid_until:
            # Leases not renewed lately: wait for the heartbeat to renew them (or to drop
            # the steps other workers took) before moving anything.
            self._stop.wait(IDLE_WAIT_SECONDS)
            return []
        try:
            first = self._ready.get(timeout=IDLE_WAIT_SECONDS)
        except queue.Empty:
            return []
        ids = [first]
        while len(ids) < self.conf.orchestrator.worker_batch_size:
            try:
                ids.append(self._ready.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            batch = [self._steps[i] for i in dict.fromkeys(ids) if i in self._steps]
            self._in_batch = {ctx.step_id for ctx in batch}
            return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            try:
                self._process(batch)
            except Exception as exc:
                # The database may be away for a moment. The steps stay held and run
                # their (idempotent) actions again once it is back.
                service.log_failure(LOG, exc, "Step engine %s: batch failed; retrying", self.owner)
                self._stop.wait(BATCH_RETRY_SECONDS)
                with self._lock:
                    self._in_batch = set()
                    retry = [ctx.step_id for ctx in batch if ctx.step_id in self._steps]
                for step_id in retry:
                    self._ready.put(step_id)

    def _load_batch(self, batch: list[prestage.StepContext]) -> None:
        self._batch_subclouds = worker_steps.subclouds_get({ctx.subcloud_id for ctx in batch})
        self._batch_aborting = worker_steps.strategies_aborting(
            {ctx.strategy_id for ctx in batch if ctx.strategy_id is not None}
        )
        self._batch_active = worker_steps.active_steps_by_subcloud(
            {ctx.subcloud_id for ctx in batch if ctx.state == states.StepState.PRECHECK}
        )
        self._preparer.load(
            {
                ctx.strategy_id
                for ctx in batch
                if ctx.state == states.StepState.PREPARING_PACKAGES and ctx.strategy_id
            }
        )
        self._begin_app_updates(batch)

    def _begin_app_updates(self, batch: list[prestage.StepContext]) -> None:
        """App-update steps whose precheck starts now begin the update at their sites:
        one transaction per application and version in the batch."""
        pending: dict[tuple[str, str, bool], dict[int, prestage.StepContext]] = {}
        for ctx in batch:
            if appsteps.is_pending(ctx):
                key = (ctx.app["app"], ctx.app["version"], ctx.app["require_prestaged"])
                pending.setdefault(key, {})[ctx.step_id] = ctx
        for (name, version, require), held in pending.items():
            steps = {step_id: ctx.subcloud_id for step_id, ctx in held.items()}
            begun = app_operations.begin_strategy_steps(self.owner, name, version, steps, require)
            with self._lock:
                for step_id, args in begun.items():
                    held[step_id].app = args

    def _process(self, batch: list[prestage.StepContext]) -> None:
        self._load_batch(batch)
        outcomes = self._act(batch)
        now = self._now()
        changes = [
            self._change(ctx, outcome, now) for ctx, outcome in zip(batch, outcomes, strict=True)
        ]
        recorded = worker_steps.steps_record(self.owner, changes)
        finished: list[FinishedStep] = []
        with self._lock:
            for ctx, outcome, change, ok in zip(batch, outcomes, changes, recorded, strict=True):
                if not ok:
                    prestage.log_for(ctx, LOG).warning("no longer ours: another worker holds it")
                    self._steps.pop(ctx.step_id, None)
                    continue
                self._advance(ctx, outcome, change, finished)
            self._in_batch = set()
            parked = [sid for sid, ids in self._waiting_preparation.items() if ids]
            standalone = list(self._waiting_preparation.get(None, ()))
        # A preparation may have ended while its steps were being recorded as waiting.
        for strategy_id in parked:
            if strategy_id is not None and self._preparer.ended(strategy_id):
                self.wake_preparation(strategy_id)
        for step_id in self._preparer.waiting_standalone_done(standalone):
            self._wake_step(step_id)
        if finished:
            self._preparer.forget_standalone([step.step_id for step in finished])
            self._on_finished(finished)

    def _act(self, batch: list[prestage.StepContext]) -> list[prestage.Outcome]:
        """Run the batch's actions: on the pool for drivers that wait on the network,
        inline for the others (the simulator)."""
        futures = {}
        actions = {ctx.step_id: self._action(ctx) for ctx in batch}
        for ctx in batch:
            if drivers.blocking_io(self._endpoint(ctx)):
                futures[ctx.step_id] = self._pool.submit(actions[ctx.step_id], ctx, self.env)
        return [
            futures[ctx.step_id].result()
            if ctx.step_id in futures
            else actions[ctx.step_id](ctx, self.env)
            for ctx in batch
        ]

    def _action(
        self, ctx: prestage.StepContext
    ) -> Callable[[prestage.StepContext, prestage.Environment], prestage.Outcome]:
        """What the step does now: stop, if its strategy was aborted while it prestages
        (an application update's steps follow their own rules); else its state's
        action."""
        if ctx.strategy_id in self._batch_aborting and ctx.app is None and ctx.state in ABORTABLE:
            return prestage.abort
        return _act

    @staticmethod
    def _change(
        ctx: prestage.StepContext, outcome: prestage.Outcome, now: datetime.datetime
    ) -> worker_steps.StepChange:
        values: dict = {}
        if outcome.state == states.StepState.FAILED and ctx.retry is not None:
            _retry(ctx, outcome, now)
        if outcome.state is not None:
            states.check_step_transition(ctx.state, outcome.state)
            values.update(state=str(outcome.state), operation=None)
            if outcome.state in states.STEP_FINISHED:
                values.update(finished_at=now, owner=None)
        elif outcome.operation != ctx.operation:
            values["operation"] = outcome.operation
        if outcome.progress is not None:
            values.update(progress=outcome.progress, progress_at=now)
        if outcome.details is not None:
            values["details"] = outcome.details
        if outcome.retry_values:
            values.update(outcome.retry_values)
        moved_bytes = 0
        if outcome.state is not None:
            passed = eta.phase_passed(ctx, outcome, now)
            values.update(phase_started_at=now, timings={**(ctx.timings or {}), **passed})
            # A phase an earlier attempt passed put its content in place then.
            moved_bytes = sum(
                int(entry.get("b", 0))
                for phase, entry in passed.items()
                if phase not in (ctx.timings or {})
            )
        return worker_steps.StepChange(
            step_id=ctx.step_id,
            expected_state=str(ctx.state),
            values=values,
            subcloud_id=ctx.subcloud_id,
            subcloud_values=outcome.subcloud,
            app_records=outcome.app_records,
            moved_bytes=moved_bytes,
        )

    def _advance(
        self,
        ctx: prestage.StepContext,
        outcome: prestage.Outcome,
        change: worker_steps.StepChange,
        finished: list[FinishedStep],
    ) -> None:
        """Apply a recorded outcome (and what ``change`` recorded of it) to the held step
        (called with the lock held)."""
        if outcome.state is None:
            ctx.operation = outcome.operation
            if outcome.wait is prestage.Wait.PREPARATION:
                self._waiting_preparation[ctx.strategy_id].add(ctx.step_id)
            else:
                self._waiting_operation.add(ctx.step_id)
            return
        ctx.timings = change.values["timings"]
        ctx.phase_started_at = change.values["phase_started_at"]
        ctx.state = outcome.state
        ctx.operation = None
        if outcome.details is not None:
            ctx.details = outcome.details
        if outcome.subcloud and "prestage_versions" in outcome.subcloud:
            ctx.prestage_versions = outcome.subcloud["prestage_versions"]
        if outcome.state in states.STEP_FINISHED or outcome.retry_values:
            # A step to be retried is no longer held: it waits in the strategy.
            self._steps.pop(ctx.step_id, None)
            finished.append(FinishedStep(ctx.step_id, ctx.strategy_id, outcome.state))
            log = prestage.log_for(ctx, LOG)
            if outcome.retry_values:
                log.info("failed; %s", outcome.details)
            else:
                log.info(
                    "ended %s%s", outcome.state, f": {outcome.details}" if outcome.details else ""
                )
        else:
            self._ready.put(ctx.step_id)

    # Periodic work.

    def _poll(self) -> None:
        """Every poll interval, waiting steps look again (one poll each)."""
        while not self._stop.wait(self.conf.orchestrator.poll_interval):
            with self._lock:
                operation_ids = list(self._waiting_operation)
                self._waiting_operation.clear()
                preparing = [sid for sid, ids in self._waiting_preparation.items() if ids]
                standalone = list(self._waiting_preparation.get(None, ()))
            for step_id in operation_ids:
                self._ready.put(step_id)
            for step_id in self._preparer.waiting_standalone_done(standalone):
                self._wake_step(step_id)
            preparing = [strategy_id for strategy_id in preparing if strategy_id is not None]
            if preparing:
                try:
                    rows = db_prestage.preparations_get(preparing)
                except Exception as exc:
                    service.log_failure(LOG, exc, "Could not read preparations; will look again")
                    continue
                for strategy_id in preparing:
                    row = rows.get(strategy_id)
                    lease_gone = row is not None and (
                        row.lease_expires_at is None or row.lease_expires_at < self._now()
                    )
                    if row is None or row.state != states.PreparationState.RUNNING or lease_gone:
                        self.wake_preparation(strategy_id)

    def _heartbeat(self) -> None:
        """Renew every lease in one UPDATE; forget steps this engine lost."""
        while not self._stop.wait(self.conf.orchestrator.heartbeat_interval):
            # The lock is held across the renewal so that a step claimed meanwhile is
            # either in ``held`` or added after the comparison, never counted as lost.
            with self._lock:
                try:
                    until = self._lease()[1]
                    held = worker_steps.steps_renew(self.owner, until)
                    db_prestage.preparations_renew(self.owner, until)
                except Exception as exc:
                    service.log_failure(LOG, exc, "Lease renewal failed; will try again")
                    continue
                self._leases_valid_until = until
                # Steps of the batch being recorded are the loop's business: one may
                # have just finished (no owner any more) without being advanced yet.
                lost = [
                    step_id
                    for step_id in self._steps
                    if step_id not in held and step_id not in self._in_batch
                ]
                for step_id in lost:
                    self._steps.pop(step_id, None)
                    self._waiting_operation.discard(step_id)
            if lost:
                LOG.warning("Worker %s lost %d steps to other workers", self.owner, len(lost))
