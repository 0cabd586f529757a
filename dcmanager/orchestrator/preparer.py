"""A worker's side of preparing packages: claiming the strategy's preparation row, and
running the preparation in the background so that the step loop never waits for it.

The database row is the lock and the marker across workers and hosts; this class keeps
one worker from preparing twice (several of its steps may ask in one batch) and wakes
the waiting steps when its preparation ends, whatever way it ends.
"""

import concurrent.futures
import datetime
import logging
import threading
from collections.abc import Callable
from collections.abc import Collection

from oslo_config import cfg
from oslo_db import exception as db_exc

from dcmanager.common import clock as clock_module
from dcmanager.common import logcontext
from dcmanager.common.states import PreparationState
from dcmanager.db import prestage as db_prestage
from dcmanager.db.sqlalchemy import models
from dcmanager.orchestrator import preparation
from dcmanager.orchestrator import prestage

LOG = logging.getLogger(__name__)

INTERNAL_ERROR = "internal error while preparing the packages (see the dcmanager log)"
# Seconds between attempts to record a preparation's outcome while the database is away.
RECORD_RETRY_SECONDS = 1.0


def _log(ctx: prestage.StepContext) -> logging.LoggerAdapter:
    """The preparation belongs to the strategy (or, standalone, to the step)."""
    if ctx.strategy_id is None:
        return prestage.log_for(ctx, LOG)
    return logcontext.bind(LOG, strategy=ctx.strategy_id)


class Preparer:
    def __init__(
        self,
        conf: cfg.ConfigOpts,
        owner: str,
        pool: concurrent.futures.Executor,
        stopping: threading.Event,
        wake_strategy: Callable[[int], None],
        wake_step: Callable[[int], None],
        clock: clock_module.Clock = clock_module.SYSTEM,
    ) -> None:
        """
        :param wake_strategy: called when a strategy's preparation ended here (the
            engine wakes its waiting steps and tells the other workers).
        :param wake_step: called when a standalone step's preparation ended.
        """
        self.conf = conf
        self.owner = owner
        self.clock = clock
        self._pool = pool
        self._stopping = stopping
        self._wake_strategy = wake_strategy
        self._wake_step = wake_step
        self._lock = threading.Lock()
        self._rows: dict[int, models.PrestagePreparation] = {}
        self._running: set[tuple[str, int]] = set()
        self._standalone: dict[int, str | None] = {}

    def _lease(self) -> tuple[datetime.datetime, datetime.datetime]:
        return clock_module.lease(self.clock, self.conf.orchestrator.step_lease_seconds)

    def load(self, strategy_ids: Collection[int]) -> None:
        """Read the preparation rows of the strategies a batch waits on."""
        rows = db_prestage.preparations_get(strategy_ids)
        with self._lock:
            self._rows.update(rows)

    def state(self, ctx: prestage.StepContext) -> models.PrestagePreparation | None:
        with self._lock:
            return self._rows.get(ctx.strategy_id)

    def claim(self, ctx: prestage.StepContext) -> tuple[models.PrestagePreparation, bool]:
        """The strategy's preparation row, and whether this worker should prepare now:
        it took the row, or holds it from an attempt that ended without a result."""
        key = ("strategy", ctx.strategy_id)
        with self._lock:
            if key in self._running:
                return self._rows[ctx.strategy_id], False
            now, until = self._lease()
            row, taken = db_prestage.preparation_claim(
                ctx.strategy_id, ctx.request.release, self.owner, now, until
            )
            self._rows[ctx.strategy_id] = row
            mine = row.state == PreparationState.RUNNING and row.owner == self.owner
            return row, taken or mine

    def ended(self, strategy_id: int) -> bool:
        """Whether the strategy's preparation is known here to have ended."""
        with self._lock:
            row = self._rows.get(strategy_id)
            return row is not None and row.state != PreparationState.RUNNING

    def standalone_result(self, ctx: prestage.StepContext) -> str | None | bool:
        with self._lock:
            return self._standalone.get(ctx.step_id, False)

    def start(self, ctx: prestage.StepContext) -> None:
        """Prepare in the background, unless this worker already does."""
        key = ("step", ctx.step_id) if ctx.strategy_id is None else ("strategy", ctx.strategy_id)
        with self._lock:
            if key in self._running:
                return
            self._running.add(key)
        self._pool.submit(self._prepare, ctx, key)

    def _prepare(self, ctx: prestage.StepContext, key: tuple[str, int]) -> None:
        error: str | None = None
        try:
            preparation.prepare(self.conf, ctx.request.release)
        except preparation.PreparationFailed as exc:
            error = exc.message
        except Exception:
            _log(ctx).exception("Preparing the packages of release %s failed", ctx.request.release)
            error = INTERNAL_ERROR
        if ctx.strategy_id is None:
            with self._lock:
                self._standalone[ctx.step_id] = error
                self._running.discard(key)
            self._wake_step(ctx.step_id)
            return
        self._record(ctx, error)
        with self._lock:
            self._running.discard(key)
        self._wake_strategy(ctx.strategy_id)

    def _record(self, ctx: prestage.StepContext, error: str | None) -> None:
        """Record the outcome, waiting out a database outage: the waiting steps of every
        worker depend on it."""
        state = PreparationState.FAILED if error else PreparationState.DONE
        while not self._stopping.is_set():
            try:
                db_prestage.preparation_finish(ctx.strategy_id, self.owner, str(state), error)
                row = db_prestage.preparation_get(ctx.strategy_id)
            except db_exc.DBError:
                _log(ctx).warning("Cannot record the preparation yet: the database is away")
                self._stopping.wait(RECORD_RETRY_SECONDS)
                continue
            with self._lock:
                self._rows[ctx.strategy_id] = row
            _log(ctx).info("Preparation of release %s: %s", ctx.request.release, error or "done")
            return

    def forget_standalone(self, step_ids: Collection[int]) -> None:
        with self._lock:
            for step_id in step_ids:
                self._standalone.pop(step_id, None)

    def waiting_standalone_done(self, step_ids: Collection[int]) -> list[int]:
        """Those of these standalone steps whose preparation has ended."""
        with self._lock:
            return [step_id for step_id in step_ids if step_id in self._standalone]
