"""The strategy's tallies (:mod:`dcmanager.db.tallies`) for the tests: checked after every
test that used a database, and counted again by a test that wrote step rows itself."""

from sqlalchemy import delete
from sqlalchemy import select

from dcmanager.db import orchestration
from dcmanager.db import session
from dcmanager.db import tallies
from dcmanager.db.sqlalchemy import models

Tally = models.StrategyTally


def recount() -> None:
    """Count the strategy's steps into its tallies again: a test that writes step rows
    itself (as no code of the project does) calls this after."""
    strategy = orchestration.strategy_find()
    counted = orchestration.step_counts(strategy.id) if strategy else {}
    with session.writer() as db:
        db.execute(delete(Tally))
        moves = tallies.Moves({(strategy.id, state): n for state, n in counted.items()})
        tallies.record(db, moves)


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
