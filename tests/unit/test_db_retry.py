"""retry-failed in the database: one transaction moves the strategy and its failed
steps, and two actors that race for it never both win."""

import datetime

import pytest
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from dcmanager.common import states
from dcmanager.db import api as db_api
from dcmanager.db import orchestration as db
from dcmanager.db import retries as db_retries
from dcmanager.db.sqlalchemy import models
from tests import tallies as test_tallies
from tests.interleave import interleave

NOW = datetime.datetime(2026, 12, 7, 12, 0, 0)
ENDED = NOW - datetime.timedelta(minutes=5)
FAILED_IN = "prestaging-packages: the transfer failed"


def _failed_strategy(engine, secret: bytes | None = b"sealed") -> int:
    """A failed prestage strategy: sc0 failed, sc1 complete."""
    ids = [
        db_api.subcloud_create({"name": f"sc{i}", "endpoint": "simulated://x"}).id for i in range(2)
    ]
    strategy = db.strategy_create(
        {
            "type": "prestage",
            "subcloud_apply_type": "parallel",
            "max_parallel_subclouds": 2,
            "secret": secret,
            "extra_args": {"prestage-software-version": "25.09"},
        },
        [{"subcloud_id": sid, "state": "initial", "details": None} for sid in ids],
        "busy",
    )
    steps = models.StrategyStep
    with Session(engine) as session, session.begin():
        session.execute(
            update(models.Strategy).where(models.Strategy.id == strategy.id).values(state="failed")
        )
        for subcloud_id, state, details in (
            (ids[0], "failed", FAILED_IN),
            (ids[1], "complete", None),
        ):
            session.execute(
                update(steps)
                .where(steps.subcloud_id == subcloud_id)
                .values(state=state, details=details, finished_at=ENDED)
            )
    test_tallies.recount()
    return strategy.id


def _steps(strategy_id: int) -> dict[str, object]:
    return {cloud: step for step, cloud in db.steps_get(strategy_id)}


def test_retry_failed_moves_the_failed_steps_only_and_keeps_their_attempt(any_db):
    strategy_id = _failed_strategy(any_db)

    strategy = db_retries.strategy_retry_failed(strategy_id, NOW)

    assert (strategy.state, strategy.finished_at) == ("applying", None)
    steps = _steps(strategy_id)
    failed, complete = steps["sc0"], steps["sc1"]
    assert (failed.state, failed.attempt, failed.details) == ("initial", 2, None)
    assert failed.history == [
        {"attempt": 1, "details": FAILED_IN, "ended-at": ENDED.isoformat(timespec="seconds")}
    ]
    assert (failed.finished_at, failed.retry_at, failed.owner) == (None, None, None)
    assert (complete.state, complete.attempt, complete.history) == ("complete", 1, None)


def test_a_prestage_without_its_password_cannot_be_retried(any_db):
    strategy_id = _failed_strategy(any_db, secret=None)

    with pytest.raises(db_retries.NothingToRetry):
        db_retries.strategy_retry_failed(strategy_id, NOW)

    assert db.strategy_get().state == "failed"
    assert _steps(strategy_id)["sc0"].state == "failed"


@pytest.mark.parametrize("held_before", ["SELECT", "UPDATE"])
def test_two_retries_of_one_failed_strategy_run_its_steps_once(any_db, held_before):
    strategy_id = _failed_strategy(any_db)

    def retry():
        try:
            return db_retries.strategy_retry_failed(strategy_id, NOW).state
        except db.StrategyStateConflict as exc:
            return exc.message

    run = interleave(any_db, retry, retry, held_before)

    outcomes = sorted([run.first, run.second])
    assert outcomes == ["Strategy in state applying cannot be retried", "applying"]
    step = _steps(strategy_id)["sc0"]
    assert (step.state, step.attempt, len(step.history)) == ("initial", 2, 1)


@pytest.mark.parametrize("held_before", ["SELECT", "UPDATE"])
def test_a_retry_and_a_delete_never_both_win(any_db, held_before):
    strategy_id = _failed_strategy(any_db)

    def retry():
        try:
            return db_retries.strategy_retry_failed(strategy_id, NOW).state
        except db.StrategyStateConflict:
            return "refused"

    def delete():
        try:
            return db.strategy_transition(
                strategy_id, states.STRATEGY_DELETABLE, "deleting", "deleted"
            ).state
        except db.StrategyStateConflict:
            return "refused"

    run = interleave(any_db, retry, delete, held_before)

    assert sorted([run.first, run.second]) in (["applying", "refused"], ["deleting", "refused"])
    step = _steps(strategy_id)["sc0"]
    if run.first == "applying":
        assert (db.strategy_get().state, step.state, step.attempt) == ("applying", "initial", 2)
    else:
        assert (db.strategy_get().state, step.state, step.attempt) == ("deleting", "failed", 1)


def test_a_failed_preparation_is_forgotten_to_be_made_again(any_db):
    strategy_id = _failed_strategy(any_db)
    with Session(any_db) as session, session.begin():
        session.add(
            models.PrestagePreparation(
                strategy_id=strategy_id, release="25.09", state="failed", details="no space"
            )
        )

    db_retries.strategy_retry_failed(strategy_id, NOW)

    with Session(any_db) as session:
        assert session.scalars(select(models.PrestagePreparation)).all() == []


def test_a_strategy_whose_window_closed_cannot_be_retried(any_db):
    strategy_id = _failed_strategy(any_db)
    closed = "2026-12-07T11:00:00+00:00"
    with Session(any_db) as session, session.begin():
        session.execute(
            update(models.Strategy).values(
                extra_args={"prestage-software-version": "25.09", "no-new-steps-after": closed}
            )
        )

    with pytest.raises(db_retries.NothingToRetry) as raised:
        db_retries.strategy_retry_failed(strategy_id, NOW)

    assert raised.value.message == (
        f"The strategy's maintenance window closed at {closed}: create a new strategy"
    )
    assert _steps(strategy_id)["sc0"].state == "failed"


def test_a_step_waiting_for_its_retry_ends_failed_when_no_more_steps_start(any_db):
    strategy_id = _failed_strategy(any_db)
    db_retries.strategy_retry_failed(strategy_id, NOW)
    # As the engine leaves a step whose second attempt failed and waits for a third.
    second = {"attempt": 2, "details": "prestage-precheck: offline", "ended-at": "x"}
    with Session(any_db) as session, session.begin():
        step = session.scalars(
            select(models.StrategyStep).where(models.StrategyStep.state == "initial")
        ).one()
        step.attempt, step.retry_at = 3, NOW
        step.history = [*step.history, second]

    assert db.steps_finish_initial(strategy_id, "aborted", states.NOT_STARTED_ABORTED) == 1

    step = _steps(strategy_id)["sc0"]
    assert (step.state, step.details, step.attempt) == ("failed", second["details"], 2)
    assert [entry["attempt"] for entry in step.history] == [1]
    assert step.retry_at is None
