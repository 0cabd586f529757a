"""The compare-and-swap functions of the orchestration DB API, on every backend, with two
actors interleaved inside their transactions (:mod:`tests.interleave`): whatever the
order, exactly one wins each step and nothing is lost."""

import datetime

import pytest
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from dcmanager.common import states
from dcmanager.db import api as db_api
from dcmanager.db import orchestration as db
from dcmanager.db import prestage as db_prestage
from dcmanager.db import worker_steps
from dcmanager.db.sqlalchemy import models
from tests import tallies as test_tallies
from tests.interleave import interleave

Step = models.StrategyStep
NOW = datetime.datetime(2026, 12, 4, 12, 0, 0, 123456)
LATER = NOW + datetime.timedelta(seconds=30)
FIRST = states.first_phase(states.StrategyType.PRESTAGE)
PAST = NOW - datetime.timedelta(seconds=1)
PRECHECK, PREPARING = "prestage-precheck", "prestage-preparing-packages"
BUSY = "Subcloud is already prestaging."
STRATEGY_VALUES = {
    "type": "prestage",
    "subcloud_apply_type": "parallel",
    "max_parallel_subclouds": 2,
    "extra_args": {"prestage-software-version": "25.09"},
}


def _strategy(count: int) -> tuple[int, list[int]]:
    """A strategy over ``count`` new subclouds, its steps initial; its id and the step ids."""
    ids = [
        db_api.subcloud_create({"name": f"sc{i}", "endpoint": "simulated://x"}).id
        for i in range(count)
    ]
    strategy = db.strategy_create(
        {
            "type": "prestage",
            "subcloud_apply_type": "parallel",
            "max_parallel_subclouds": count,
            "extra_args": {"prestage-software-version": "25.09"},
        },
        [{"subcloud_id": sid, "state": "initial", "details": None} for sid in ids],
        BUSY,
    )
    return strategy.id, [step.id for step, _ in db.steps_get(strategy.id)]


def _set(engine, step_ids, **values) -> None:
    """Write step columns directly (counted again if a state is written, once the
    tallies were found right)."""
    test_tallies.check()
    with Session(engine) as session, session.begin():
        session.execute(update(Step).where(Step.id.in_(step_ids)).values(**values))
    if "state" in values:
        test_tallies.recount()


def _row(engine, step_id: int) -> Step:
    with Session(engine) as session:
        return session.scalars(select(Step).where(Step.id == step_id)).one()


# steps_claim against steps_reclaim_expired.


def _claim_and_reclaim(engine, order: str, max_attempts: int):
    strategy_id, (step_id,) = _strategy(1)
    _set(engine, [step_id], state=PRECHECK, owner="w1", lease_expires_at=PAST, attempts=1)

    def claim():
        return worker_steps.steps_claim([step_id], "w2", NOW, LATER)

    def reclaim():
        return db.steps_reclaim_expired(strategy_id, NOW, LATER, max_attempts, "lost")

    actors = (reclaim, claim) if order == "reclaim first" else (claim, reclaim)
    run = interleave(engine, *actors, before="UPDATE")
    results = {"reclaim first": (run.first, run.second), "claim first": (run.second, run.first)}
    reclaimed, claimed = results[order]
    return step_id, reclaimed, claimed


@pytest.mark.parametrize("order", ["reclaim first", "claim first"])
def test_a_claim_and_a_reclaim_of_an_expired_step_count_one_attempt(any_db, order):
    step_id, (released, failed), claimed = _claim_and_reclaim(any_db, order, max_attempts=3)

    row = _row(any_db, step_id)
    assert [c.step.id for c in claimed] == [step_id]
    assert (row.owner, row.lease_expires_at, row.state, row.attempts) == ("w2", LATER, PRECHECK, 2)
    assert failed == []
    # The reclaim released it only if it came first: it never takes it from the claimant.
    if released:
        assert released == [step_id]


@pytest.mark.parametrize("order", ["reclaim first", "claim first"])
def test_a_step_out_of_attempts_is_either_failed_or_claimed_never_both(any_db, order):
    step_id, (released, failed), claimed = _claim_and_reclaim(any_db, order, max_attempts=1)

    row = _row(any_db, step_id)
    assert released == []
    if failed:
        assert (failed, claimed, row.state, row.owner) == ([step_id], [], "failed", None)
    else:
        assert [c.step.id for c in claimed] == [step_id]
        assert (row.state, row.owner, row.attempts) == (PRECHECK, "w2", 2)


def test_two_workers_claiming_one_step_one_holds_it(any_db):
    _, (step_id,) = _strategy(1)
    _set(any_db, [step_id], state=PRECHECK, owner=None, lease_expires_at=LATER, attempts=0)

    run = interleave(
        any_db,
        lambda: worker_steps.steps_claim([step_id], "w1", NOW, LATER),
        lambda: worker_steps.steps_claim([step_id], "w2", NOW, LATER),
        before="UPDATE",
    )

    holders = [name for name, got in (("w1", run.first), ("w2", run.second)) if got]
    row = _row(any_db, step_id)
    assert holders == [row.owner]
    assert row.attempts == 1


# steps_record against a reclaim and another worker's claim.


def _move(step_id: int, expected: str = PRECHECK) -> worker_steps.StepChange:
    return worker_steps.StepChange(
        step_id=step_id,
        expected_state=expected,
        values={"state": PREPARING, "operation": None},
        subcloud_id=None,
        subcloud_values=None,
    )


def _taken_over(strategy_id: int, step_id: int):
    def take() -> None:
        assert db.steps_reclaim_expired(strategy_id, NOW, LATER, 3, "lost") == ([step_id], [])
        assert [c.step.id for c in worker_steps.steps_claim([step_id], "w2", NOW, LATER)] == [
            step_id
        ]

    return take


@pytest.mark.parametrize("held_before", ["SELECT", "UPDATE"])
def test_a_record_after_the_lease_was_reclaimed_loses_and_changes_nothing(any_db, held_before):
    strategy_id, (step_id,) = _strategy(1)
    _set(any_db, [step_id], state=PRECHECK, owner="w1", lease_expires_at=PAST, attempts=1)
    subcloud_id = _row(any_db, step_id).subcloud_id
    change = _move(step_id)
    change.subcloud_id, change.subcloud_values = subcloud_id, {"prestage_status": "prestaging"}

    run = interleave(
        any_db,
        lambda: worker_steps.steps_record("w1", [change]),
        _taken_over(strategy_id, step_id),
        before=held_before,
    )

    row = _row(any_db, step_id)
    assert row.owner == "w2"
    if run.first == [True]:
        # The record came first (the takeover waited for it): its move stands, and the
        # new holder resumes from it.
        assert not run.second_ended_first
        assert row.state == PREPARING
        assert db_api.subcloud_get(subcloud_id).prestage_status == "prestaging"
    else:
        assert run.first == [False]
        assert row.state == PRECHECK
        assert db_api.subcloud_get(subcloud_id).prestage_status is None


def test_a_record_is_not_confused_by_a_move_stamped_the_same_microsecond(any_db, monkeypatch):
    strategy_id, (mine, lost) = _strategy(2)
    _set(any_db, [mine], state=PRECHECK, owner="w1", lease_expires_at=LATER, attempts=1)
    _set(any_db, [lost], state=PRECHECK, owner="w1", lease_expires_at=PAST, attempts=1)
    # The orchestrator takes ``lost`` back at the very instant w1 records both.
    assert db.steps_reclaim_expired(strategy_id, NOW, LATER, 3, "lost") == ([lost], [])
    monkeypatch.setattr(models, "utcnow", lambda: NOW)

    assert worker_steps.steps_record("w1", [_move(mine), _move(lost)]) == [True, False]
    assert (_row(any_db, mine).state, _row(any_db, lost).state) == (PREPARING, PRECHECK)


def test_a_record_of_a_step_that_moved_meanwhile_loses(any_db):
    _, (step_id,) = _strategy(1)
    _set(any_db, [step_id], state=PREPARING, owner="w1", lease_expires_at=LATER)

    assert worker_steps.steps_record("w1", [_move(step_id, expected=PRECHECK)]) == [False]
    assert _row(any_db, step_id).state == PREPARING


# steps_dispatch: fenced by the strategy's state and lease; the window never overfills.

ORCHESTRATOR, OTHER = "host:orchestrator:1:a", "host:orchestrator:2:b"


def _applying(strategy_id: int, owner: str = ORCHESTRATOR, until=LATER) -> None:
    """The strategy applied, its lease held by ``owner`` until ``until``."""
    db.strategy_transition(strategy_id, ["initial"], "applying", "applied")
    assert db.strategy_claim(strategy_id, owner, NOW, until)


def _dispatch(strategy_id: int, window: int, owner: str = ORCHESTRATOR, now=NOW) -> list[int]:
    return db.steps_dispatch(strategy_id, owner, window, now, LATER, FIRST)


def _active(engine, step_ids) -> list[int]:
    return [sid for sid in step_ids if _row(engine, sid).state == PRECHECK]


@pytest.mark.parametrize("same_instant", [False, True])
def test_two_dispatchers_never_start_one_step_twice_nor_overfill_the_window(any_db, same_instant):
    strategy_id, step_ids = _strategy(6)
    _applying(strategy_id)
    second_now = NOW if same_instant else NOW + datetime.timedelta(microseconds=1)

    run = interleave(
        any_db,
        lambda: _dispatch(strategy_id, 4),
        lambda: _dispatch(strategy_id, 4, now=second_now),
        before="UPDATE",
    )

    # The second waited for the first's locks, then counted the window full: no step
    # started twice, none started beyond the window, and every step that left
    # "initial" was handed to the one caller that started it.
    assert (run.first, run.second) == (step_ids[:4], [])
    assert not run.second_ended_first
    assert _active(any_db, step_ids) == step_ids[:4]
    assert {_row(any_db, sid).started_at for sid in step_ids[:4]} == {NOW}


def test_dispatch_starts_in_id_order_and_only_initial_steps(any_db):
    strategy_id, step_ids = _strategy(5)
    _applying(strategy_id)
    _set(any_db, step_ids[:1], state="aborted")

    assert _dispatch(strategy_id, 2) == step_ids[1:3]
    assert _dispatch(strategy_id, 2) == []  # the window is full
    _set(any_db, step_ids[1:3], state="complete")
    assert _dispatch(strategy_id, 9) == step_ids[3:]
    assert _dispatch(strategy_id, 9) == []
    row = _row(any_db, step_ids[3])
    assert (row.state, row.owner, row.lease_expires_at) == (PRECHECK, None, LATER)


@pytest.mark.parametrize(
    ("state", "owner", "until"),
    [
        ("initial", ORCHESTRATOR, LATER),
        ("abort requested", ORCHESTRATOR, LATER),
        ("applying", OTHER, LATER),
        ("applying", ORCHESTRATOR, NOW),
    ],
    ids=["not-applied", "aborting", "another-owner", "lease-lapsed"],
)
def test_dispatch_starts_nothing_unless_applying_under_a_live_lease(any_db, state, owner, until):
    strategy_id, step_ids = _strategy(3)
    with Session(any_db) as session, session.begin():
        session.execute(
            update(models.Strategy)
            .where(models.Strategy.id == strategy_id)
            .values(state=state, owner=owner, lease_expires_at=until)
        )

    assert _dispatch(strategy_id, 3) == []
    assert _active(any_db, step_ids) == []


def _abort(strategy_id: int) -> str:
    return db.strategy_transition(strategy_id, ["applying"], "abort requested", "aborted").state


@pytest.mark.parametrize("held_before", ["SELECT", "UPDATE"])
def test_an_abort_and_a_dispatch_take_turns(any_db, held_before):
    """The orchestrator read "applying" and dispatches while the abort lands: either
    the abort comes first and nothing starts, or it waits for the dispatch's lock on
    the strategy and the steps it started are active for the engine to stop."""
    strategy_id, step_ids = _strategy(3)
    _applying(strategy_id)

    run = interleave(
        any_db, lambda: _dispatch(strategy_id, 3), lambda: _abort(strategy_id), held_before
    )

    assert run.second == "abort requested"
    started = [] if run.second_ended_first else step_ids
    assert run.first == started
    assert _active(any_db, step_ids) == started


@pytest.mark.parametrize("held_before", ["SELECT", "UPDATE"])
def test_an_orchestrator_taken_over_never_overfills_the_window(any_db, held_before):
    """The first orchestrator's lease lapses while it dispatches and another takes the
    strategy over and dispatches too: the window's two places are filled once."""
    strategy_id, step_ids = _strategy(4)
    _applying(strategy_id)
    then = LATER + datetime.timedelta(microseconds=1)

    run = interleave(
        any_db,
        lambda: _dispatch(strategy_id, 2),
        lambda: db.strategy_claim(strategy_id, OTHER, then, then + datetime.timedelta(seconds=30)),
        held_before,
    )
    taken = db.steps_dispatch(strategy_id, OTHER, 2, then, then, FIRST)

    assert run.second is True
    if run.second_ended_first:
        assert (run.first, taken) == ([], step_ids[:2])
    else:
        assert (run.first, taken) == (step_ids[:2], [])
    assert _active(any_db, step_ids) == step_ids[:2]


# preparation_claim: the preparation of a strategy is taken once.


def test_a_preparation_claimed_twice_at_once_is_taken_once(any_db):
    strategy_id, _ = _strategy(1)

    run = interleave(
        any_db,
        lambda: db_prestage.preparation_claim(strategy_id, "25.09", "w1", NOW, LATER),
        lambda: db_prestage.preparation_claim(strategy_id, "25.09", "w2", NOW, LATER),
        before="INSERT",
    )

    (row1, taken1), (row2, taken2) = run.first, run.second
    assert [taken1, taken2].count(True) == 1
    winner = "w1" if taken1 else "w2"
    assert row1.owner == row2.owner == winner
    loser = "w2" if taken1 else "w1"
    assert db_prestage.preparation_finish(strategy_id, loser, "done", None) is False
    assert db_prestage.preparation_finish(strategy_id, winner, "done", None) is True


def test_an_expired_preparation_is_taken_over_by_one_worker(any_db):
    strategy_id, _ = _strategy(1)
    assert db_prestage.preparation_claim(strategy_id, "25.09", "w0", PAST, PAST)[1] is True

    run = interleave(
        any_db,
        lambda: db_prestage.preparation_claim(strategy_id, "25.09", "w1", NOW, LATER),
        lambda: db_prestage.preparation_claim(strategy_id, "25.09", "w2", NOW, LATER),
        before="UPDATE",
    )

    assert [run.first[1], run.second[1]].count(True) == 1
    owner = db_prestage.preparation_get(strategy_id).owner
    assert owner == ("w1" if run.first[1] else "w2")
    assert db_prestage.preparation_finish(strategy_id, "w0", "done", None) is False


# A strategy naming a subcloud against a standalone prestage of it: never both.


def _create_strategy(subcloud_ids: list[int]):
    steps = [{"subcloud_id": sid, "state": "initial", "details": None} for sid in subcloud_ids]
    try:
        return db.strategy_create(STRATEGY_VALUES, steps, BUSY)
    except db.SubcloudsBusy as exc:
        return exc


def _prestage_alone(subcloud_id: int):
    try:
        return db_prestage.standalone_step_create(subcloud_id, {}, b"s", NOW, LATER)
    except db_prestage.SubcloudBusy as exc:
        return exc


@pytest.mark.parametrize("first", ["strategy", "standalone"])
def test_a_strategy_and_a_standalone_prestage_of_one_subcloud_never_both_win(any_db, first):
    subcloud = db_api.subcloud_create({"name": "sc1", "endpoint": "simulated://x"}).id
    actors = {
        "strategy": (lambda: _create_strategy([subcloud]), "INSERT"),
        "standalone": (lambda: _prestage_alone(subcloud), "UPDATE"),
    }
    second = "standalone" if first == "strategy" else "strategy"

    run = interleave(any_db, actors[first][0], actors[second][0], before=actors[first][1])

    outcomes = {first: run.first, second: run.second}
    won = {name for name, outcome in outcomes.items() if not isinstance(outcome, Exception)}
    assert won == {first}
    if first == "strategy":
        assert str(outcomes["standalone"]) == "Subcloud sc1 is part of the current strategy"
        assert db_api.subcloud_get(subcloud).prestage_status is None
    else:
        assert isinstance(outcomes["strategy"], db.SubcloudsBusy)
        assert db.strategy_find() is None
        assert db_api.subcloud_get(subcloud).prestage_status == "prestaging"


def test_a_strategy_skips_a_subcloud_whose_standalone_prestage_started_after_planning(any_db):
    busy, free = (
        db_api.subcloud_create({"name": f"sc{i}", "endpoint": "simulated://x"}).id for i in (1, 2)
    )
    assert not isinstance(_prestage_alone(busy), Exception)

    strategy = _create_strategy([busy, free])

    steps = {step.subcloud_id: (step.state, step.details) for step, _ in db.steps_get(strategy.id)}
    assert steps == {busy: ("skipped", BUSY), free: ("initial", None)}
