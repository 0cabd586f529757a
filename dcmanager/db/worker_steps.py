"""Database API of the steps a worker holds: claimed with a lease, renewed in one UPDATE
per heartbeat, moved as compare-and-swaps on their state and owner, released.
"""

import dataclasses
import datetime
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
from typing import Any

from oslo_db import api as oslo_db_api
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.common import states
from dcmanager.db import orchestration
from dcmanager.db import session
from dcmanager.db import tallies
from dcmanager.db.sqlalchemy import models

Step = models.StrategyStep


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
            .where(Step.state.in_(orchestration.ACTIVE))
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
            .where(Step.state.in_(orchestration.ACTIVE))
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
            .where(Step.state.in_(orchestration.ACTIVE))
            .values(lease_expires_at=lease_until)
        )
        return set(
            db.scalars(
                select(Step.id)
                .where(Step.owner == owner)
                .where(Step.state.in_(orchestration.ACTIVE))
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
    app_records: Sequence[tuple[int, dict[str, Any] | None]] = ()
    """Changes to the site's application records in the same transaction: (record
    id, columns to set), or (record id, None) to delete the record."""
    moved_bytes: int = 0
    """The bytes of the transfer the move finishes (added to its strategy's tally)."""


@oslo_db_api.retry_on_deadlock
def steps_record(owner: str, changes: Sequence[StepChange]) -> list[bool]:
    """Record many steps' moves in one transaction, each a compare-and-swap on its state
    and owner. Returns, per change, whether it happened (False: the step is no longer
    ``owner``'s, or moved meanwhile; its subcloud is left alone).

    The steps are locked as they are read, so the changes that match are exactly those
    the UPDATEs then make (their row count is checked); changes that set the same
    columns run as one executemany. The strategies' tallies count the moves last.
    """
    if not changes:
        return []
    if len({change.step_id for change in changes}) != len(changes):
        # A step's second change could not match, but would be counted.
        raise ValueError("steps_record: a step may move once per call")
    now = models.utcnow()
    steps, subclouds = Step.__table__, models.Subcloud.__table__
    with session.writer() as db:
        current = _lock_held(db, owner, [change.step_id for change in changes])
        matched = [
            change
            for change in changes
            if current.get(change.step_id, (None,))[0] == change.expected_state
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
            session.check_rowcount(db, result.rowcount, len(group), "steps_record", many=True)
        with_subcloud = [change for change in matched if change.subcloud_values]
        for columns, group in _by_columns(with_subcloud, lambda change: change.subcloud_values):
            db.execute(
                update(subclouds)
                .where(subclouds.c.id == bindparam("match_id"))
                .values(updated_at=now, **{column: bindparam(column) for column in columns}),
                [{"match_id": change.subcloud_id, **change.subcloud_values} for change in group],
            )
        _record_apps(db, [record for change in matched for record in change.app_records], now)
        _tally(db, matched, {step_id: strategy for step_id, (_, strategy) in current.items()})
    happened = {change.step_id for change in matched}
    return [change.step_id in happened for change in changes]


def _lock_held(db, owner: str, step_ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """Lock the steps ``owner`` holds among these (in id order): each one's state and
    strategy."""
    steps = Step.__table__
    rows = db.execute(
        select(steps.c.id, steps.c.state, steps.c.strategy_id)
        .where(steps.c.id.in_(step_ids))
        .where(steps.c.owner == owner)
        .order_by(steps.c.id)
        .with_for_update()
    )
    return {step_id: (state, strategy_id) for step_id, state, strategy_id in rows}


def _tally(db, matched: Sequence[StepChange], strategies: dict[int, int | None]) -> None:
    """Count the recorded moves in their strategies' tallies."""
    moves, moved_bytes = tallies.Moves(), tallies.Moves()
    for change in matched:
        strategy_id, new = strategies[change.step_id], change.values.get("state")
        if strategy_id is None or new is None or new == change.expected_state:
            continue
        tallies.moved(moves, strategy_id, change.expected_state, new)
        moved_bytes[strategy_id, new] += change.moved_bytes
    tallies.record(db, moves, moved_bytes)


def _record_apps(db, records: list[tuple[int, dict[str, Any] | None]], now) -> None:
    """Delete, then update the records (no outcome both deletes and updates one);
    the updates that set the same columns as one executemany."""
    apps = models.SubcloudApp.__table__
    deleted = [record_id for record_id, values in records if values is None]
    if deleted:
        db.execute(delete(apps).where(apps.c.id.in_(deleted)))
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for record_id, values in records:
        if values is not None:
            groups.setdefault(tuple(sorted(values)), []).append({"match_id": record_id, **values})
    for columns, params in groups.items():
        db.execute(
            update(apps)
            .where(apps.c.id == bindparam("match_id"))
            .values(updated_at=now, **{column: bindparam(column) for column in columns}),
            params,
        )


def _by_columns(
    changes: Sequence[StepChange], values: Callable[[StepChange], dict[str, Any]]
) -> list[tuple[tuple[str, ...], list[StepChange]]]:
    """The changes grouped by the columns they set (one executemany per group)."""
    groups: dict[tuple[str, ...], list[StepChange]] = {}
    for change in changes:
        groups.setdefault(tuple(sorted(values(change))), []).append(change)
    return list(groups.items())


def active_steps_by_subcloud(subcloud_ids: Collection[int]) -> dict[int, set[int]]:
    """The running prestage steps (of any strategy, or standalone) on each of these
    subclouds (an application operation does not keep a prestage off its site)."""
    if not subcloud_ids:
        return {}
    with session.reader() as db:
        rows = db.execute(
            select(Step.subcloud_id, Step.id)
            .where(Step.subcloud_id.in_(list(subcloud_ids)))
            .where(Step.state.in_(orchestration.PRESTAGING))
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


def strategies_aborting(strategy_ids: Collection[int]) -> set[int]:
    """Those of these strategies an operator aborted (for a worker's batch: their
    running steps stop)."""
    if not strategy_ids:
        return set()
    aborting = (str(states.StrategyState.ABORT_REQUESTED), str(states.StrategyState.ABORTING))
    with session.reader() as db:
        return set(
            db.scalars(
                select(models.Strategy.id)
                .where(models.Strategy.id.in_(list(strategy_ids)))
                .where(models.Strategy.state.in_(aborting))
            )
        )
