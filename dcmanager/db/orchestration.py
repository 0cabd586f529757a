"""Database API of orchestration: strategies, their steps, and prestage preparations.

Every change of state is a compare-and-swap (``UPDATE ... WHERE state = :expected``,
and ``AND owner = :me`` for a held step) whose row count says whether it happened.
Times are passed in by the caller (naive UTC), so one clock decides every lease.
"""

import dataclasses
import datetime
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
from typing import Any

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.subcloud_states import PrestageStatus
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

_ACTIVE = [str(state) for state in states.STEP_ACTIVE]
_UNFINISHED = _ACTIVE + [str(states.StepState.INITIAL)]
_STRATEGY_LIVE = [str(state) for state in states.STRATEGY_ACTIVE | {states.StrategyState.INITIAL}]
Step = models.StrategyStep


class StrategyExists(exception.Conflict):
    msg_fmt = "Strategy of type: '%(type)s' already exists"


class StrategyNotFound(exception.NotFound):
    msg_fmt = "Strategy not found"


class StrategyOfTypeNotFound(exception.NotFound):
    msg_fmt = "Strategy of type '%(type)s' not found"


class StrategyStateConflict(exception.Conflict):
    msg_fmt = "Strategy in state %(state)s cannot be %(action)s"


class StepNotFound(exception.NotFound):
    msg_fmt = "Strategy step not found"


class SubcloudBusy(exception.Conflict):
    msg_fmt = "Subcloud %(name)s %(reason)s"


# Strategies.


@oslo_db_api.retry_on_deadlock
def strategy_create(values: dict[str, Any], steps: Sequence[dict[str, Any]]) -> models.Strategy:
    """Create the strategy and all its steps in one transaction.

    :param values: strategy columns (type, apply type, max parallel, ...).
    :param steps: per step ``subcloud_id``, ``state`` (initial or skipped), ``details``.
    :raises StrategyExists: a strategy (of any type) already exists.
    """
    strategy = models.Strategy(slot=1, state=str(states.StrategyState.INITIAL), **values)
    try:
        with session.writer() as db:
            db.add(strategy)
            db.flush()
            now = models.utcnow()
            if steps:
                db.execute(
                    insert(Step),
                    [
                        {
                            "strategy_id": strategy.id,
                            "stage": 1,
                            "attempts": 0,
                            "created_at": now,
                            "finished_at": now if step["state"] in states.STEP_FINISHED else None,
                            **step,
                        }
                        for step in steps
                    ],
                )
    except db_exc.DBDuplicateEntry as exc:
        existing = strategy_get()
        raise StrategyExists(type=existing.type) from exc
    return strategy


def strategy_get(strategy_type: str | None = None) -> models.Strategy:
    """The strategy, if it is of ``strategy_type`` (any type when None).

    :raises StrategyNotFound: there is none.
    :raises StrategyOfTypeNotFound: there is none of that type.
    """
    strategy = strategy_find()
    if strategy is None or (strategy_type and strategy.type != strategy_type):
        if strategy_type:
            raise StrategyOfTypeNotFound(type=strategy_type)
        raise StrategyNotFound()
    return strategy


def strategy_find() -> models.Strategy | None:
    """The strategy, or None."""
    with session.reader() as db:
        return db.scalars(select(models.Strategy)).first()


@oslo_db_api.retry_on_deadlock
def strategy_transition(
    strategy_id: int,
    expected: Collection[str],
    new_state: str,
    action: str,
    values: dict[str, Any] | None = None,
) -> models.Strategy:
    """Move the strategy to ``new_state`` if it is in one of ``expected``.

    :param action: what the caller does, for the error (``applied``, ``aborted``, ...).
    :raises StrategyNotFound: it is gone.
    :raises StrategyStateConflict: it is in another state.
    :raises InvalidTransition: ``expected`` -> ``new_state`` is not in the state table.
    """
    for source in expected:
        states.check_strategy_transition(source, new_state)
    with session.writer() as db:
        result = db.execute(
            update(models.Strategy)
            .where(models.Strategy.id == strategy_id)
            .where(models.Strategy.state.in_([str(s) for s in expected]))
            .values(state=str(new_state), updated_at=models.utcnow(), **(values or {}))
        )
        strategy = db.get(models.Strategy, strategy_id, populate_existing=True)
    if strategy is None:
        raise StrategyNotFound()
    if result.rowcount != 1:
        raise StrategyStateConflict(state=strategy.state, action=action)
    return strategy


@oslo_db_api.retry_on_deadlock
def strategy_claim(
    strategy_id: int, owner: str, now: datetime.datetime, lease_until: datetime.datetime
) -> bool:
    """Take or renew the orchestrator's lease on the strategy; False if another
    orchestrator holds it."""
    with session.writer() as db:
        result = db.execute(
            update(models.Strategy)
            .where(models.Strategy.id == strategy_id)
            .where(
                or_(
                    models.Strategy.owner.is_(None),
                    models.Strategy.owner == owner,
                    models.Strategy.lease_expires_at < now,
                )
            )
            .values(owner=owner, lease_expires_at=lease_until)
        )
    return result.rowcount == 1


@oslo_db_api.retry_on_deadlock
def strategy_release(owner: str) -> None:
    """An orchestrator that stops gives up its lease on the strategy."""
    with session.writer() as db:
        db.execute(
            update(models.Strategy)
            .where(models.Strategy.owner == owner)
            .values(owner=None, lease_expires_at=None)
        )


@oslo_db_api.retry_on_deadlock
def strategy_destroy(strategy_id: int) -> None:
    """Delete a strategy in ``deleting`` with its steps, preparation and secret."""
    with session.writer() as db:
        db.execute(
            delete(models.Strategy)
            .where(models.Strategy.id == strategy_id)
            .where(models.Strategy.state == str(states.StrategyState.DELETING))
        )


# Steps, as the API shows them.


def step_counts(strategy_id: int) -> dict[str, int]:
    """How many steps of the strategy are in each state."""
    with session.reader() as db:
        rows = db.execute(
            select(Step.state, func.count())
            .where(Step.strategy_id == strategy_id)
            .group_by(Step.state)
        ).all()
    return {state: count for state, count in rows}


def steps_get(
    strategy_id: int,
    limit: int | None = None,
    marker: int | None = None,
    state: str | None = None,
) -> list[tuple[models.StrategyStep, str]]:
    """The strategy's steps with their subcloud's name, ordered by id.

    :param marker: only steps with an id greater than this.
    :param state: only steps in this state.
    """
    query = (
        select(Step, models.Subcloud.name)
        .join(models.Subcloud, models.Subcloud.id == Step.subcloud_id)
        .where(Step.strategy_id == strategy_id)
        .order_by(Step.id)
    )
    if marker is not None:
        query = query.where(Step.id > marker)
    if state is not None:
        query = query.where(Step.state == state)
    if limit is not None:
        query = query.limit(limit)
    with session.reader() as db:
        return [(step, name) for step, name in db.execute(query).all()]


def step_get_by_cloud(strategy_id: int, cloud_name: str) -> tuple[models.StrategyStep, str]:
    """:raises StepNotFound: the strategy has no step for that subcloud."""
    with session.reader() as db:
        row = db.execute(
            select(Step, models.Subcloud.name)
            .join(models.Subcloud, models.Subcloud.id == Step.subcloud_id)
            .where(Step.strategy_id == strategy_id)
            .where(models.Subcloud.name == cloud_name)
        ).first()
    if row is None:
        raise StepNotFound()
    return row[0], row[1]


# Steps, as the orchestrator moves them.


@oslo_db_api.retry_on_deadlock
def steps_dispatch(
    strategy_id: int, count: int, now: datetime.datetime, lease_until: datetime.datetime
) -> list[int]:
    """Start up to ``count`` initial steps, in id order: each moves to the first phase,
    unowned, with a lease a worker must claim it within. Returns their ids.

    The initial steps are locked as they are read, so two dispatchers never start the
    same step: the second waits, then finds the next initial ones.
    """
    first = str(states.PRESTAGE_PHASES[0])
    initial = str(states.StepState.INITIAL)
    with session.writer() as db:
        ids = db.scalars(
            select(Step.id)
            .where(Step.strategy_id == strategy_id)
            .where(Step.state == initial)
            .order_by(Step.id)
            .limit(count)
            .with_for_update()
        ).all()
        if not ids:
            return []
        result = db.execute(
            update(Step.__table__)
            .where(Step.id.in_(ids))
            .where(Step.state == initial)
            .values(
                state=first,
                owner=None,
                lease_expires_at=lease_until,
                started_at=now,
                updated_at=now,
            )
        )
        _check_rowcount(db, result.rowcount, len(ids), "steps_dispatch")
    return list(ids)


@oslo_db_api.retry_on_deadlock
def steps_finish_initial(strategy_id: int, state: str, details: str) -> int:
    """Move every initial step of the strategy to ``state`` (aborted) with ``details``."""
    now = models.utcnow()
    with session.writer() as db:
        result = db.execute(
            update(Step)
            .where(Step.strategy_id == strategy_id)
            .where(Step.state == str(states.StepState.INITIAL))
            .values(state=state, details=details, finished_at=now, updated_at=now)
        )
    return result.rowcount


@oslo_db_api.retry_on_deadlock
def steps_reclaim_expired(
    strategy_id: int | None,
    now: datetime.datetime,
    lease_until: datetime.datetime,
    max_attempts: int,
    exhausted_reason: str,
) -> tuple[list[int], list[int]]:
    """Take back running steps whose lease expired (their worker died or lost touch),
    in one transaction: a step that workers already took ``max_attempts`` times fails
    with ``exhausted_reason`` (and its subcloud says so); the others are released for a
    new worker (unowned, with a new lease to be claimed within).

    :param strategy_id: the strategy's steps, or None for standalone prestages.
    :returns: the ids released, and the ids failed.
    """
    scope = Step.strategy_id.is_(None) if strategy_id is None else Step.strategy_id == strategy_id
    expired = and_(scope, Step.state.in_(_ACTIVE), Step.lease_expires_at < now)
    released, failed = [], []
    with session.writer() as db:
        rows = db.execute(
            select(Step.id, Step.attempts, Step.state, Step.subcloud_id).where(expired)
        ).all()
        for step_id, attempts, state, subcloud_id in rows:
            exhausted = attempts >= max_attempts
            values = (
                {
                    "state": str(states.StepState.FAILED),
                    "details": f"{state}: {exhausted_reason}"[: states.MAX_DETAILS],
                    "owner": None,
                    "finished_at": now,
                }
                if exhausted
                else {"owner": None, "lease_expires_at": lease_until}
            )
            result = db.execute(
                update(Step.__table__)
                .where(Step.id == step_id)
                .where(expired)
                .values(updated_at=now, **values)
            )
            if result.rowcount != 1:
                continue  # renewed meanwhile: its worker is alive after all
            if exhausted:
                db.execute(
                    update(models.Subcloud.__table__)
                    .where(models.Subcloud.id == subcloud_id)
                    .values(
                        prestage_status=str(PrestageStatus.FAILED),
                        error_description=exhausted_reason,
                        updated_at=now,
                    )
                )
                failed.append(step_id)
            else:
                released.append(step_id)
    return released, failed


# Steps, as workers hold and move them.


@dataclasses.dataclass
class ClaimedStep:
    """A step a worker now holds, with what it needs to run it."""

    step: models.StrategyStep
    subcloud: models.Subcloud
    strategy: models.Strategy | None


@oslo_db_api.retry_on_deadlock
def steps_claim(
    step_ids: Collection[int],
    owner: str,
    now: datetime.datetime,
    lease_until: datetime.datetime,
) -> list[ClaimedStep]:
    """Hold the running steps among ``step_ids`` that nobody holds (or whose holder's
    lease expired) until ``lease_until``; a step taken from nobody or from another worker
    counts one more attempt. Returns the steps now held by ``owner``."""
    if not step_ids:
        return []
    with session.writer() as db:
        db.execute(
            update(Step.__table__)
            .where(Step.id.in_(list(step_ids)))
            .where(Step.state.in_(_ACTIVE))
            .where(or_(Step.owner.is_(None), Step.owner == owner, Step.lease_expires_at < now))
            # MySQL assigns left to right, each assignment seeing the ones before it:
            # the attempt is counted from the owner before this UPDATE replaces it.
            .ordered_values(
                (
                    Step.attempts,
                    case((Step.owner == owner, Step.attempts), else_=Step.attempts + 1),
                ),
                (Step.owner, owner),
                (Step.lease_expires_at, lease_until),
            )
        )
        rows = db.execute(
            select(Step, models.Subcloud, models.Strategy)
            .join(models.Subcloud, models.Subcloud.id == Step.subcloud_id)
            .outerjoin(models.Strategy, models.Strategy.id == Step.strategy_id)
            .where(Step.id.in_(list(step_ids)))
            .where(Step.owner == owner)
            .where(Step.state.in_(_ACTIVE))
            .order_by(Step.id)
        ).all()
    return [ClaimedStep(step, subcloud, strategy) for step, subcloud, strategy in rows]


@oslo_db_api.retry_on_deadlock
def steps_renew(owner: str, lease_until: datetime.datetime) -> set[int]:
    """Extend every lease ``owner`` holds, in one UPDATE; the ids it still holds."""
    with session.writer() as db:
        db.execute(
            update(Step)
            .where(Step.owner == owner)
            .where(Step.state.in_(_ACTIVE))
            .values(lease_expires_at=lease_until)
        )
        return set(
            db.scalars(
                select(Step.id).where(Step.owner == owner).where(Step.state.in_(_ACTIVE))
            ).all()
        )


@oslo_db_api.retry_on_deadlock
def steps_release(owner: str, step_ids: Collection[int], now: datetime.datetime) -> None:
    """Give up held steps (a worker stopping) so that another worker takes them soon."""
    if not step_ids:
        return
    with session.writer() as db:
        db.execute(
            update(Step)
            .where(Step.id.in_(list(step_ids)))
            .where(Step.owner == owner)
            .values(owner=None, lease_expires_at=now)
        )


@dataclasses.dataclass
class StepChange:
    """One held step's move, recorded only if it is still in ``expected_state``."""

    step_id: int
    expected_state: str
    values: dict[str, Any]
    """Step columns to set (state, operation, progress, details, finished_at...)."""
    subcloud_id: int | None = None
    subcloud_values: dict[str, Any] | None = None
    """Subcloud columns to set in the same transaction."""


@oslo_db_api.retry_on_deadlock
def steps_record(owner: str, changes: Sequence[StepChange]) -> list[bool]:
    """Record many steps' moves in one transaction, each a compare-and-swap on its state
    and owner. Returns, per change, whether it happened (False: the step is no longer
    ``owner``'s, or moved meanwhile; its subcloud is left alone).

    The steps are locked as they are read, so the changes that match are exactly those
    the UPDATEs then make (their row count is checked); changes that set the same
    columns run as one executemany.
    """
    if not changes:
        return []
    now = models.utcnow()
    steps, subclouds = Step.__table__, models.Subcloud.__table__
    with session.writer() as db:
        current = dict(
            db.execute(
                select(steps.c.id, steps.c.state)
                .where(steps.c.id.in_([change.step_id for change in changes]))
                .where(steps.c.owner == owner)
                .order_by(steps.c.id)
                .with_for_update()
            ).all()
        )
        matched = [
            change for change in changes if current.get(change.step_id) == change.expected_state
        ]
        for columns, group in _by_columns(matched, lambda change: change.values):
            result = db.execute(
                update(steps)
                .where(steps.c.id == bindparam("match_id"))
                .where(steps.c.state == bindparam("match_state"))
                .where(steps.c.owner == bindparam("match_owner"))
                .values(updated_at=now, **{column: bindparam(column) for column in columns}),
                [
                    {
                        "match_id": change.step_id,
                        "match_state": change.expected_state,
                        "match_owner": owner,
                        **change.values,
                    }
                    for change in group
                ],
            )
            _check_rowcount(db, result.rowcount, len(group), "steps_record", many=True)
        with_subcloud = [change for change in matched if change.subcloud_values]
        for columns, group in _by_columns(with_subcloud, lambda change: change.subcloud_values):
            db.execute(
                update(subclouds)
                .where(subclouds.c.id == bindparam("match_id"))
                .values(updated_at=now, **{column: bindparam(column) for column in columns}),
                [{"match_id": change.subcloud_id, **change.subcloud_values} for change in group],
            )
    happened = {change.step_id for change in matched}
    return [change.step_id in happened for change in changes]


def _by_columns(
    changes: Sequence[StepChange], values: Callable[[StepChange], dict[str, Any]]
) -> list[tuple[tuple[str, ...], list[StepChange]]]:
    """The changes grouped by the columns they set (one executemany per group)."""
    groups: dict[tuple[str, ...], list[StepChange]] = {}
    for change in changes:
        groups.setdefault(tuple(sorted(values(change))), []).append(change)
    return list(groups.items())


class LostUpdate(Exception):
    """An UPDATE of rows this transaction had locked did not change them all: the
    locking this module relies on does not hold (a bug, never a race)."""


def _check_rowcount(db, rowcount: int, expected: int, what: str, many: bool = False) -> None:
    """Check an UPDATE's row count against the rows it was to change, where the driver
    reports it (psycopg2 does not for an executemany)."""
    dialect = db.get_bind().dialect
    if many and not dialect.supports_sane_multi_rowcount:
        return
    if rowcount != expected:
        raise LostUpdate(f"{what}: {rowcount} rows changed, {expected} expected")


def active_steps_by_subcloud(subcloud_ids: Collection[int]) -> dict[int, set[int]]:
    """The running steps (of any strategy, or standalone) on each of these subclouds."""
    if not subcloud_ids:
        return {}
    with session.reader() as db:
        rows = db.execute(
            select(Step.subcloud_id, Step.id)
            .where(Step.subcloud_id.in_(list(subcloud_ids)))
            .where(Step.state.in_(_ACTIVE))
        ).all()
    found: dict[int, set[int]] = {}
    for subcloud_id, step_id in rows:
        found.setdefault(subcloud_id, set()).add(step_id)
    return found


def subclouds_get(subcloud_ids: Collection[int]) -> dict[int, models.Subcloud]:
    """The subclouds with these ids, by id (for a worker's batch)."""
    if not subcloud_ids:
        return {}
    with session.reader() as db:
        rows = db.scalars(
            select(models.Subcloud).where(models.Subcloud.id.in_(list(subcloud_ids)))
        ).all()
    return {subcloud.id: subcloud for subcloud in rows}


# Standalone prestage.


@oslo_db_api.retry_on_deadlock
def standalone_step_create(
    subcloud_id: int,
    extra_args: dict[str, Any],
    secret: bytes,
    now: datetime.datetime,
    lease_until: datetime.datetime,
) -> models.StrategyStep:
    """Start a standalone prestage of one subcloud, atomically refused while a strategy
    holds the subcloud or it is already prestaging.

    :raises SubcloudBusy: either of those.
    """
    held_by_strategy = (
        exists()
        .where(Step.subcloud_id == subcloud_id)
        .where(Step.state.in_(_UNFINISHED))
        .where(
            or_(
                Step.strategy_id.is_(None),
                Step.strategy_id.in_(
                    select(models.Strategy.id).where(models.Strategy.state.in_(_STRATEGY_LIVE))
                ),
            )
        )
    )
    with session.writer() as db:
        result = db.execute(
            update(models.Subcloud)
            .where(models.Subcloud.id == subcloud_id)
            .where(
                or_(
                    models.Subcloud.prestage_status.is_(None),
                    models.Subcloud.prestage_status != str(PrestageStatus.PRESTAGING),
                )
            )
            .where(~held_by_strategy)
            .values(
                prestage_status=str(PrestageStatus.PRESTAGING),
                error_description=None,
                updated_at=now,
            )
        )
        subcloud = db.get(models.Subcloud, subcloud_id)
        if result.rowcount != 1:
            if subcloud is None:
                raise exception.SubcloudNotFound()
            if subcloud.prestage_status == str(PrestageStatus.PRESTAGING):
                raise SubcloudBusy(name=subcloud.name, reason="is already prestaging")
            raise SubcloudBusy(name=subcloud.name, reason="is part of the current strategy")
        step = Step(
            strategy_id=None,
            subcloud_id=subcloud_id,
            stage=1,
            state=str(states.PRESTAGE_PHASES[0]),
            attempts=0,
            lease_expires_at=lease_until,
            started_at=now,
            extra_args=extra_args,
            secret=secret,
        )
        db.add(step)
    return step


@oslo_db_api.retry_on_deadlock
def standalone_steps_delete_finished(step_ids: Collection[int]) -> None:
    """Forget finished standalone prestages (their outcome is on the subcloud)."""
    if not step_ids:
        return
    with session.writer() as db:
        db.execute(
            delete(Step)
            .where(Step.id.in_(list(step_ids)))
            .where(Step.strategy_id.is_(None))
            .where(Step.state.not_in(_UNFINISHED))
        )


# Prestage preparation (once per strategy).


@oslo_db_api.retry_on_deadlock
def preparation_claim(
    strategy_id: int,
    release: str,
    owner: str,
    now: datetime.datetime,
    lease_until: datetime.datetime,
) -> tuple[models.PrestagePreparation, bool]:
    """Take the strategy's preparation if nobody has started it, or if its preparer's
    lease expired.

    :returns: the preparation row, and whether this call took it (then the caller
        prepares; otherwise it waits for the row's state to change).
    """
    running = str(states.PreparationState.RUNNING)
    try:
        with session.writer() as db:
            db.add(
                models.PrestagePreparation(
                    strategy_id=strategy_id,
                    release=release,
                    state=running,
                    owner=owner,
                    lease_expires_at=lease_until,
                )
            )
        taken = True
    except db_exc.DBDuplicateEntry:
        with session.writer() as db:
            result = db.execute(
                update(models.PrestagePreparation)
                .where(models.PrestagePreparation.strategy_id == strategy_id)
                .where(models.PrestagePreparation.state == running)
                .where(models.PrestagePreparation.lease_expires_at < now)
                .values(owner=owner, lease_expires_at=lease_until, updated_at=now)
            )
        taken = result.rowcount == 1
    return preparation_get(strategy_id), taken


def preparation_get(strategy_id: int) -> models.PrestagePreparation:
    with session.reader() as db:
        return db.scalars(
            select(models.PrestagePreparation).where(
                models.PrestagePreparation.strategy_id == strategy_id
            )
        ).one()


def preparations_get(strategy_ids: Collection[int]) -> dict[int, models.PrestagePreparation]:
    if not strategy_ids:
        return {}
    with session.reader() as db:
        rows = db.scalars(
            select(models.PrestagePreparation).where(
                models.PrestagePreparation.strategy_id.in_(list(strategy_ids))
            )
        ).all()
    return {row.strategy_id: row for row in rows}


@oslo_db_api.retry_on_deadlock
def preparation_finish(strategy_id: int, owner: str, state: str, details: str | None) -> bool:
    """Record the outcome of a preparation ``owner`` ran; False if it lost the row."""
    with session.writer() as db:
        result = db.execute(
            update(models.PrestagePreparation)
            .where(models.PrestagePreparation.strategy_id == strategy_id)
            .where(models.PrestagePreparation.owner == owner)
            .where(models.PrestagePreparation.state == str(states.PreparationState.RUNNING))
            .values(state=state, details=details, updated_at=models.utcnow())
        )
    return result.rowcount == 1


@oslo_db_api.retry_on_deadlock
def preparations_renew(owner: str, lease_until: datetime.datetime) -> None:
    with session.writer() as db:
        db.execute(
            update(models.PrestagePreparation)
            .where(models.PrestagePreparation.owner == owner)
            .where(models.PrestagePreparation.state == str(states.PreparationState.RUNNING))
            .values(lease_expires_at=lease_until)
        )


def releases_in_use() -> set[str]:
    """The releases of the live strategy and of unfinished standalone prestages."""
    with session.reader() as db:
        strategies = db.scalars(
            select(models.Strategy.extra_args).where(models.Strategy.state.in_(_STRATEGY_LIVE))
        ).all()
        standalone = db.scalars(
            select(Step.extra_args)
            .where(Step.strategy_id.is_(None))
            .where(Step.state.in_(_UNFINISHED))
        ).all()
    return {
        args["prestage-software-version"]
        for args in (*strategies, *standalone)
        if args and args.get("prestage-software-version")
    }
