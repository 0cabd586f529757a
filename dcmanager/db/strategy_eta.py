"""Database API of a strategy's estimated end: what the estimate reads (the steps under
way, the recent steps' timings) and where it is kept."""

import datetime

from oslo_db import api as oslo_db_api
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.common import states
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

Step = models.StrategyStep
ACTIVE = [str(state) for state in states.STEP_ACTIVE]


def eta_inputs(strategy_id: int, sample: int) -> tuple[list[dict], list[tuple]]:
    """The timings of the ``sample`` steps that completed last, and each running step's
    state, phase start, progress, timings and when its progress was recorded."""
    with session.reader() as db:
        finished = db.scalars(
            select(Step.timings)
            .where(Step.strategy_id == strategy_id)
            .where(Step.state == str(states.StepState.COMPLETE))
            .where(Step.timings.is_not(None))
            .order_by(Step.finished_at.desc())
            .limit(sample)
        ).all()
        running = db.execute(
            select(Step.state, Step.phase_started_at, Step.progress, Step.timings, Step.progress_at)
            .where(Step.strategy_id == strategy_id)
            .where(Step.state.in_(ACTIVE))
        ).all()
    return list(finished), [tuple(row) for row in running]


@oslo_db_api.retry_on_deadlock
def strategy_set_eta(strategy_id: int, eta: datetime.datetime | None) -> None:
    """Keep the estimate on the strategy while it applies."""
    with session.writer() as db:
        db.execute(
            update(models.Strategy)
            .where(models.Strategy.id == strategy_id)
            .where(models.Strategy.state == str(states.StrategyState.APPLYING))
            .values(eta=eta)
        )
