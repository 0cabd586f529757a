"""``dcmanager-audit``: keeps the inventory's view of every subcloud true.

Every ``[scheduler] subcloud_audit_interval`` it asks each subcloud (managed or not)
for its system information through its driver, all at once on a thread pool, and
records the round in one transaction: online at the first answer, offline after
``offline_after_failures`` rounds without one, and the deploy status and release the
subcloud reports. It runs while strategies run, so a step whose subcloud drops offline
fails with that reason instead of waiting forever.
"""

import concurrent.futures
import logging

from oslo_config import cfg

from dcmanager import drivers
from dcmanager.common import clock as clock_module
from dcmanager.common import logcontext
from dcmanager.common import service
from dcmanager.db import api as db_api
from dcmanager.drivers import base as driver_base

LOG = logging.getLogger(__name__)


def audit_one(
    name: str, endpoint: str, subcloud_id: int, clock: clock_module.Clock = clock_module.SYSTEM
) -> db_api.AuditResult:
    try:
        info = drivers.get_driver(name, endpoint, clock).get_system_info()
    except (driver_base.SubcloudUnreachable, drivers.NoDriver) as exc:
        LOG.debug("Audit: %s", exc.message)
        return db_api.AuditResult(subcloud_id, reachable=False)
    except Exception:
        # One driver's bug must not stop the audit of every other subcloud.
        logcontext.bind(LOG, subcloud=name).exception("Audit failed; counted as not answering")
        return db_api.AuditResult(subcloud_id, reachable=False)
    return db_api.AuditResult(
        subcloud_id,
        reachable=True,
        deploy_status=info.deploy_status,
        software_version=info.software_version,
        system_mode=info.system_mode,
    )


class AuditService:
    def __init__(
        self, conf: cfg.ConfigOpts, clock: clock_module.Clock = clock_module.SYSTEM
    ) -> None:
        self.conf = conf
        self.clock = clock
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=conf.scheduler.audit_pool_size, thread_name_prefix="audit"
        )
        self._loop = service.Periodic(
            "subcloud-audit", conf.scheduler.subcloud_audit_interval, self.audit
        )

    def audit(self) -> None:
        """One round over every subcloud."""
        subclouds = db_api.subcloud_get_all()
        results = list(
            self._pool.map(lambda sc: audit_one(sc.name, sc.endpoint, sc.id, self.clock), subclouds)
        )
        for change in db_api.subclouds_record_audit(
            results, self.conf.scheduler.offline_after_failures
        ):
            LOG.info("Audit: subcloud %s", change)

    def start(self) -> None:
        self._loop.start()
        self._loop.wake()

    def stop(self) -> None:
        self._loop.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
