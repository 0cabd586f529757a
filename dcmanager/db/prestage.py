"""Database API of prestage outside the strategy rows: standalone prestages (a step of
no strategy) and the preparation of a release's packages, once per strategy.
"""

import datetime
from collections.abc import Collection
from typing import Any

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.subcloud_states import PrestageStatus
from dcmanager.db import api as db_api
from dcmanager.db import orchestration
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

Step = models.StrategyStep


class SubcloudBusy(exception.Conflict):
    msg_fmt = "Subcloud %(name)s %(reason)s"


# Standalone prestage.


def held_by_strategy(subcloud_id: int, standalone: bool = True):
    """Whether an unfinished step of a live strategy (or, with ``standalone``, a
    standalone prestage) holds the subcloud, as an EXISTS clause."""
    return (
        exists()
        .where(Step.subcloud_id == subcloud_id)
        .where(Step.state.in_(orchestration.UNFINISHED))
        .where(
            or_(
                and_(
                    Step.strategy_id.is_(None),
                    Step.state.in_(orchestration.PRESTAGING if standalone else []),
                ),
                Step.strategy_id.in_(
                    select(models.Strategy.id).where(
                        models.Strategy.state.in_(orchestration.LIVE_STRATEGY)
                    )
                ),
            )
        )
    )


@oslo_db_api.retry_on_deadlock
def standalone_step_create(
    subcloud_id: int,
    extra_args: dict[str, Any],
    secret: bytes,
    now: datetime.datetime,
    lease_until: datetime.datetime,
) -> models.StrategyStep:
    """Start a standalone prestage of one subcloud, refused while a strategy holds the
    subcloud or it is already prestaging.

    The subcloud's row is locked first, as a strategy's creation locks the rows of the
    subclouds it takes: of the two, the second sees what the first committed (its
    checks are statements after the lock, which read what is committed then).

    :raises SubcloudBusy: either of those.
    """
    with session.writer() as db:
        subcloud = db_api.lock_subcloud(db, subcloud_id)
        if subcloud.prestage_status == str(PrestageStatus.PRESTAGING):
            raise SubcloudBusy(name=subcloud.name, reason="is already prestaging")
        if db.scalar(select(held_by_strategy(subcloud_id))):
            raise SubcloudBusy(name=subcloud.name, reason="is part of the current strategy")
        db.execute(
            update(models.Subcloud)
            .where(models.Subcloud.id == subcloud_id)
            .values(
                prestage_status=str(PrestageStatus.PRESTAGING),
                prestage_software_version=extra_args.get("prestage-software-version"),
                error_description=None,
                updated_at=now,
            )
        )
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
            .where(Step.state.not_in(orchestration.UNFINISHED))
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
            select(models.Strategy.extra_args).where(
                models.Strategy.state.in_(orchestration.LIVE_STRATEGY)
            )
        ).all()
        standalone = db.scalars(
            select(Step.extra_args)
            .where(Step.strategy_id.is_(None))
            .where(Step.state.in_(orchestration.UNFINISHED))
        ).all()
    return {
        args["prestage-software-version"]
        for args in (*strategies, *standalone)
        if args and args.get("prestage-software-version")
    }
