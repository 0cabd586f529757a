"""Operations on the applications at a site: what an operator may ask (apply, update,
remove, delete), refused with the reason when the site's records do not allow it
(seeds 000 and 004), and what starting one does to those records.

The rules run inside the transaction that starts the operation
(:func:`dcmanager.db.site_apps.operation_begin`), under the subcloud's lock, on the
records as they are then.
"""

from collections.abc import Callable
from typing import Any

from dcmanager.apps import versions
from dcmanager.common import exception
from dcmanager.common.app_states import APPLY_FROM
from dcmanager.common.app_states import BUSY
from dcmanager.common.app_states import DELETE_FROM
from dcmanager.common.app_states import REMOVE_FROM
from dcmanager.common.app_states import AppStatus
from dcmanager.db import apps as db_apps
from dcmanager.db import site_apps as db_site_apps
from dcmanager.db.sqlalchemy import models

ACTIONS = ("apply", "update", "remove")


class NotAtSite(exception.NotFound):
    msg_fmt = "Application %(name)s not found at subcloud %(subcloud)s"


class OperationUnderWay(exception.Conflict):
    msg_fmt = "Application %(name)s at subcloud %(subcloud)s is already %(status)s"


class StatusForbids(exception.Conflict):
    msg_fmt = (
        "Application %(name)s at subcloud %(subcloud)s is %(status)s: %(action)s needs it "
        "%(needed)s"
    )


class UpdateRefused(exception.Invalid):
    msg_fmt = "Application %(name)s at subcloud %(subcloud)s cannot be updated: %(reason)s"


class AlreadyAtTarget(UpdateRefused):
    """The site runs the version an update asks for."""


class OtherVersion(exception.Conflict):
    msg_fmt = (
        "Application %(name)s is at version %(current)s at subcloud %(subcloud)s, not "
        "%(version)s: use update to change its version"
    )


class NotPrestaged(exception.Conflict):
    msg_fmt = (
        "The images of %(name)s %(version)s are not prestaged at subcloud %(subcloud)s: "
        "prestage them first (--app %(name)s@%(version)s)"
    )


def app_label(app: str, version: str) -> str:
    """How a prestaged application version is recorded on its subcloud."""
    return f"{app}@{version}"


def images_prestaged(subcloud: models.Subcloud, app: str, version: str) -> bool:
    """Whether a prestage put the images of ``app`` ``version`` on the subcloud."""
    return app_label(app, version) in (subcloud.prestage_apps or [])


def check_prestaged(subcloud: models.Subcloud, app: str, version: str) -> None:
    """:raises NotPrestaged: the version's images were not prestaged there."""
    if not images_prestaged(subcloud, app, version):
        raise NotPrestaged(name=app, version=version, subcloud=subcloud.name)


def current(records: list[db_site_apps.SiteApp]) -> db_site_apps.SiteApp | None:
    """The record of the version the site runs or is getting (not an inactive one);
    during an update, the version it is updating from."""
    live = [r for r in records if r.status != AppStatus.INACTIVE]
    updating = [r for r in live if r.status in (AppStatus.UPDATING, AppStatus.RECOVERING)]
    return (updating or live or [None])[0]


def _check_not_busy(subcloud: models.Subcloud, records: list[db_site_apps.SiteApp]) -> None:
    for record in records:
        if record.status in BUSY:
            raise OperationUnderWay(name=record.name, subcloud=subcloud.name, status=record.status)


def _step_args(
    action: str, target: db_apps.AppVersion | None, record: db_site_apps.SiteApp | None
) -> dict[str, Any]:
    details = target.details if target is not None else {}
    return {
        "kind": "app",
        "action": action,
        "app": record.name if record else target.name,
        "version": target.version if target else record.version,
        "digest": target.digest if target else "",
        "charts": details.get("charts", []),
        "phase_values": details.get("phases", {}),
        "values": {},
        "own_releases": record.releases if record else [],
        "from": None,
        "inactive_releases": [],
        "upload": False,
        "undo": [],
        "target_undo": None,
        "inactive": [],
    }


def _new_record(target: db_apps.AppVersion) -> dict[str, Any]:
    """The record of a version the site does not hold yet, as it starts uploading."""
    return {
        "name": target.name,
        "version": target.version,
        "status": str(AppStatus.UPLOADING),
        "progress": None,
        "releases": [],
        "phases": {},
    }


Planner = Callable[[models.Subcloud, list[db_site_apps.SiteApp]], db_site_apps.Plan]


def plan_apply(target: db_apps.AppVersion, values: dict[str, Any]) -> Planner:
    """Apply ``target``: upload it first if the site does not hold it; apply it again
    (with the overrides of now) if it is applied already."""

    def plan(subcloud, records) -> db_site_apps.Plan:
        _check_not_busy(subcloud, records)
        record = current(records)
        if record is not None and record.version != target.version:
            raise OtherVersion(
                name=target.name,
                subcloud=subcloud.name,
                current=record.version,
                version=target.version,
            )
        args = _step_args("apply", target, record) | {"values": values}
        if record is None:
            return db_site_apps.Plan(
                changes=[],
                new_record=_new_record(target),
                step_args=lambda added: (
                    args | {"record": added, "upload": True, "undo": [[added, None]]}
                ),
            )
        _require(subcloud, record, "apply", APPLY_FROM)
        upload = record.status == AppStatus.UPLOAD_FAILED
        moved = AppStatus.UPLOADING if upload else AppStatus.APPLYING
        undo = {"status": record.status, "progress": record.progress}
        return db_site_apps.Plan(
            changes=[
                db_site_apps.RecordChange(record.id, {"status": str(moved), "progress": None})
            ],
            new_record=None,
            step_args=lambda added: (
                args | {"record": record.id, "upload": upload, "undo": [[record.id, undo]]}
            ),
        )

    return plan


def _inactive(records: list[db_site_apps.SiteApp], but: str | None = None) -> list[list]:
    """The inactive records (but the version ``but``) and their ledgers: an operation
    that uninstalls a release forgets it in them (its Helm history is gone)."""
    return [
        [r.id, r.releases] for r in records if r.status == AppStatus.INACTIVE and r.version != but
    ]


def previous_version(records: list[db_site_apps.SiteApp]) -> str | None:
    """The version the site ran before its current one: its latest inactive record."""
    inactive = [r for r in records if r.status == AppStatus.INACTIVE]
    if not inactive:
        return None
    return max(inactive, key=lambda r: (r.updated_at or r.created_at, r.id)).version


def check_update(
    subcloud: str,
    record: db_site_apps.SiteApp,
    target: str,
    before: str | None,
    upgradable: bool,
) -> None:
    """Seed 000's and 004's refusals of an update of ``record`` to ``target``.

    :param before: the version the site ran before (a rollback to it is no downgrade).
    :param upgradable: what the catalog says of the version the site runs.
    :raises UpdateRefused: saying why.
    """

    def refuse(reason: str) -> UpdateRefused:
        return UpdateRefused(name=record.name, subcloud=subcloud, reason=reason)

    if record.version == target:
        raise AlreadyAtTarget(
            name=record.name, subcloud=subcloud, reason=f"it is at version {target} already"
        )
    if not upgradable:
        raise refuse(f"its version {record.version} is not upgradable (upgradable: false)")
    now, wanted = versions.parse(record.version), versions.parse(target)
    if now is not None and wanted is not None and wanted.compare(now) <= 0 and target != before:
        raise refuse(
            f"version {target} is not newer than {record.version} (an update may go back "
            f"only to the version the site ran before, {before or 'none'})"
        )


def _require(subcloud: models.Subcloud, record: db_site_apps.SiteApp, action: str, allowed) -> None:
    """:raises StatusForbids: ``record`` is in no state of ``allowed``."""
    if record.status not in allowed:
        raise StatusForbids(
            name=record.name,
            subcloud=subcloud.name,
            status=record.status,
            action=action,
            needed=" or ".join(sorted(allowed)),
        )


def _updatable(
    subcloud: models.Subcloud,
    records: list[db_site_apps.SiteApp],
    target: db_apps.AppVersion,
    upgradable: Callable[[str], bool],
    require_prestaged: bool,
) -> db_site_apps.SiteApp:
    """The record an update to ``target`` moves, if every refusal lets it."""
    record = current(records)
    if record is None:
        raise NotAtSite(name=target.name, subcloud=subcloud.name)
    _check_not_busy(subcloud, records)
    _require(subcloud, record, "update", {AppStatus.APPLIED})
    check_update(
        subcloud.name,
        record,
        target.version,
        previous_version(records),
        upgradable(record.version),
    )
    if require_prestaged:
        check_prestaged(subcloud, target.name, target.version)
    return record


def _update_args(
    target: db_apps.AppVersion,
    values: dict[str, Any],
    record: db_site_apps.SiteApp,
    running: db_apps.AppVersion | None,
    records: list[db_site_apps.SiteApp],
) -> dict[str, Any]:
    """An update's step arguments: the target, and the version it updates from (its
    ledger, and its phase plan for a recovery)."""
    return _step_args("update", target, record) | {
        "values": values,
        "upload": True,
        "own_releases": [],
        "from": {
            "id": record.id,
            "version": record.version,
            "releases": record.releases,
            "phase_values": running.details.get("phases", {}) if running else {},
        },
        "inactive": _inactive(records, target.version),
    }


def plan_update(
    target: db_apps.AppVersion,
    values: dict[str, Any],
    catalog: Callable[[str], db_apps.AppVersion | None],
    require_prestaged: bool = False,
) -> Planner:
    """Update the applied application to ``target`` (seed 000).

    :param catalog: the catalog's record of a version, if it has it (whether the version
        the site runs is upgradable, and its phase plan for a recovery).
    :param require_prestaged: refuse a site a prestage did not put the version's images on.
    """

    def upgradable(version: str) -> bool:
        found = catalog(version)
        return found is None or bool(found.details.get("upgradable", True))

    def plan(subcloud, records) -> db_site_apps.Plan:
        record = _updatable(subcloud, records, target, upgradable, require_prestaged)
        running = catalog(record.version)
        inactive = next((r for r in records if r.version == target.version), None)
        changes = [
            db_site_apps.RecordChange(
                record.id,
                {"status": str(AppStatus.UPDATING), "progress": f"updating to {target.version}"},
            )
        ]
        back = [record.id, {"status": str(AppStatus.APPLIED), "progress": record.progress}]
        args = _update_args(target, values, record, running, records)
        if inactive is not None:
            changes.append(
                db_site_apps.RecordChange(
                    inactive.id, {"status": str(AppStatus.UPLOADING), "progress": None}
                )
            )
            target_undo = [inactive.id, {"status": str(AppStatus.INACTIVE), "progress": None}]
            return db_site_apps.Plan(
                changes=changes,
                new_record=None,
                step_args=lambda added: (
                    args
                    | {
                        "record": inactive.id,
                        "inactive_releases": inactive.releases,
                        "target_undo": target_undo,
                        "undo": [back, target_undo],
                    }
                ),
            )
        return db_site_apps.Plan(
            changes=changes,
            new_record=_new_record(target),
            step_args=lambda added: (
                args
                | {"record": added, "target_undo": [added, None], "undo": [back, [added, None]]}
            ),
        )

    return plan


# An update's refusals that leave a site out of an app-update strategy (``skipped``)
# rather than fail its step: nothing to update there, or not to be updated without
# the version's images prestaged.
LEFT_OUT = (NotAtSite, AlreadyAtTarget, NotPrestaged)
# Every refusal of an update, as its planner raises them.
UPDATE_REFUSALS = (NotAtSite, OperationUnderWay, StatusForbids, UpdateRefused, NotPrestaged)


def update_refusal(
    planner: Planner, subcloud: models.Subcloud, records: list[db_site_apps.SiteApp]
) -> exception.DCManagerException | None:
    """Why the update ``planner`` plans would be refused at ``subcloud`` with these
    records (planning touches nothing), or None."""
    try:
        planner(subcloud, records)
    except UPDATE_REFUSALS as exc:
        return exc
    return None


def plan_remove(name: str, catalog: Callable[[str], db_apps.AppVersion | None]) -> Planner:
    """Uninstall the application's releases; the site keeps the version, uploaded.

    :param catalog: the catalog's record of a version, if it has it (its phase plan
        gives the uninstall phase's overlay).
    """

    def plan(subcloud, records) -> db_site_apps.Plan:
        record = current(records)
        if record is None:
            raise NotAtSite(name=name, subcloud=subcloud.name)
        _check_not_busy(subcloud, records)
        _require(subcloud, record, "remove", REMOVE_FROM)
        undo = [record.id, {"status": record.status, "progress": record.progress}]
        return db_site_apps.Plan(
            changes=[
                db_site_apps.RecordChange(
                    record.id, {"status": str(AppStatus.REMOVING), "progress": None}
                )
            ],
            new_record=None,
            step_args=lambda added: (
                _step_args("remove", catalog(record.version), record)
                | {
                    "record": record.id,
                    "undo": [undo],
                    "digest": "",
                    "inactive": _inactive(records),
                }
            ),
        )

    return plan


def check_forget(name: str) -> Callable[[models.Subcloud, list[db_site_apps.SiteApp]], None]:
    """Deleting an application from a site: only once nothing of it is applied or
    under way."""

    def check(subcloud, records) -> None:
        if not records:
            raise NotAtSite(name=name, subcloud=subcloud.name)
        _check_not_busy(subcloud, records)
        for record in records:
            if record.status not in DELETE_FROM:
                raise StatusForbids(
                    name=name,
                    subcloud=subcloud.name,
                    status=record.status,
                    action="delete",
                    needed=" or ".join(sorted(DELETE_FROM - {AppStatus.INACTIVE})),
                )

    return check
