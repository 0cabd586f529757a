"""Starting an operation on an application at a site: the version chosen from the
catalog, the site's records moved and the operation's step added in one transaction
(:mod:`dcmanager.apps.site` decides), then the step is run by the manager."""

from oslo_config import cfg

from dcmanager.apps import site
from dcmanager.apps import versions
from dcmanager.common import clock as clock_module
from dcmanager.common import states
from dcmanager.db import apps as db_apps
from dcmanager.db import helm as db_helm
from dcmanager.db import site_apps as db_site_apps
from dcmanager.db.sqlalchemy import models
from dcmanager.helm import maps
from dcmanager.helm import overrides
from dcmanager.helm import yamlio


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


def chart_values(name: str, target: db_apps.AppVersion) -> dict:
    """The operator's overrides of each of the version's charts, by release (the
    application's; see :func:`site_chart_values` for a subcloud's)."""
    return {
        chart["release"]: overrides.user_values(name, chart["name"], chart["namespace"])
        for chart in target.details.get("charts", [])
    }


def _above(
    values: dict, target: db_apps.AppVersion, site_texts: dict[tuple[str, str], str]
) -> dict:
    """``values`` (the application's, by release) with a subcloud's own overrides
    (by chart and namespace) above them."""
    merged = dict(values)
    for chart in target.details.get("charts", []):
        text = site_texts.get((chart["name"], chart["namespace"]))
        if text:
            own = yamlio.load_values(text)
            merged[chart["release"]] = maps.merge_maps(values.get(chart["release"], {}), own)
    return merged


def site_chart_values(name: str, target: db_apps.AppVersion, subcloud_id: int) -> dict:
    """:func:`chart_values` at one subcloud (its own overrides above the application's)."""
    texts = db_helm.site_overrides(name, [subcloud_id]).get(subcloud_id, {})
    return _above(chart_values(name, target), target, texts)


def _strategy_refusal(exc: Exception) -> db_site_apps.Refused | None:
    if isinstance(exc, (*site.UPDATE_REFUSALS, db_apps.AppVersionGone)):
        skip = isinstance(exc, site.LEFT_OUT)
        ends = states.StepState.SKIPPED if skip else states.StepState.FAILED
        return db_site_apps.Refused(exc.message, str(ends))
    return None


def begin_strategy_steps(
    owner: str, name: str, version: str, steps: dict[int, int], require_prestaged: bool = False
) -> dict[int, dict]:
    """Start an app-update strategy's update of ``name`` to ``version`` at the sites of
    these held steps (``{step id: subcloud id}``), as their precheck begins (with
    ``require_prestaged``, only where a prestage put its images): the catalog and the
    application's overrides are read once (and the batch's sites' own overrides in one
    query), each site decides under its lock
    (:func:`dcmanager.db.site_apps.strategy_steps_begin`).

    :returns: each step's arguments, or its refusal (steps no longer held are left out).
    """
    known = {record.version: record for record in db_apps.app_versions(name)}
    target = known.get(version)
    if target is None:

        def planner(subcloud, records):
            raise db_apps.AppVersionGone(name=name, version=version)

    else:
        values = chart_values(name, target)
        per_site = {
            subcloud_id: _above(values, target, texts)
            for subcloud_id, texts in db_helm.site_overrides(name, list(steps.values())).items()
        }

        def planner(subcloud, records):
            # A site with overrides of its own deploys them above the application's.
            chosen = per_site.get(subcloud.id, values)
            return site.plan_update(target, chosen, known.get, require_prestaged)(subcloud, records)

    return db_site_apps.strategy_steps_begin(
        owner,
        steps,
        str(states.StepState.APP_UPDATE_PRECHECK),
        name,
        version,
        planner,
        _strategy_refusal,
    )


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
        values = site_chart_values(name, target, subcloud.id)
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
