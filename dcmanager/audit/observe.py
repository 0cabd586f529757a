"""Asking one subcloud what it is, for the audit: its driver's system information
within the audit's timeout, turned into a :class:`dcmanager.db.audit.Found`.

What a site reports is checked here, at the edge: a value the database could not
hold (a status longer than its column, a release name that is not one) is left out
with a warning rather than failing the batch it is written with.
"""

import logging
import re
from collections.abc import Sequence

from dcmanager import drivers
from dcmanager.audit import reconcile
from dcmanager.common import clock as clock_module
from dcmanager.common import logcontext
from dcmanager.db import audit as db_audit
from dcmanager.drivers import base as driver_base

LOG = logging.getLogger(__name__)

# The widths of the subclouds' columns the findings go to.
_WIDTHS = {"deploy_status": 64, "software_version": 32, "system_mode": 32}
# A release as prestage-versions lists it (prestage-software-version holds 32 characters).
_RELEASE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,31}")
_VERSIONS_WIDTH = 255


def _fits(info: driver_base.SystemInfo, name: str) -> str | None:
    value = getattr(info, name)
    if value is None or (isinstance(value, str) and len(value) <= _WIDTHS[name]):
        return value
    return None


def _releases(versions: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The reported prestaged releases, or None if they cannot be recorded as they are."""
    if versions is None:
        return None
    if not all(_RELEASE_RE.fullmatch(v) for v in versions):
        return None
    if len(reconcile.versions_text(versions) or "") > _VERSIONS_WIDTH:
        return None
    return versions


def finding(
    target: db_audit.Target,
    info: driver_base.SystemInfo,
    before: Sequence[db_audit.RecordedApp],
) -> db_audit.Found:
    """What the audit records of ``target``'s answer ``info`` (its application records
    were ``before`` when it was asked)."""
    facts = {name: _fits(info, name) for name in _WIDTHS}
    versions = _releases(info.prestaged_versions)
    if facts != {name: getattr(info, name) for name in _WIDTHS} or (
        versions is None and info.prestaged_versions is not None
    ):
        LOG.warning("Audit: subcloud %s reported values too long or malformed", target.name)
    return db_audit.Found(
        target.id,
        reachable=True,
        prestage=reconcile.prestage_fix(target, versions),
        apps=reconcile.app_judge(before, info.applications),
        **facts,
    )


def ask(
    target: db_audit.Target,
    timeout: float,
    before: Sequence[db_audit.RecordedApp] = (),
    clock: clock_module.Clock = clock_module.SYSTEM,
) -> db_audit.Found:
    """Ask ``target`` for its system information, waiting ``timeout`` seconds at most.
    Never raises: a subcloud that cannot be asked counts as not answering."""
    try:
        driver = drivers.get_driver(target.name, target.endpoint, clock)
        info = driver.get_system_info(timeout=timeout)
    except (driver_base.SubcloudUnreachable, drivers.NoDriver) as exc:
        LOG.debug("Audit: %s", exc.message)
        return db_audit.Found(target.id, reachable=False)
    except Exception:
        # One driver's bug must not stop the audit of every other subcloud.
        logcontext.bind(LOG, subcloud=target.name).exception(
            "Audit failed; counted as not answering"
        )
        return db_audit.Found(target.id, reachable=False)
    return finding(target, info, before)
