"""Each strategy's steps counted by state as they move, and the bytes of the transfers
they finished: what a live view of a strategy polls, read from a few rows whatever the
number of steps (an update costs the moves, not the fleet).

Every transaction that moves a strategy's steps adds its moves here, in the same
transaction, so the counts are exact at every commit. A count is split over
:data:`SHARDS` rows per state: each transaction adds to one share picked at random, so
workers moving steps of the same strategy at once seldom wait for each other, and
adds last (after its own steps' rows), in (strategy, state) order, so two of them
never wait for each other in opposite orders. A share may go below zero (a step
counted into one share and out of another); only the sum means anything.

Rows are made on first use (an upsert), so a new step state needs no migration, and
deleted with their strategy.
"""

import collections
import random
from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

SHARDS = 8
Tally = models.StrategyTally

Moves = collections.Counter
"""Per (strategy id, state): how many steps came in (less those that went out), or
the bytes of the transfers that finished as steps came in."""


def moved(moves: Moves, strategy_id: int | None, old: str, new: str, count: int = 1) -> None:
    """Count ``count`` steps of the strategy that moved from ``old`` to ``new`` (a
    standalone operation's steps, with no strategy, are not counted)."""
    if strategy_id is None or old == new or not count:
        return
    moves[strategy_id, str(old)] -= count
    moves[strategy_id, str(new)] += count


def record(db, moves: Moves, moved_bytes: Moves | None = None) -> None:
    """Add the moves, and the bytes of the transfers that finished with them (per
    strategy and state entered), to the tallies in ``db``'s transaction: the last
    thing it writes."""
    moved_bytes = moved_bytes or Moves()
    keys = sorted(
        key for key in moves.keys() | moved_bytes.keys() if moves[key] or moved_bytes[key]
    )
    if not keys:
        return
    shard = random.randrange(SHARDS)
    db.execute(
        _add(db.get_bind().dialect.name),
        [
            {
                "strategy_id": strategy_id,
                "shard": shard,
                "state": state,
                "steps": moves[strategy_id, state],
                "bytes_moved": moved_bytes[strategy_id, state],
            }
            for strategy_id, state in keys
        ],
    )


def record_move(db, strategy_id: int, old: str, new: str, count: int) -> None:
    """Add ``count`` steps of the strategy that moved from ``old`` to ``new``."""
    moves = Moves()
    moved(moves, strategy_id, old, new, count)
    record(db, moves)


def seed(db, strategy_id: int, states: Iterable[str]) -> None:
    """Count a new strategy's steps, given their states."""
    moves = Moves()
    for state in states:
        moves[strategy_id, state] += 1
    record(db, moves)


def forget(db, strategy_id: int) -> None:
    """Delete the tallies of a strategy being deleted, in ``db``'s transaction."""
    db.execute(delete(Tally).where(Tally.strategy_id == strategy_id))


def _add(dialect: str):
    """An insert of tally rows that adds to the rows already there."""
    table = Tally.__table__
    if dialect == "mysql":
        statement = mysql.insert(table)
        return statement.on_duplicate_key_update(
            steps=table.c.steps + statement.inserted.steps,
            bytes_moved=table.c.bytes_moved + statement.inserted.bytes_moved,
        )
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.strategy_id, table.c.shard, table.c.state],
        set_={
            "steps": table.c.steps + statement.excluded.steps,
            "bytes_moved": table.c.bytes_moved + statement.excluded.bytes_moved,
        },
    )


def counts(strategy_id: int) -> tuple[dict[str, int], int]:
    """The strategy's steps in each state (the states that have any), and the bytes
    its steps' finished transfers moved."""
    with session.reader() as db:
        rows = db.execute(
            select(Tally.state, func.sum(Tally.steps), func.sum(Tally.bytes_moved))
            .where(Tally.strategy_id == strategy_id)
            .group_by(Tally.state)
        ).all()
    return (
        {state: int(steps) for state, steps, _ in rows if steps},
        sum(int(bytes_moved or 0) for _, _, bytes_moved in rows),
    )
