"""Database API of the applications at each site: their records (seed 000's states and
release ledger), and the start of an operation on one of them.

An operation starts in one transaction that locks the subcloud's row first, then
reads the site's records of the application, checks them, moves them and adds the
operation's step: two operations on one site take turns, and of two racing for the
same application the second sees what the first committed and is refused. The step
then moves the records with its own compare-and-swaps
(:func:`dcmanager.db.worker_steps.steps_record`).
"""

import dataclasses
import datetime
import logging
from collections.abc import Callable
from typing import Any

from oslo_db import api as oslo_db_api
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.common import app_states
from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.db import api as db_api
from dcmanager.db import apps as db_apps
from dcmanager.db import prestage as db_prestage
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

LOG = logging.getLogger(__name__)
Row = models.SubcloudApp


class SiteBusy(exception.Conflict):
    msg_fmt = "Subcloud %(name)s %(reason)s"


@dataclasses.dataclass(frozen=True)
class SiteApp:
    """One version of an application at a site, as recorded."""

    id: int
    subcloud_id: int
    name: str
    version: str
    status: str
    progress: str | None
    releases: list[dict[str, Any]]
    phases: dict[str, str]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


def _record(row: Row) -> SiteApp:
    return SiteApp(
        id=row.id,
        subcloud_id=row.subcloud_id,
        name=row.name,
        version=row.version,
        status=row.status,
        progress=row.progress,
        releases=list(row.releases or []),
        phases=dict(row.phases or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclasses.dataclass(frozen=True)
class RecordChange:
    """A change to a site's application record: ``values`` None deletes it."""

    record_id: int
    values: dict[str, Any] | None


@dataclasses.dataclass(frozen=True)
class Plan:
    """What starting an operation does to the records, decided from them."""

    changes: list[RecordChange]
    new_record: dict[str, Any] | None
    """A record to add (``name``, ``version``, ``status``...), or None."""
    step_args: Callable[[int | None], dict[str, Any]]
    """The step's arguments, given the id of the added record (None if none)."""


def site_apps(subcloud_id: int, name: str | None = None) -> list[SiteApp]:
    """The site's application records (of the application ``name``), by name then age."""
    query = select(Row).where(Row.subcloud_id == subcloud_id).order_by(Row.name, Row.id)
    if name is not None:
        query = query.where(Row.name == name)
    with session.reader() as db:
        return [_record(row) for row in db.scalars(query)]


def site_apps_by_subcloud(name: str) -> dict[int, list[SiteApp]]:
    """Every site's records of the application ``name``, by subcloud id, oldest first."""
    query = select(Row).where(Row.name == name).order_by(Row.subcloud_id, Row.id)
    found: dict[int, list[SiteApp]] = {}
    with session.reader() as db:
        for row in db.scalars(query):
            found.setdefault(row.subcloud_id, []).append(_record(row))
    return found


def operations_under_way(subcloud_id: int) -> dict[str, str]:
    """The state of the operation under way on each application of the site."""
    with session.reader() as db:
        rows = db.execute(
            select(models.StrategyStep.state, models.StrategyStep.extra_args)
            .where(models.StrategyStep.subcloud_id == subcloud_id)
            .where(models.StrategyStep.state.in_([str(s) for s in states.APP_PHASES]))
        ).all()
    # A strategy's step is under way once it began at the site (its own arguments).
    return {
        args["app"]: state
        for state, args in rows
        if args and args.get("kind") == "app" and "refused" not in args
    }


@oslo_db_api.retry_on_deadlock
def operation_begin(
    subcloud_id: int,
    name: str,
    plan: Callable[[models.Subcloud, list[SiteApp]], Plan],
    now: datetime.datetime,
    lease_until: datetime.datetime,
    version: str | None = None,
) -> models.StrategyStep:
    """Start an operation on the application ``name`` at a site: lock the subcloud
    (and the catalog's ``version``, which may not be deleted meanwhile), refuse if a
    live strategy holds it, let ``plan`` decide from the site's records (raising to
    refuse), make its changes and add the operation's step, all in one transaction.

    :raises SubcloudNotFound: no such subcloud.
    :raises AppVersionGone: the catalog's version was deleted meanwhile.
    :raises SiteBusy: a strategy holds the subcloud.
    """
    with session.writer() as db:
        subcloud = db_api.lock_subcloud(db, subcloud_id)
        if version is not None:
            db_apps.lock_version(db, name, version)
        if db.scalar(select(db_prestage.held_by_strategy(subcloud_id, standalone=False))):
            raise SiteBusy(name=subcloud.name, reason="is part of the current strategy")
        rows = _site_rows(db, [subcloud_id], name)[subcloud_id]
        decided = plan(subcloud, [_record(row) for row in rows])
        args = _apply_plan(db, subcloud_id, rows, decided)
        step = models.StrategyStep(
            strategy_id=None,
            subcloud_id=subcloud_id,
            stage=1,
            state=str(states.StepState.APP_PRECHECK),
            attempts=0,
            lease_expires_at=lease_until,
            started_at=now,
            extra_args=args,
        )
        db.add(step)
    return step


def _apply_plan(db, subcloud_id: int, rows: list, decided: Plan) -> dict[str, Any]:
    """Make the plan's changes to the site's records (``rows``, as read in ``db``'s
    transaction); the step's arguments. Core statements: a batch of sites begins in
    one transaction without the ORM's session growing with it."""
    apps = Row.__table__
    _check_plan(rows, decided)
    for change in decided.changes:
        if change.values is None:
            db.execute(delete(apps).where(apps.c.id == change.record_id))
            continue
        db.execute(update(apps).where(apps.c.id == change.record_id).values(**change.values))
    added = None
    if decided.new_record is not None:
        result = db.execute(insert(apps).values(subcloud_id=subcloud_id, **decided.new_record))
        added = result.inserted_primary_key[0]
    return decided.step_args(added)


def _site_rows(db, subcloud_ids: list[int], name: str) -> dict[int, list]:
    """The sites' records of the application ``name`` (Core rows), oldest first."""
    apps = Row.__table__
    found: dict[int, list] = {subcloud_id: [] for subcloud_id in subcloud_ids}
    for row in db.execute(
        select(apps)
        .where(apps.c.subcloud_id.in_(subcloud_ids))
        .where(apps.c.name == name)
        .order_by(apps.c.id)
    ):
        found[row.subcloud_id].append(row)
    return found


@dataclasses.dataclass(frozen=True)
class Refused:
    """A strategy step's operation did not begin: the site's records refused it, or
    the strategy is being aborted."""

    reason: str
    ends: str
    """The state the step ends in: ``skipped`` (nothing to do there), ``failed`` or
    ``aborted``."""


ABORTING = Refused(states.NOT_STARTED_ABORTED, str(states.StepState.ABORTED))
INTERNAL_ERROR = "internal error (see the dcmanager log)"


def _begin_at(
    db,
    subcloud: models.Subcloud,
    rows: list,
    name: str,
    version: str,
    refused: Refused | None,
    plan: Callable[[models.Subcloud, list[SiteApp]], Plan],
    refusal: Callable[[Exception], Refused | None],
) -> dict[str, Any]:
    """One site's part of :func:`strategy_steps_begin` (its subcloud locked, ``rows``
    its records): the step's arguments, or its refusal (``refused`` already, or by
    the plan)."""
    if refused is None:
        try:
            decided = plan(subcloud, [_record(r) for r in rows])
            _check_plan(rows, decided)
        except Exception as exc:
            refused = refusal(exc)
            if refused is None:
                # A bug, not a refusal: this site's step fails, the batch goes on.
                LOG.exception("Could not begin the update of %s at %s", name, subcloud.name)
                refused = Refused(INTERNAL_ERROR, str(states.StepState.FAILED))
        else:
            return _apply_plan(db, subcloud.id, rows, decided)
    return {
        "kind": "app",
        "app": name,
        "version": version,
        "refused": refused.reason,
        "ends": refused.ends,
    }


def _check_plan(rows: list, decided: Plan) -> None:
    """:raises InvalidAppTransition: the plan moves a record outside the state table
    (checked before anything is written)."""
    by_id = {row.id: row for row in rows}
    for change in decided.changes:
        if change.values is not None and "status" in change.values:
            app_states.check_transition(by_id[change.record_id].status, change.values["status"])


def _lock_held(db, owner: str, steps: dict[int, int], state: str) -> tuple[list, dict]:
    """Lock the steps still ``owner``'s and in ``state`` (their id, arguments and
    strategy), then their subclouds (by id), each in id order."""
    held = db.execute(
        select(
            models.StrategyStep.id,
            models.StrategyStep.extra_args,
            models.StrategyStep.strategy_id,
        )
        .where(models.StrategyStep.id.in_(list(steps)))
        .where(models.StrategyStep.owner == owner)
        .where(models.StrategyStep.state == state)
        .order_by(models.StrategyStep.id)
        .with_for_update()
    ).all()
    subclouds = {
        row.id: row
        for row in db.scalars(
            select(models.Subcloud)
            .where(models.Subcloud.id.in_([steps[row.id] for row in held]))
            .order_by(models.Subcloud.id)
            .with_for_update()
        )
    }
    return held, subclouds


# A strategy in these states lets the steps it started begin (a paused one lets its
# running steps finish).
_GOING = (
    states.StrategyState.APPLYING,
    states.StrategyState.PAUSING,
    states.StrategyState.PAUSED,
)


def _stopping(db, strategy_ids: set[int]) -> dict[int, Refused]:
    """The strategies that start no more sites: aborted, or stopping because more
    steps failed than their failure budget (what a step not begun yet ends with). A
    change committed after this read finds the steps begun: in flight."""
    found: dict[int, Refused] = {}
    strategy = models.Strategy
    for strategy_id, state, stop_on_failure, extra_args in db.execute(
        select(strategy.id, strategy.state, strategy.stop_on_failure, strategy.extra_args).where(
            strategy.id.in_(strategy_ids)
        )
    ):
        if state not in _GOING:
            found[strategy_id] = ABORTING
        elif states.failure_budget(stop_on_failure, extra_args) is not None and (
            reason := states.over_budget(stop_on_failure, extra_args, _failed(db, strategy_id))
        ):
            found[strategy_id] = Refused(reason, str(states.StepState.ABORTED))
    return found


def _failed(db, strategy_id: int) -> int:
    return db.scalar(
        select(func.count())
        .select_from(models.StrategyStep)
        .where(models.StrategyStep.strategy_id == strategy_id)
        .where(models.StrategyStep.state == str(states.StepState.FAILED))
    )


@oslo_db_api.retry_on_deadlock
def strategy_steps_begin(
    owner: str,
    steps: dict[int, int],
    state: str,
    name: str,
    version: str,
    plan: Callable[[models.Subcloud, list[SiteApp]], Plan],
    refusal: Callable[[Exception], Refused | None],
) -> dict[int, dict[str, Any]]:
    """Start a strategy's operation on the application ``name`` at the sites of held
    steps, in one transaction: per step (``{step id: subcloud id}``) still ``owner``'s
    and in ``state``, lock its subcloud, let ``plan`` decide from the site's records
    as they are now, make its changes and store the step's arguments on the step.

    A step that began already (an earlier attempt committed) keeps its arguments. A
    refusal (``refusal`` turns the planner's exception into one, or returns None to
    let it propagate) is stored instead, for the step to end with.

    :returns: each step's arguments (steps no longer ``owner``'s are left out).
    """
    if not steps:
        return {}
    begun: dict[int, dict[str, Any]] = {}
    new_args: list[dict[str, Any]] = []
    with session.writer() as db:
        held, subclouds = _lock_held(db, owner, steps, state)
        gone = None
        try:
            db_apps.lock_version(db, name, version)
        except db_apps.AppVersionGone as exc:
            gone = Refused(exc.message, str(states.StepState.FAILED))
        rows = _site_rows(db, [steps[row.id] for row in held if not row.extra_args], name)
        stopping = _stopping(db, {row.strategy_id for row in held})
        for step_id, stored, strategy_id in held:
            if not stored:
                subcloud = subclouds[steps[step_id]]
                site_rows = rows[subcloud.id]
                refused = stopping.get(strategy_id) or gone
                stored = _begin_at(db, subcloud, site_rows, name, version, refused, plan, refusal)
                new_args.append({"match_id": step_id, "extra_args": stored})
            begun[step_id] = stored
        if new_args:
            table = models.StrategyStep.__table__
            db.execute(
                update(table)
                .where(table.c.id == bindparam("match_id"))
                .values(extra_args=bindparam("extra_args")),
                new_args,
            )
    return begun


@oslo_db_api.retry_on_deadlock
def app_forget(
    subcloud_id: int, name: str, check: Callable[[models.Subcloud, list[SiteApp]], None]
) -> int:
    """Delete the site's records of the application ``name`` once ``check`` (given
    them, under the subcloud's lock) lets it; how many there were.

    :raises SubcloudNotFound: no such subcloud.
    """
    with session.writer() as db:
        subcloud = db_api.lock_subcloud(db, subcloud_id)
        rows = db.scalars(
            select(Row).where(Row.subcloud_id == subcloud_id).where(Row.name == name)
        ).all()
        check(subcloud, [_record(row) for row in rows])
        db.execute(delete(Row).where(Row.id.in_([row.id for row in rows])))
    return len(rows)
