"""Render database objects as API dictionaries (field names of the API contract)."""

import datetime
from typing import Any

from dcmanager.apps import site
from dcmanager.apps import versions
from dcmanager.common import redaction
from dcmanager.common import states
from dcmanager.common.app_states import AppStatus
from dcmanager.db import apps as db_apps
from dcmanager.db import releases as db_releases
from dcmanager.db import site_apps as db_site_apps
from dcmanager.db.sqlalchemy import models


def timestamp(value: datetime.datetime | None) -> str | None:
    """ISO 8601 in UTC; the database holds naive UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=datetime.UTC).isoformat()


def subcloud(sc: models.Subcloud) -> dict[str, Any]:
    """Every key StarlingX's client reads, null where dcmanager keeps nothing (its
    client builds a subcloud from a fixed set of keys and fails on a missing one)."""
    return {
        "id": sc.id,
        "name": sc.name,
        "description": sc.description,
        "location": sc.location,
        "software-version": sc.software_version,
        "management-state": sc.management_state,
        "availability-status": sc.availability_status,
        "deploy-status": sc.deploy_status,
        "backup-status": sc.backup_status,
        "backup-datetime": None,
        "prestage-status": sc.prestage_status,
        "prestage-versions": sc.prestage_versions,
        "prestage-software-version": sc.prestage_software_version,
        "app-sync-status": sc.app_sync_status,
        "app-sync-details": sc.app_sync_details or [],
        "error-description": sc.error_description,
        "region-name": sc.region_name,
        "management-subnet": sc.management_subnet,
        "management-start-ip": sc.management_start_ip,
        "management-end-ip": sc.management_end_ip,
        "management-gateway-ip": sc.management_gateway_ip,
        "systemcontroller-gateway-ip": sc.systemcontroller_gateway_ip,
        "openstack-installed": None,
        "data_install": None,
        "data_upgrade": None,
        "group_id": sc.group_id,
        "peer_group_id": None,
        "rehome_data": None,
        "sync_status": None,
        "endpoint_sync_status": [],
        "endpoint": redaction.redact_url(sc.endpoint),
        "created-at": timestamp(sc.created_at),
        "updated-at": timestamp(sc.updated_at),
    }


UNAVAILABLE = "unavailable"
UNKNOWN = "unknown"


def subcloud_detail(sc: models.Subcloud) -> dict[str, Any]:
    """A subcloud with what ``subcloud show --detail`` reads besides."""
    return {
        **subcloud(sc),
        "oam_floating_ip": UNAVAILABLE,
        "deploy_config_sync_status": UNKNOWN,
        "region_name": sc.region_name,
    }


def subcloud_group(group: models.SubcloudGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "update_apply_type": group.update_apply_type,
        "max_parallel_subclouds": group.max_parallel_subclouds,
        "created-at": timestamp(group.created_at),
        "updated-at": timestamp(group.updated_at),
    }


def strategy(item: models.Strategy) -> dict[str, Any]:
    """Never the secret: ``extra-args`` holds only the non-secret arguments."""
    return {
        "id": item.id,
        "type": item.type,
        "subcloud-apply-type": item.subcloud_apply_type,
        "max-parallel-subclouds": item.max_parallel_subclouds,
        "stop-on-failure": item.stop_on_failure,
        "state": item.state,
        "created-at": timestamp(item.created_at),
        "updated-at": timestamp(item.updated_at),
        "extra-args": item.extra_args or {},
        # The estimated end, while it applies and once its steps measured enough.
        "eta": timestamp(item.eta) if item.state == states.StrategyState.APPLYING else None,
    }


def strategy_preview(plan: dict[str, Any]) -> dict[str, Any]:
    """A plan preview (``POST /sw-update-strategy?dry_run=true``): the strategy create
    would make, its steps in the order they would start, and what they would move."""
    values = plan["strategy"]
    return {
        "dry-run": True,
        "type": values["type"],
        "subcloud-apply-type": values["subcloud_apply_type"],
        "max-parallel-subclouds": values["max_parallel_subclouds"],
        "stop-on-failure": values["stop_on_failure"],
        "extra-args": values["extra_args"],
        "steps": plan["steps"],
        "totals": plan["totals"],
    }


def strategy_step(step: models.StrategyStep, cloud: str) -> dict[str, Any]:
    return {
        "id": step.id,
        "cloud": cloud,
        "stage": step.stage,
        "state": step.state,
        "details": step.details,
        "progress": step.progress,
        "attempt": step.attempt,
        "retry-at": timestamp(step.retry_at),
        "history": step.history or [],
        "started-at": timestamp(step.started_at),
        "finished-at": timestamp(step.finished_at),
        "created-at": timestamp(step.created_at),
        "updated-at": timestamp(step.updated_at),
    }


def release(item: db_releases.Release) -> dict[str, Any]:
    """A release; with its files and images when it was read on its own."""
    view: dict[str, Any] = {
        "version": item.version,
        "file-count": item.file_count,
        "bytes": item.total_bytes,
        "image-count": item.image_count,
        "created-at": timestamp(item.created_at),
    }
    if item.files is not None:
        view["files"] = [{"path": f.path, "size": f.size, "digest": f.digest} for f in item.files]
        view["images"] = list(item.images or ())
    return view


def app_version(record: db_apps.AppVersion) -> dict[str, Any]:
    details = record.details
    return {
        "name": record.name,
        "version": record.version,
        "semver": versions.parse(record.version) is not None,
        "prerelease": versions.is_prerelease(record.version),
        "charts": [
            {key: chart[key] for key in ("name", "version", "namespace", "release")}
            for chart in details["charts"]
        ],
        "images": details["images"],
        "upgradable": details["upgradable"],
        "phases": details.get("phases", {}),
        "md5": record.md5,
        "created-at": timestamp(record.created_at),
    }


def app(name: str, records: list[db_apps.AppVersion]) -> dict[str, Any]:
    """An application: its versions in ascending precedence, and which is latest."""
    return {
        "name": name,
        "latest": versions.latest(record.version for record in records),
        "versions": [app_version(record) for record in records],
    }


def site_apps(
    records: list[db_site_apps.SiteApp], operations: dict[str, str]
) -> list[dict[str, Any]]:
    """A site's applications, one entry each: the version it runs (or is getting) with
    its status, progress, release ledger and phases, the state of the operation under
    way on it (``operation``, null once it ended), and the inactive versions an update
    left behind."""
    by_name: dict[str, list[db_site_apps.SiteApp]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    shown = []
    for name, versions_here in by_name.items():
        record = site.current(versions_here)
        target = [r for r in versions_here if r is not record and r.status != AppStatus.INACTIVE]
        shown.append(
            {
                "name": name,
                "version": record.version if record else None,
                "status": record.status if record else str(AppStatus.INACTIVE),
                "progress": record.progress if record else None,
                "target-version": target[0].version if target else None,
                "operation": operations.get(name),
                "releases": record.releases if record else [],
                "phases": record.phases if record else {},
                "inactive": [
                    {"version": r.version, "releases": r.releases}
                    for r in versions_here
                    if r.status == AppStatus.INACTIVE
                ],
                "updated-at": timestamp(record.updated_at or record.created_at) if record else None,
            }
        )
    return shown
