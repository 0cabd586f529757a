"""Starting an operation on an application at a site: the version chosen from the
catalog, the site's records moved and the operation's step added in one transaction
(:mod:`dcmanager.apps.site` decides), then the step is run by the manager."""

from oslo_config import cfg

from dcmanager.apps import site
from dcmanager.apps import versions
from dcmanager.common import clock as clock_module
from dcmanager.db import apps as db_apps
from dcmanager.db import site_apps as db_site_apps
from dcmanager.db.sqlalchemy import models
from dcmanager.helm import overrides


def _target(
    name: str,
    known: dict[str, db_apps.AppVersion],
    wanted: str | None,
    prerelease: bool,
    running: str | None,
) -> db_apps.AppVersion:
    """The catalog version an apply or update names: ``wanted`` (a version or
    ``latest``), or for an apply without one the version the site holds, else the
    latest (see :func:`versions.select`)."""
    if wanted is None:
        wanted = running or versions.LATEST
    return known[versions.select(name, known, wanted, prerelease)]


def start(
    conf: cfg.ConfigOpts,
    subcloud: models.Subcloud,
    name: str,
    action: str,
    version: str | None = None,
    include_prerelease: bool = False,
    clock: clock_module.Clock = clock_module.SYSTEM,
) -> models.StrategyStep:
    """Start ``action`` (apply, update, remove) on the application ``name`` at
    ``subcloud``; returns the operation's step (for the manager to run).

    :raises AppNotFound, AppVersionNotFound, NoLatestVersion: the catalog lacks it.
    :raises NotAtSite, OperationUnderWay, StatusForbids, UpdateRefused, OtherVersion,
        SiteBusy: the site's records (or a strategy) do not allow it now.
    """
    known = {record.version: record for record in db_apps.app_versions(name)}
    version_used = None
    if action == "remove":
        planner = site.plan_remove(name, known.get)
    else:
        held = site.current(db_site_apps.site_apps(subcloud.id, name))
        running = held.version if held is not None else None
        target = _target(name, known, version, include_prerelease, running)
        version_used = target.version
        values = {
            chart["release"]: overrides.user_values(name, chart["name"], chart["namespace"])
            for chart in target.details.get("charts", [])
        }
        if action == "apply":
            planner = site.plan_apply(target, values)
        else:
            planner = site.plan_update(target, values, known.get)
    now, until = clock_module.lease(clock, conf.orchestrator.step_lease_seconds)
    return db_site_apps.operation_begin(subcloud.id, name, planner, now, until, version_used)


def forget(subcloud: models.Subcloud, name: str) -> int:
    """Delete the application's records at the site (nothing of it applied or under
    way); how many versions it had there."""
    return db_site_apps.app_forget(subcloud.id, name, site.check_forget(name))
