"""``dcmanager-audit``: keeps the inventory's view of every subcloud true.

Every ``[scheduler] subcloud_audit_interval`` a round asks each subcloud of this
process's share of the fleet (managed or not) for its system information through its
driver, many at once on a pool, each within ``audit_timeout``, and records the
answers as they arrive, a batch every ``audit_record_interval`` (see
:mod:`dcmanager.db.audit`): online at the first answer, offline after
``offline_after_failures`` rounds without one, the deploy status, release and system
mode the subcloud reports, its prestaged releases (:mod:`dcmanager.audit.reconcile`)
and whether its applications are those recorded here. So a round takes about as long
as its slowest answer, not the sum of them, and one silent subcloud delays no other's
record. Audits run while strategies run, so a step whose subcloud drops offline fails
with that reason instead of waiting forever.

Any number of audit processes share the fleet by leasing its shards in the database
(a heartbeat every quarter of ``audit_lease_seconds``); one that dies leaves its
shards to the others once its lease lapses, one that stops gives them back at once.
"""

import concurrent.futures
import logging
import queue
import threading

from oslo_config import cfg

from dcmanager import drivers
from dcmanager.audit import observe
from dcmanager.common import clock as clock_module
from dcmanager.common import service
from dcmanager.db import audit as db_audit

LOG = logging.getLogger(__name__)


class Round:
    """One audit round over ``share``'s subclouds (every subcloud when None), recorded
    by ``owner`` (None: regardless of leases)."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        pool: concurrent.futures.Executor,
        owner: str | None = None,
        share: db_audit.Share | None = None,
        clock: clock_module.Clock = clock_module.SYSTEM,
    ) -> None:
        self.conf = conf.scheduler
        self.pool = pool
        self.owner = owner
        self.share = share
        self.clock = clock
        self._answers: queue.SimpleQueue[db_audit.Found] = queue.SimpleQueue()

    def run(self) -> int:
        """Ask every subcloud and record each answer; how many answers were handed to
        the database (it drops those about shards this process lost meanwhile)."""
        targets = db_audit.targets(self.share)
        before = db_audit.recorded_apps(self.share)
        for target in targets:
            ask = (target, self.conf.audit_timeout, before.get(target.id, ()), self.clock)
            if drivers.blocking_io(target.endpoint):
                future = self.pool.submit(observe.ask, *ask)
                future.add_done_callback(self._deliver)
            else:
                # Answered from memory: no reason to take a thread.
                self._answers.put(observe.ask(*ask))
        return self._record(len(targets))

    def _deliver(self, future: concurrent.futures.Future) -> None:
        if not future.cancelled():
            self._answers.put(future.result())

    def _record(self, expected: int) -> int:
        """Record the answers in batches as they come, until all ``expected`` came or
        none came for twice the timeout (a call that ignores its timeout)."""
        batch: list[db_audit.Found] = []
        recorded = 0
        interval = self.conf.audit_record_interval
        patience = 2 * self.conf.audit_timeout + interval
        last_write = last_answer = self.clock.monotonic()
        while recorded + len(batch) < expected:
            # With answers in hand, wait until they are due; else for the next one.
            deadline = last_write + interval if batch else last_answer + patience
            try:
                wait = max(0.0, deadline - self.clock.monotonic())
                batch.append(self._answers.get(timeout=wait))
                last_answer = self.clock.monotonic()
            except queue.Empty:
                if not batch:
                    LOG.warning(
                        "Audit: %d subclouds did not answer within %.1fs; not counted this round",
                        expected - recorded,
                        patience,
                    )
                    break
            if batch and (
                self.clock.monotonic() - last_write >= interval
                or len(batch) >= self.conf.audit_record_batch
            ):
                recorded += self._write(batch)
                batch, last_write = [], self.clock.monotonic()
        return recorded + self._write(batch)

    def _write(self, batch: list[db_audit.Found]) -> int:
        if batch:
            changes = db_audit.record(
                batch, self.conf.offline_after_failures, self.clock.utcnow(), self.owner
            )
            for change in changes:
                LOG.info("Audit: subcloud %s", change)
        return len(batch)


def audit_once(conf: cfg.ConfigOpts, clock: clock_module.Clock = clock_module.SYSTEM) -> int:
    """One round over every subcloud, now, whatever the leases (for tools and tests);
    how many findings were recorded."""
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=conf.scheduler.audit_pool_size, thread_name_prefix="audit"
    ) as pool:
        return Round(conf, pool, clock=clock).run()


class AuditService:
    def __init__(
        self, conf: cfg.ConfigOpts, clock: clock_module.Clock = clock_module.SYSTEM
    ) -> None:
        self.conf = conf
        self.clock = clock
        self.owner = service.worker_name(conf, "audit")
        self.share: db_audit.Share | None = None
        self._lease_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=conf.scheduler.audit_pool_size, thread_name_prefix="audit"
        )
        self._loop = service.Periodic(
            "subcloud-audit", conf.scheduler.subcloud_audit_interval, self.audit
        )
        self._heartbeat = service.Periodic(
            "audit-lease", conf.scheduler.audit_lease_seconds / 4, self.renew
        )

    def renew(self) -> db_audit.Share:
        """Renew this process's lease and take its fair share of the shards."""
        with self._lease_lock:
            now, until = clock_module.lease(self.clock, self.conf.scheduler.audit_lease_seconds)
            share = db_audit.shares_lease(self.owner, now, until)
            if self.share is None or share.shards != self.share.shards:
                LOG.info(
                    "Audit: %d of %d shards of the fleet here (%d audit processes)",
                    len(share.shards),
                    share.total,
                    share.members,
                )
            self.share = share
            return share

    def audit(self) -> int:
        """One round over this process's share; how many findings were recorded."""
        share = self.share or self.renew()
        return Round(self.conf, self._pool, self.owner, share, self.clock).run()

    def start(self) -> None:
        self._heartbeat.start()
        self._loop.start()
        self._loop.wake()

    def stop(self) -> None:
        self._loop.stop()
        self._heartbeat.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            db_audit.shares_release(self.owner)
        except Exception as exc:
            service.log_failure(LOG, exc, "Audit: could not give the shards back")
