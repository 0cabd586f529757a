"""A strategy's tallies count its steps by state whichever way they move, on every
backend, with two workers recording moves of one strategy at once (:mod:`tests.interleave`);
and the migration that brought them in counts the steps of a strategy that existed."""

import datetime

import pytest
import sqlalchemy

from dcmanager.common import states
from dcmanager.db import orchestration as db
from dcmanager.db import retries as db_retries
from dcmanager.db import tallies
from dcmanager.db import worker_steps
from dcmanager.db.sqlalchemy import migration
from tests.interleave import interleave
from tests.unit import test_db_orchestration as orchestration_tests

NOW = orchestration_tests.NOW
LATER = orchestration_tests.LATER
PRECHECK, PREPARING, PACKAGES = (
    "prestage-precheck",
    "prestage-preparing-packages",
    "prestaging-packages",
)


def _counted(strategy_id: int) -> dict[str, int]:
    counts = tallies.counts(strategy_id)[0]
    assert counts == db.step_counts(strategy_id)
    return counts


def _dispatched(count: int, window: int) -> tuple[int, list[int]]:
    strategy_id, step_ids = orchestration_tests._strategy(count)
    orchestration_tests._applying(strategy_id)
    return strategy_id, orchestration_tests._dispatch(strategy_id, window)


def _held(step_ids: list[int], owner: str) -> None:
    assert len(worker_steps.steps_claim(step_ids, owner, NOW, LATER)) == len(step_ids)


def _move(step_id: int, old: str, new: str, moved_bytes: int = 0) -> worker_steps.StepChange:
    return worker_steps.StepChange(step_id, old, {"state": new}, moved_bytes=moved_bytes)


def test_every_way_steps_move_keeps_the_count(any_db):
    strategy_id, started = _dispatched(count=4, window=3)
    assert _counted(strategy_id) == {"initial": 1, PRECHECK: 3}
    _held(started, "w1")

    worker_steps.steps_record(
        "w1",
        [
            _move(started[0], PRECHECK, PREPARING),
            _move(started[1], PRECHECK, "failed"),
            # Not a move of state: nothing to count.
            worker_steps.StepChange(started[2], PRECHECK, {"details": "still checking"}),
        ],
    )
    # Expected in another state: not recorded, not counted.
    assert worker_steps.steps_record("w1", [_move(started[2], PREPARING, PACKAGES)]) == [False]
    assert _counted(strategy_id) == {"initial": 1, PRECHECK: 1, PREPARING: 1, "failed": 1}

    # The worker of the last one stopped and it was taken too often: it fails.
    orchestration_tests._set(any_db, [started[2]], lease_expires_at=NOW)
    released, failed = db.steps_reclaim_expired(strategy_id, LATER, LATER, 0, "lost")
    assert (released, failed) == ([], [started[2]])
    # Stopped on the failures: the step not started ends aborted.
    assert db.steps_finish_initial(strategy_id, "aborted", states.NOT_STARTED_STOPPED) == 1
    assert _counted(strategy_id) == {PREPARING: 1, "failed": 2, "aborted": 1}

    worker_steps.steps_record("w1", [_move(started[0], PREPARING, "complete")])
    db.strategy_transition(strategy_id, ["applying"], "failed", "failed", {"secret": b"kept"})
    # retry-failed: the failed steps, and the one their failures stopped, start again.
    db_retries.strategy_retry_failed(strategy_id, LATER)
    assert _counted(strategy_id) == {"complete": 1, "initial": 3}


def test_a_step_moves_once_per_record(db):
    strategy_id, started = _dispatched(count=1, window=1)
    _held(started, "w1")
    twice = [_move(started[0], PRECHECK, PREPARING), _move(started[0], PRECHECK, "failed")]

    with pytest.raises(ValueError, match="a step may move once per call"):
        worker_steps.steps_record("w1", twice)

    assert _counted(strategy_id) == {PRECHECK: 1}


def test_the_bytes_of_finished_transfers_add_up(any_db):
    strategy_id, started = _dispatched(count=2, window=2)
    _held(started, "w1")
    worker_steps.steps_record("w1", [_move(step_id, PRECHECK, PACKAGES) for step_id in started])

    worker_steps.steps_record(
        "w1",
        [
            _move(started[0], PACKAGES, "prestaging-images", moved_bytes=5),
            _move(started[1], PACKAGES, "prestaging-images", moved_bytes=7),
        ],
    )
    worker_steps.steps_record("w1", [_move(started[0], "prestaging-images", "complete", 2**40)])

    assert tallies.counts(strategy_id) == ({"prestaging-images": 1, "complete": 1}, 12 + 2**40)


@pytest.mark.parametrize("shards", ["the same share", "two shares"])
@pytest.mark.parametrize("held", ["INSERT", "COMMIT"])
def test_two_workers_recording_at_once_are_both_counted(any_db, monkeypatch, shards, held):
    strategy_id, started = _dispatched(count=4, window=4)
    _held(started[:2], "w1")
    _held(started[2:], "w2")
    picks = iter([0, 0] if shards == "the same share" else [1, 2])
    monkeypatch.setattr(tallies.random, "randrange", lambda _: next(picks))

    def first():
        return worker_steps.steps_record(
            "w1", [_move(started[0], PRECHECK, PREPARING), _move(started[1], PRECHECK, "failed")]
        )

    def second():
        return worker_steps.steps_record(
            "w2", [_move(started[2], PRECHECK, PREPARING), _move(started[3], PRECHECK, "complete")]
        )

    # The first held with its steps' rows locked, just before it adds to the tallies,
    # or once it added to them (new rows, not committed yet).
    run = interleave(any_db, first, second, before=held)

    assert (run.first, run.second) == ([True, True], [True, True])
    assert _counted(strategy_id) == {PREPARING: 2, "failed": 1, "complete": 1}


def test_the_migration_counts_the_steps_of_a_strategy_that_exists(empty_engine):
    migration.upgrade("0016", engine=empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO subclouds (id, name, region_name, endpoint, group_id, "
                "management_state, availability_status, deploy_status, created_at) VALUES "
                "(1, 'a', 'a', 'x', 1, 'managed', 'online', 'complete', :now),"
                "(2, 'b', 'b', 'x', 1, 'managed', 'online', 'complete', :now),"
                "(3, 'c', 'c', 'x', 1, 'managed', 'online', 'complete', :now)"
            ),
            {"now": datetime.datetime(2026, 12, 7)},
        )
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO strategies (id, slot, type, subcloud_apply_type, "
                "max_parallel_subclouds, stop_on_failure, state, created_at) VALUES "
                "(7, 1, 'prestage', 'parallel', 2, false, 'applying', :now)"
            ),
            {"now": datetime.datetime(2026, 12, 7)},
        )
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO strategy_steps (strategy_id, subcloud_id, stage, state, "
                "attempts, created_at) VALUES (7, 1, 1, 'complete', 0, :now), "
                "(7, 2, 1, 'complete', 0, :now), (NULL, 3, 1, 'prestage-precheck', 0, :now)"
            ),
            {"now": datetime.datetime(2026, 12, 7)},
        )

    migration.upgrade("head", engine=empty_engine)

    with empty_engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text("SELECT strategy_id, state, steps, bytes_moved FROM strategy_tallies")
        ).all()
    assert [tuple(row) for row in rows] == [(7, "complete", 2, 0)]
