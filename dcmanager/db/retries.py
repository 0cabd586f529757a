"""Database API of retry-failed: a failed strategy runs its failed steps again."""

import datetime

from oslo_db import api as oslo_db_api
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.common import attempt_history
from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.db import session
from dcmanager.db import tallies
from dcmanager.db.orchestration import StrategyNotFound
from dcmanager.db.orchestration import StrategyStateConflict
from dcmanager.db.sqlalchemy import models

Step = models.StrategyStep


class NothingToRetry(exception.Conflict):
    msg_fmt = "%(reason)s"


@oslo_db_api.retry_on_deadlock
def strategy_retry_failed(strategy_id: int, now: datetime.datetime) -> models.Strategy:
    """retry-failed: a failed strategy applies again, its failed steps back in initial
    for one more attempt each (the attempt that failed kept in their history), with the
    steps their failures kept from starting (stop-on-failure, the failure budget); a
    failed preparation of the release is forgotten, to be made again. One transaction,
    under the lock of the strategy's row.

    :raises StrategyStateConflict: the strategy is not failed.
    :raises NothingToRetry: it cannot run again (its password is gone, or its
        maintenance window has closed).
    """
    with session.writer() as db:
        strategy = db.scalar(
            select(models.Strategy).where(models.Strategy.id == strategy_id).with_for_update()
        )
        if strategy is None:
            raise StrategyNotFound()
        if strategy.state != states.StrategyState.FAILED:
            raise StrategyStateConflict(state=strategy.state, action="retried")
        if strategy.type == states.StrategyType.PRESTAGE and strategy.secret is None:
            raise NothingToRetry(
                reason="The strategy's sysadmin password is no longer kept (it ended before "
                "retry-failed existed): create a new strategy"
            )
        if states.window_closed(strategy.extra_args, now):
            raise NothingToRetry(
                reason="The strategy's maintenance window closed at "
                f"{strategy.extra_args['no-new-steps-after']}: create a new strategy"
            )
        moves = tallies.Moves()
        _retry_failed_steps(db, strategy_id, now, moves)
        _unstop_steps(db, strategy, moves)
        db.execute(
            delete(models.PrestagePreparation)
            .where(models.PrestagePreparation.strategy_id == strategy_id)
            .where(models.PrestagePreparation.state == str(states.PreparationState.FAILED))
        )
        strategy.state = str(states.StrategyState.APPLYING)
        strategy.finished_at = None
        strategy.updated_at = now
        db.flush()
        tallies.record(db, moves)
    return strategy


def _unstop_steps(db, strategy: models.Strategy, moves: tallies.Moves) -> None:
    """The steps that never started because of the failures (stop-on-failure, the
    failure budget) back in initial: they run too."""
    budget = states.failure_budget(strategy.stop_on_failure, strategy.extra_args)
    stopped = [states.NOT_STARTED_STOPPED]
    if budget is not None:
        stopped.append(states.NOT_STARTED_BUDGET.format(budget))
    result = db.execute(
        update(Step)
        .where(Step.strategy_id == strategy.id)
        .where(Step.state == str(states.StepState.ABORTED))
        .where(Step.details.in_(stopped))
        .values(state=str(states.StepState.INITIAL), details=None, finished_at=None)
    )
    tallies.moved(
        moves, strategy.id, states.StepState.ABORTED, states.StepState.INITIAL, result.rowcount
    )


def _retry_failed_steps(db, strategy_id: int, now: datetime.datetime, moves: tallies.Moves) -> None:
    """The strategy's failed steps back in initial, one attempt further."""
    failed = db.execute(
        select(Step.id, Step.attempt, Step.history, Step.details, Step.finished_at)
        .where(Step.strategy_id == strategy_id)
        .where(Step.state == str(states.StepState.FAILED))
    ).all()
    if not failed:
        return
    tallies.moved(
        moves, strategy_id, states.StepState.FAILED, states.StepState.INITIAL, len(failed)
    )
    steps = Step.__table__
    db.execute(
        update(steps)
        .where(steps.c.id == bindparam("match_id"))
        .values(
            state=str(states.StepState.INITIAL),
            attempt=bindparam("attempt"),
            history=bindparam("history"),
            details=None,
            owner=None,
            lease_expires_at=None,
            operation=None,
            progress=None,
            progress_at=None,
            finished_at=None,
            retry_at=None,
            attempts=0,
            # An app-update's step begins the update at its site again.
            extra_args=None,
            updated_at=now,
        ),
        [
            {
                "match_id": step_id,
                "attempt": attempt + 1,
                "history": attempt_history.with_attempt(
                    history, attempt_history.past_attempt(attempt, details, finished_at, None)
                ),
            }
            for step_id, attempt, history, details, finished_at in failed
        ],
    )
