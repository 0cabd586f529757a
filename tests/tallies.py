"""The strategy's tallies (:mod:`dcmanager.db.tallies`) for the tests: checked after every
test that used a database, and counted again by a test that wrote step rows itself."""

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from dcmanager.db import orchestration
from dcmanager.db import session
from dcmanager.db import tallies
from dcmanager.db.sqlalchemy import models

Step, Tally = models.StrategyStep, models.StrategyTally


def recount() -> None:
    """Count the steps into their strategies' tallies again: a test that writes step rows
    itself (as no code of the project does) calls this after."""
    with session.writer() as db:
        db.execute(delete(Tally))
        counted = db.execute(
            select(Step.strategy_id, Step.state, func.count())
            .where(Step.strategy_id.is_not(None))
            .group_by(Step.strategy_id, Step.state)
        ).all()
        if counted:
            db.execute(
                insert(Tally),
                [
                    {"strategy_id": strategy_id, "shard": 0, "state": state, "steps": count}
                    for strategy_id, state, count in counted
                ],
            )


def check() -> None:
    """The strategy's tallies count its steps as they are (so every way a test moved
    them is checked), and no deleted strategy left any behind."""
    strategy = orchestration.strategy_find()
    with session.reader() as db:
        kept = set(db.scalars(select(Tally.strategy_id).distinct()))
    assert kept <= ({strategy.id} if strategy else set()), f"tallies of strategies {kept}"
    if strategy is not None:
        counted, steps = tallies.counts(strategy.id)[0], orchestration.step_counts(strategy.id)
        assert counted == steps, f"the strategy's tallies say {counted}, its steps {steps}"
