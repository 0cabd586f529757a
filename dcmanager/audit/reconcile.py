"""What the audit makes of a subcloud's answer: its prestage columns brought in line
with what it holds, and whether its applications are what the controller recorded.

**Prestage.** The site is the truth of what is prestaged there: ``prestage-versions``
becomes the releases it reports (sorted, comma-separated; null for none). The status
follows in the two cases the answer settles: ``complete`` becomes null when the
release of the last prestage (``prestage-software-version``) is no longer there, and
null or ``failed`` becomes ``complete`` (its error cleared) when that release is there
in full (a prestage the controller lost track of, e.g. failed as unreachable while the
agent finished it). Nothing is touched while a prestage runs (``prestaging``: its step
records the outcome), and every change is a compare-and-swap against the columns as
they were before the site was asked.

**Applications.** The audit never moves the controller's application records: they
change only through operations (under the subcloud's lock, each a compare-and-swap),
and they are the plan the next operation starts from (an update's rollback needs the
inactive ledger). It reports instead: ``app-sync-status`` is ``in-sync`` or
``out-of-sync`` (``app-sync-details`` say what differs), or ``unknown`` when the site
does not say what it runs. Compared per application, only when the records are
settled (no operation under way, no failed operation to resolve) and unchanged while
the site was asked: the version applied here must be the one running there (applied,
and at the ledger's revisions when the site reports them), and nothing else of the
application may run there. A tarball there without a release deployed counts as
nothing running.
"""

from collections.abc import Sequence

from dcmanager.common.app_states import BUSY
from dcmanager.common.app_states import AppStatus
from dcmanager.common.subcloud_states import PrestageStatus
from dcmanager.db import audit as db_audit
from dcmanager.drivers import base as driver_base

IN_SYNC = "in-sync"
OUT_OF_SYNC = "out-of-sync"
UNKNOWN = "unknown"

# Records whose state says nothing certain about the site: an operation is under way,
# or one failed and the operator has to resolve it.
UNSETTLED = BUSY | {AppStatus.APPLY_FAILED, AppStatus.REMOVE_FAILED}
# What a site reports of a version it runs (a tarball alone runs nothing).
RUNNING = ("applied", "apply-failed")


def versions_text(versions: Sequence[str]) -> str | None:
    """``prestage-versions`` as stored: sorted, comma-separated, None for none."""
    return ",".join(sorted(set(versions))) or None


def prestage_fix(
    target: db_audit.Target, reported: tuple[str, ...] | None
) -> db_audit.PrestageFix | None:
    """The prestage columns the subcloud's report calls for, or None (nothing to change,
    or nothing to learn: no report, or a prestage under way)."""
    status = target.prestage_status
    if reported is None or status == PrestageStatus.PRESTAGING:
        return None
    values: dict = {}
    text = versions_text(reported)
    if text != target.prestage_versions:
        values["prestage_versions"] = text
    release = target.prestage_software_version
    if release and status == PrestageStatus.COMPLETE and release not in reported:
        values["prestage_status"] = None
    elif release and status in (None, PrestageStatus.FAILED) and release in reported:
        values["prestage_status"] = str(PrestageStatus.COMPLETE)
        values["error_description"] = None
    if not values:
        return None
    return db_audit.PrestageFix(status, target.prestage_versions, values)


def _by_name(records: Sequence[db_audit.RecordedApp]) -> dict[str, tuple]:
    found: dict[str, list] = {}
    for record in records:
        found.setdefault(record.name, []).append(record)
    return {name: tuple(group) for name, group in found.items()}


def _revisions(name: str, record: db_audit.RecordedApp, site: driver_base.SiteApplication):
    """What differs between the ledger and the releases the site deploys (when it says)."""
    deployed = {
        (entry.get("release"), entry.get("namespace")): entry.get("revision")
        for entry in site.releases
    }
    if not deployed:
        return []
    return [
        f"{name} {record.version}: release {release} is at revision "
        f"{deployed.get((release, namespace), 'none')} at the site, {revision} here"
        for release, namespace, revision in record.releases
        if deployed.get((release, namespace)) != revision
    ]


def _compare(
    name: str,
    records: tuple[db_audit.RecordedApp, ...],
    site: list[driver_base.SiteApplication],
) -> list[str]:
    """What differs for one (settled) application."""
    applied = next((r for r in records if r.status == AppStatus.APPLIED), None)
    running = {app.version: app for app in site if app.status in RUNNING}
    differences = []
    if applied is None and running:
        shown = ", ".join(f"{v} ({app.status})" for v, app in sorted(running.items()))
        return [f"{name}: the site runs {shown}; not applied here"]
    if applied is None:
        return []
    there = running.pop(applied.version, None)
    if there is None:
        differences.append(f"{name}: {applied.version} is applied here, not at the site")
    elif there.status != AppStatus.APPLIED:
        differences.append(f"{name} {applied.version}: applied here, {there.status} at the site")
    else:
        differences += _revisions(name, applied, there)
    differences += [
        f"{name}: the site also runs {version} ({app.status})"
        for version, app in sorted(running.items())
    ]
    return differences


def app_judge(
    before: Sequence[db_audit.RecordedApp],
    reported: tuple[driver_base.SiteApplication, ...] | None,
) -> db_audit.AppJudge:
    """How to judge the site's report against its records as they will be when the
    finding is written; ``before``: the records before the site was asked (an
    application whose records changed since is not compared)."""
    earlier = _by_name(before)

    def judge(now: list[db_audit.RecordedApp]) -> tuple[str, list[str] | None]:
        if reported is None:
            return UNKNOWN, None
        current = _by_name(now)
        differences = []
        for name in sorted(set(current) | {app.name for app in reported}):
            records = current.get(name, ())
            if records != earlier.get(name, ()) or any(r.status in UNSETTLED for r in records):
                continue
            differences += _compare(name, records, [a for a in reported if a.name == name])
        return (OUT_OF_SYNC, differences) if differences else (IN_SYNC, None)

    return judge
