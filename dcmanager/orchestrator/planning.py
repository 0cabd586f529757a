"""Planning a strategy: which subclouds it covers, and which of them are skipped with
what reason. The API calls it at create; it reads the inventory and the release store
and applies the engine's own eligibility rules (:func:`prestage.eligibility_problem`),
the same that precheck applies again when a step starts.
"""

from typing import Any

from dcmanager.common import exception
from dcmanager.common.states import StepState
from dcmanager.db import api as db_api
from dcmanager.db import orchestration as db_orchestration
from dcmanager.db import releases as db_releases
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


LOOKUPS = Lookups()


def plan_steps(group_id: int | None, cloud_name: str | None) -> list[dict[str, Any]]:
    """The steps of a prestage strategy: one per subcloud in scope (the named one, the
    group's, or every subcloud), in id order; an ineligible subcloud's step is
    ``skipped`` with the reason.

    :raises Invalid: the named subcloud does not exist or is not eligible.
    :raises NoSteps: no subcloud in scope is eligible.
    """
    if cloud_name is not None:
        try:
            subcloud = db_api.subcloud_get(cloud_name)
        except exception.SubcloudNotFound as exc:
            raise exception.Invalid(f"Subcloud {cloud_name} does not exist") from exc
        problem = prestage.eligibility_problem(subcloud)
        if problem:
            raise exception.Invalid(f"Prestage skipped '{cloud_name}': {problem}")
        subclouds = [subcloud]
    elif group_id is not None:
        subclouds = list(db_api.subcloud_group_subclouds(group_id))
    else:
        subclouds = list(db_api.subcloud_get_all())
    steps = []
    for subcloud in subclouds:
        problem = prestage.eligibility_problem(subcloud)
        steps.append(
            {
                "subcloud_id": subcloud.id,
                "state": str(StepState.SKIPPED if problem else StepState.INITIAL),
                "details": problem,
            }
        )
    if not any(step["state"] == StepState.INITIAL for step in steps):
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
    steps = plan_steps(group_id, cloud_name)
    try:
        return db_orchestration.strategy_create(values, steps, prestage.ALREADY_PRESTAGING)
    except db_orchestration.SubcloudsBusy:
        if cloud_name is not None:
            raise exception.Invalid(
                f"Prestage skipped '{cloud_name}': {prestage.ALREADY_PRESTAGING}"
            ) from None
        raise NoSteps() from None


def check_standalone(subcloud: models.Subcloud) -> None:
    """A standalone prestage is refused for the reasons a strategy would skip the
    subcloud, except that it is already prestaging (precheck fails that step, saying so).

    :raises Invalid: the subcloud is not eligible.
    """
    problem = prestage.eligibility_problem(subcloud)
    if problem and problem != prestage.ALREADY_PRESTAGING:
        raise exception.Invalid(f"Prestage skipped '{subcloud.name}': {problem}")
