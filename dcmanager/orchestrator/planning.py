"""Planning a strategy: which subclouds it covers, and which of them are skipped with
what reason. The API calls it at create; it reads the inventory, the release store and
the application catalog, and applies the engine's own rules: a prestage's
eligibility (:func:`prestage.eligibility_problem`), an update's refusals
(:mod:`dcmanager.apps.site`), the same that precheck applies again when a step starts.
"""

from typing import Any

from dcmanager.apps import site
from dcmanager.apps import versions
from dcmanager.common import exception
from dcmanager.common.states import StepState
from dcmanager.common.states import StrategyType
from dcmanager.db import api as db_api
from dcmanager.db import apps as db_apps
from dcmanager.db import orchestration as db_orchestration
from dcmanager.db import releases as db_releases
from dcmanager.db import site_apps as db_site_apps
from dcmanager.db.sqlalchemy import models
from dcmanager.orchestrator import prestage

NO_RELEASE = "No release in the release store: upload one first (dcmanager release upload)"


class NoSteps(exception.Unprocessable):
    msg_fmt = "Strategy has no steps to apply"


class Lookups:
    """The stored state a create or standalone prestage request is validated against
    (see ``dcmanager.api.schemas.sw_update_strategy.Lookups``)."""

    def group(self, ref: int | str) -> models.SubcloudGroup | None:
        try:
            return db_api.subcloud_group_get(ref)
        except exception.SubcloudGroupNotFound:
            return None

    def release(self, version: str | None) -> str:
        if version is None:
            newest = db_releases.newest_version()
            if newest is None:
                raise exception.Invalid(NO_RELEASE)
            return newest
        if not db_releases.release_exists(version):
            raise exception.Invalid(
                f"Release {version} is not in the release store: upload it first "
                "(dcmanager release upload)"
            )
        return version

    def app_version(self, name: str, wanted: str, include_prerelease: bool) -> str:
        known = [record.version for record in db_apps.app_versions(name)]
        try:
            return versions.select(name, known, wanted, include_prerelease)
        except (versions.AppNotFound, versions.AppVersionNotFound, versions.NoLatestVersion) as exc:
            raise exception.Invalid(
                f"{exc.message}: upload it first (dcmanager app upload)"
            ) from exc


LOOKUPS = Lookups()


def _scope(group_id: int | None, cloud_name: str | None) -> list[models.Subcloud]:
    """The subclouds in scope: the named one, the group's, or every subcloud.

    :raises Invalid: the named subcloud does not exist.
    """
    if cloud_name is not None:
        try:
            return [db_api.subcloud_get(cloud_name)]
        except exception.SubcloudNotFound as exc:
            raise exception.Invalid(f"Subcloud {cloud_name} does not exist") from exc
    if group_id is not None:
        return list(db_api.subcloud_group_subclouds(group_id))
    return list(db_api.subcloud_get_all())


def _app_update_problems(
    subclouds: list[models.Subcloud], name: str, version: str, require_prestaged: bool
) -> list[str | None]:
    """Why each site would not be updated now: not eligible (as for a prestage,
    except that prestaging does not matter), or an update's refusal by its records
    (or, when required, the version's images not prestaged there)."""
    known = {record.version: record for record in db_apps.app_versions(name)}
    if version not in known:
        raise db_apps.AppVersionGone(name=name, version=version)
    planner = site.plan_update(known[version], {}, known.get, require_prestaged)
    records = db_site_apps.site_apps_by_subcloud(name)
    problems = []
    for subcloud in subclouds:
        problem = prestage.eligibility_problem(subcloud)
        if problem == prestage.ALREADY_PRESTAGING:
            problem = None
        if problem is None:
            refusal = site.update_refusal(planner, subcloud, records.get(subcloud.id, []))
            problem = refusal.message if refusal is not None else None
        problems.append(problem)
    return problems


def plan_steps(
    group_id: int | None, cloud_name: str | None, strategy: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The steps of a strategy: one per subcloud in scope (the named one, the group's,
    or every subcloud), in id order; a subcloud the strategy cannot act on has its
    step ``skipped`` with the reason.

    :param strategy: the strategy's columns (its type and arguments); a prestage by default.
    :raises Invalid: the named subcloud does not exist or cannot be acted on.
    :raises NoSteps: no subcloud in scope can be acted on.
    """
    return [step for step, _ in _plan(group_id, cloud_name, strategy)]


def _plan(
    group_id: int | None, cloud_name: str | None, strategy: dict[str, Any] | None
) -> list[tuple[dict[str, Any], models.Subcloud]]:
    """:func:`plan_steps`, each step with its subcloud."""
    subclouds = _scope(group_id, cloud_name)
    if strategy is not None and strategy["type"] == StrategyType.APP_UPDATE:
        args = strategy["extra_args"]
        problems = _app_update_problems(
            subclouds, args["app"], args["version"], bool(args.get("require-prestaged"))
        )
        what = "Application update"
    else:
        problems = [prestage.eligibility_problem(subcloud) for subcloud in subclouds]
        what = "Prestage"
    if cloud_name is not None and problems[0]:
        raise exception.Invalid(f"{what} skipped '{cloud_name}': {problems[0]}")
    steps = []
    for subcloud, problem in zip(subclouds, problems, strict=True):
        step = {
            "subcloud_id": subcloud.id,
            "state": str(StepState.SKIPPED if problem else StepState.INITIAL),
            "details": problem,
        }
        steps.append((step, subcloud))
    if not any(step["state"] == StepState.INITIAL for step, _ in steps):
        raise NoSteps()
    return steps


def create_strategy(values: dict[str, Any], group_id: int | None, cloud_name: str | None):
    """Plan the strategy's steps and create it with them.

    A subcloud whose standalone prestage starts between the plan and the creation is
    skipped as ``Subcloud is already prestaging.`` (the database decides, atomically).

    :raises Invalid: the named subcloud does not exist or is not eligible.
    :raises NoSteps: no subcloud in scope is eligible.
    :raises StrategyExists: a strategy exists already.
    """
    steps = plan_steps(group_id, cloud_name, values)
    values = _with_failure_budget(values, steps)
    prestaging = values["type"] == StrategyType.PRESTAGE
    try:
        return db_orchestration.strategy_create(
            values, steps, prestage.ALREADY_PRESTAGING if prestaging else None
        )
    except db_orchestration.SubcloudsBusy:
        if cloud_name is not None:
            raise exception.Invalid(
                f"Prestage skipped '{cloud_name}': {prestage.ALREADY_PRESTAGING}"
            ) from None
        raise NoSteps() from None


def preview(values: dict[str, Any], group_id: int | None, cloud_name: str | None) -> dict[str, Any]:
    """What :func:`create_strategy` would create, stored nowhere: the strategy's
    settings, its steps in the order they would start (skipped ones with the reason),
    and for a prestage what each site still needs of the release: its packages' bytes
    and its images, unless the site reports holding the whole release (the controller
    knows no more of a site than that: a transfer cut short resumes, so the bytes are
    an upper bound).

    :raises: as :func:`create_strategy` does, but for a subcloud whose standalone
        prestage starts meanwhile (the database decides that at creation).
    """
    existing = db_orchestration.strategy_find()
    if existing is not None:
        raise db_orchestration.StrategyExists(type=existing.type)
    planned = _plan(group_id, cloud_name, values)
    values = _with_failure_budget(values, [step for step, _ in planned])
    release = None
    if values["type"] == StrategyType.PRESTAGE:
        release = db_releases.release_get(values["extra_args"]["prestage-software-version"])
    steps = [_preview_step(step, subcloud, release) for step, subcloud in planned]
    running = [step for step in steps if step["state"] == StepState.INITIAL]
    totals: dict[str, Any] = {
        "in-scope": len(steps),
        "to-run": len(running),
        "skipped": len(steps) - len(running),
    }
    if release is not None:
        totals["bytes-to-move"] = sum(step["bytes-to-move"] for step in running)
        totals["images-to-move"] = sum(step["images-to-move"] for step in running)
    return {"strategy": values, "steps": steps, "totals": totals}


def _preview_step(
    step: dict[str, Any], subcloud: models.Subcloud, release: db_releases.Release | None
) -> dict[str, Any]:
    shown = {"cloud": subcloud.name, "state": step["state"], "details": step["details"]}
    if release is not None:
        held = release.version in (subcloud.prestage_versions or "").split(",")
        skipped = step["state"] == StepState.SKIPPED
        shown["bytes-to-move"] = 0 if held or skipped else release.total_bytes
        shown["images-to-move"] = 0 if held or skipped else release.image_count
    return shown


def _with_failure_budget(values: dict[str, Any], steps: list[dict]) -> dict[str, Any]:
    """Resolve max-failures into the number of steps that may fail (a percentage of the
    steps that will run, rounded down), kept beside it as ``failure-budget``."""
    extra_args = values.get("extra_args") or {}
    wanted = extra_args.get("max-failures")
    if wanted is None:
        return values
    if isinstance(wanted, str):  # "N%", checked by the schema
        running = sum(step["state"] == StepState.INITIAL for step in steps)
        budget = int(wanted[:-1]) * running // 100
    else:
        budget = wanted
    return {**values, "extra_args": {**extra_args, "failure-budget": budget}}


def check_standalone(subcloud: models.Subcloud) -> None:
    """A standalone prestage is refused for the reasons a strategy would skip the
    subcloud, except that it is already prestaging (precheck fails that step, saying so).

    :raises Invalid: the subcloud is not eligible.
    """
    problem = prestage.eligibility_problem(subcloud)
    if problem and problem != prestage.ALREADY_PRESTAGING:
        raise exception.Invalid(f"Prestage skipped '{subcloud.name}': {problem}")
