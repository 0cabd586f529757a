"""Database API of orchestration: strategies, and their steps as the API shows them and
the orchestrator moves them (:mod:`dcmanager.db.worker_steps` has the moves of the
workers that hold steps, :mod:`dcmanager.db.prestage` standalone prestages and the
once-per-strategy preparation).

Every change of state is a compare-and-swap (``UPDATE ... WHERE state = :expected``,
and ``AND owner = :me`` for a held step) whose row count says whether it happened.
Times are passed in by the caller (naive UTC), so one clock decides every lease.
"""

import datetime
from collections.abc import Collection
from collections.abc import Sequence
from typing import Any

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.app_states import AppStatus
from dcmanager.common.subcloud_states import PrestageStatus
from dcmanager.db import apps as db_apps
from dcmanager.db import session
from dcmanager.db import tallies
from dcmanager.db.sqlalchemy import models

ACTIVE = [str(state) for state in states.STEP_ACTIVE]
"""The step states of a running step, as stored."""
PRESTAGING = [str(state) for state in states.PRESTAGE_PHASES]
APP_STATES = [str(state) for state in states.APP_PHASES]
# An application operation in these states has done nothing at the site yet.
PRECHECKING_APPS = [str(states.StepState.APP_PRECHECK), str(states.StepState.APP_UPDATE_PRECHECK)]
# What a site's application record becomes when its operation is lost: the site's
# state is unknown, so it must be applied (or removed) again.
_ABANDONED = {
    AppStatus.UPLOADING: AppStatus.UPLOAD_FAILED,
    AppStatus.APPLYING: AppStatus.APPLY_FAILED,
    AppStatus.UPDATING: AppStatus.APPLY_FAILED,
    AppStatus.RECOVERING: AppStatus.APPLY_FAILED,
    AppStatus.REMOVING: AppStatus.REMOVE_FAILED,
}
"""The step states of a running prestage step."""
UNFINISHED = ACTIVE + [str(states.StepState.INITIAL)]
LIVE_STRATEGY = [str(state) for state in states.STRATEGY_ACTIVE | {states.StrategyState.INITIAL}]
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


def _exhausted(db, state: str, subcloud_id: int, args, reason: str, now) -> None:
    """What a step failed for being lost too often leaves behind says why."""
    if state in PRECHECKING_APPS:
        _undo_app_operation(db, args or {}, now)
        return
    if state in APP_STATES:
        _abandon_app_operation(db, args or {}, reason, now)
        return
    db.execute(
        update(models.Subcloud.__table__)
        .where(models.Subcloud.id == subcloud_id)
        .values(
            prestage_status=str(PrestageStatus.FAILED), error_description=reason, updated_at=now
        )
    )


def _undo_app_operation(db, args: dict[str, Any], now) -> None:
    """An operation lost in its precheck did nothing at the site: the records it moved
    as it began go back (those still as it left them)."""
    apps = models.SubcloudApp.__table__
    for record_id, values in args.get("undo", []):
        busy = and_(apps.c.id == record_id, apps.c.status.in_([str(s) for s in _ABANDONED]))
        if values is None:
            db.execute(delete(apps).where(busy))
        else:
            db.execute(update(apps).where(busy).values(updated_at=now, **values))


def _abandon_app_operation(db, args: dict[str, Any], reason: str, now) -> None:
    """The records a lost application operation left busy, failed with ``reason`` (an
    update's target is undone: the site keeps one record of the application that is
    not inactive, the old version's, apply-failed)."""
    apps = models.SubcloudApp.__table__
    ids = [args.get("record")]
    if args.get("from"):
        ids = [args["from"]["id"]]
        record_id, values = args["target_undo"]
        busy = and_(
            apps.c.id == record_id,
            apps.c.status.in_([str(AppStatus.UPLOADING), str(AppStatus.APPLYING)]),
        )
        if values is None:
            db.execute(delete(apps).where(busy))
        else:
            db.execute(update(apps).where(busy).values(**values))
    # Lost during its cleanup: the new version is applied; what is left is not known.
    db.execute(
        update(apps)
        .where(apps.c.id == args.get("record"))
        .where(apps.c.status == str(AppStatus.APPLIED))
        .where(apps.c.progress.like("cleaning up %"))
        .values(progress=f"applied; the cleanup was lost: {reason}", updated_at=now)
    )
    for record_id in filter(None, ids):
        for busy, failed in _ABANDONED.items():
            db.execute(
                update(apps)
                .where(apps.c.id == record_id)
                .where(apps.c.status == str(busy))
                .values(
                    status=str(failed), progress=f"the operation was lost: {reason}", updated_at=now
                )
            )


# Strategies.


class SubcloudsBusy(exception.Conflict):
    msg_fmt = "Every subcloud the strategy would run on is prestaging on its own"


@oslo_db_api.retry_on_deadlock
def strategy_create(
    values: dict[str, Any], steps: Sequence[dict[str, Any]], busy_details: str | None
) -> models.Strategy:
    """Create the strategy and all its steps in one transaction.

    The subclouds of its initial steps are locked first (in id order), as a standalone
    operation locks its subcloud. With ``busy_details`` (a prestage), one whose
    standalone prestage started meanwhile gets a ``skipped`` step with those details
    instead, so a subcloud is never both in a strategy and prestaging on its own. An
    app-update strategy locks the catalog's version it updates to, as deleting it does.

    :param values: strategy columns (type, apply type, max parallel, ...).
    :param steps: per step ``subcloud_id``, ``state`` (initial or skipped), ``details``.
    :raises StrategyExists: a strategy (of any type) already exists.
    :raises SubcloudsBusy: every initial step's subcloud is prestaging on its own.
    :raises AppVersionGone: the version to update to was deleted meanwhile.
    """
    strategy = models.Strategy(slot=1, state=str(states.StrategyState.INITIAL), **values)
    initial = str(states.StepState.INITIAL)
    try:
        with session.writer() as db:
            busy = _prestaging_on_their_own(
                db, [step["subcloud_id"] for step in steps if step["state"] == initial]
            )
            if values["type"] == states.StrategyType.APP_UPDATE:
                args = values["extra_args"]
                db_apps.lock_version(db, args["app"], args["version"])
            if busy and busy_details is not None:
                steps = [
                    {**step, "state": str(states.StepState.SKIPPED), "details": busy_details}
                    if step["subcloud_id"] in busy and step["state"] == initial
                    else step
                    for step in steps
                ]
                if not any(step["state"] == initial for step in steps):
                    raise SubcloudsBusy()
            db.add(strategy)
            db.flush()
            now = models.utcnow()
            if steps:
                # The table's insert: the ORM's bulk insert costs twice as much.
                db.execute(
                    insert(Step.__table__),
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
            tallies.seed(db, strategy.id, [step["state"] for step in steps])
    except db_exc.DBDuplicateEntry as exc:
        existing = strategy_get()
        raise StrategyExists(type=existing.type) from exc
    return strategy


def _prestaging_on_their_own(db, subcloud_ids: list[int]) -> set[int]:
    """Lock these subclouds' rows; those prestaging (a standalone prestage)."""
    if not subcloud_ids:
        return set()
    rows = db.execute(
        select(models.Subcloud.id, models.Subcloud.prestage_status)
        .where(models.Subcloud.id.in_(subcloud_ids))
        .order_by(models.Subcloud.id)
        .with_for_update()
    ).all()
    return {row.id for row in rows if row.prestage_status == str(PrestageStatus.PRESTAGING)}


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
    """Delete a strategy in ``deleting`` with its steps, preparation, secret and
    tallies."""
    with session.writer() as db:
        result = db.execute(
            delete(models.Strategy)
            .where(models.Strategy.id == strategy_id)
            .where(models.Strategy.state == str(states.StrategyState.DELETING))
        )
        if result.rowcount:
            tallies.forget(db, strategy_id)


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


def transfers_in_flight(strategy_id: int) -> tuple[int, int]:
    """Bytes moved and bytes to move of the strategy's running transfers (the steps
    that reported progress in the phase they are in; at most a window's worth)."""
    with session.reader() as db:
        rows = db.scalars(
            select(Step.progress).where(
                Step.strategy_id == strategy_id,
                Step.progress.is_not(None),
                Step.state.in_([str(state) for state in states.STEP_ACTIVE]),
                # The progress a step moved on with is its last phase's.
                Step.progress_at > Step.phase_started_at,
            )
        ).all()
    done = sum((progress or {}).get("bytes_done") or 0 for progress in rows)
    total = sum((progress or {}).get("bytes_total") or 0 for progress in rows)
    return done, total


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
    strategy_id: int,
    owner: str,
    window: int,
    now: datetime.datetime,
    lease_until: datetime.datetime,
    first: states.StepState,
) -> list[int]:
    """Start initial steps in id order (those waiting to be retried once their time
    came) until ``window`` steps of the strategy are active:
    each moves to ``first`` (the first phase of the strategy's type), unowned, with a
    lease a worker must claim it within. Returns their ids.

    Fenced in the same transaction: nothing starts unless the strategy is applying and
    ``owner`` holds its lease at ``now``. The strategy's row is locked first, so an
    abort (which moves the strategy out of applying) and a dispatch take turns, and an
    orchestrator whose lease lapsed and was taken over starts nothing. The active steps
    are counted under that lock: two dispatches never overfill the window.
    """
    states.check_step_transition(states.StepState.INITIAL, first)
    initial = str(states.StepState.INITIAL)
    with session.writer() as db:
        if not _hold_applying(db, strategy_id, owner, now):
            return []
        active = db.scalar(
            select(func.count())
            .select_from(Step)
            .where(Step.strategy_id == strategy_id)
            .where(Step.state.in_([str(state) for state in states.STEP_ACTIVE]))
        )
        if window - active <= 0:
            return []
        ids = db.scalars(
            select(Step.id)
            .where(Step.strategy_id == strategy_id)
            .where(Step.state == initial)
            .where(or_(Step.retry_at.is_(None), Step.retry_at <= now))
            .order_by(Step.id)
            .limit(window - active)
            .with_for_update()
        ).all()
        if not ids:
            return []
        result = db.execute(
            update(Step.__table__)
            .where(Step.id.in_(ids))
            .where(Step.state == initial)
            .values(
                state=str(first),
                owner=None,
                lease_expires_at=lease_until,
                started_at=now,
                phase_started_at=now,
                retry_at=None,
                updated_at=now,
            )
        )
        session.check_rowcount(db, result.rowcount, len(ids), "steps_dispatch")
        tallies.record_move(db, strategy_id, initial, first, len(ids))
    return list(ids)


def _hold_applying(db, strategy_id: int, owner: str, now: datetime.datetime) -> bool:
    """Lock the strategy's row if it is applying under ``owner``'s live lease."""
    strategy = models.Strategy
    return (
        db.scalar(
            select(strategy.id)
            .where(strategy.id == strategy_id)
            .where(strategy.state == str(states.StrategyState.APPLYING))
            .where(strategy.owner == owner)
            .where(strategy.lease_expires_at > now)
            # PostgreSQL: FOR NO KEY UPDATE, which does not block the rows that refer to
            # the strategy (a preparation being claimed) while the dispatch runs.
            .with_for_update(key_share=True)
        )
        is not None
    )


@oslo_db_api.retry_on_deadlock
def steps_finish_initial(strategy_id: int, state: str, details: str) -> int:
    """Move every initial step of the strategy to ``state`` (aborted) with ``details``;
    one waiting to be retried ran and failed, and ends failed as its last attempt did
    (that attempt back from its history)."""
    now = models.utcnow()
    with session.writer() as db:
        waiting = db.execute(
            select(Step.id, Step.attempt, Step.history)
            .where(Step.strategy_id == strategy_id)
            .where(Step.state == str(states.StepState.INITIAL))
            .where(Step.retry_at.is_not(None))
            .with_for_update()
        ).all()
        if waiting:
            steps = Step.__table__
            db.execute(
                update(steps)
                .where(steps.c.id == bindparam("match_id"))
                .values(
                    state=str(states.StepState.FAILED),
                    details=bindparam("details"),
                    attempt=bindparam("attempt"),
                    history=bindparam("history"),
                    finished_at=now,
                    retry_at=None,
                    updated_at=now,
                ),
                [
                    {
                        "match_id": step_id,
                        "details": (history or [{}])[-1].get("details"),
                        "attempt": max(1, attempt - 1),
                        "history": (history or [])[:-1] or None,
                    }
                    for step_id, attempt, history in waiting
                ],
            )
        result = db.execute(
            update(Step)
            .where(Step.strategy_id == strategy_id)
            .where(Step.state == str(states.StepState.INITIAL))
            .values(state=state, details=details, finished_at=now, updated_at=now)
        )
        moves = tallies.Moves()
        initial = str(states.StepState.INITIAL)
        tallies.moved(moves, strategy_id, initial, str(states.StepState.FAILED), len(waiting))
        tallies.moved(moves, strategy_id, initial, state, result.rowcount)
        tallies.record(db, moves)
    return result.rowcount + len(waiting)


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
    expired = and_(scope, Step.state.in_(ACTIVE), Step.lease_expires_at < now)
    released, failed = [], []
    moves = tallies.Moves()
    with session.writer() as db:
        # Locked as they are read: a worker may still be storing a step's arguments (an
        # app-update's begin), which the failure of a step must see to undo.
        rows = db.execute(
            select(Step.id, Step.attempts, Step.state, Step.subcloud_id, Step.extra_args)
            .where(expired)
            .order_by(Step.id)
            .with_for_update()
        ).all()
        for step_id, attempts, state, subcloud_id, args in rows:
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
                _exhausted(db, state, subcloud_id, args, exhausted_reason, now)
                tallies.moved(moves, strategy_id, state, str(states.StepState.FAILED))
                failed.append(step_id)
            else:
                released.append(step_id)
        tallies.record(db, moves)
    return released, failed
