"""A strategy's maintenance window: create checks it, and the orchestrator starts no step
before ``start-after`` and none after ``no-new-steps-after`` (those not started end
aborted, saying so). The orchestrator runs on a clock the test moves."""

import datetime

import pytest

from dcmanager.api.schemas import maintenance_window
from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.db import api as db_api
from dcmanager.db import orchestration as db_orchestration
from dcmanager.orchestrator import service
from tests.clock import EPOCH
from tests.clock import FakeClock

UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class _Workers:
    """Stands for the workers' RPC client: the orchestrator's decisions are under test
    here, not the messaging (tested with RabbitMQ elsewhere)."""

    def __init__(self) -> None:
        self.started: list[int] = []

    def run_steps(self, context, step_ids) -> None:
        self.started += step_ids

    def strategy_aborting(self, context, strategy_id) -> None:
        pass


def _at(seconds: float) -> str:
    """The ISO time ``seconds`` after the fake clock's epoch (UTC)."""
    return (EPOCH + datetime.timedelta(seconds=seconds)).replace(tzinfo=UTC).isoformat()


def _applying(window: dict[str, str], count: int = 3) -> int:
    ids = [
        db_api.subcloud_create({"name": f"sc{i}", "endpoint": "simulated://x"}).id
        for i in range(count)
    ]
    strategy = db_orchestration.strategy_create(
        {
            "type": "prestage",
            "subcloud_apply_type": "serial",
            "max_parallel_subclouds": 1,
            "extra_args": {"prestage-software-version": "25.09", **window},
        },
        [{"subcloud_id": sid, "state": "initial", "details": None} for sid in ids],
        "busy",
    )
    db_orchestration.strategy_transition(strategy.id, ["initial"], "applying", "applied")
    return strategy.id


def _orchestrator(conf, clock) -> tuple[service.Orchestrator, _Workers]:
    workers = _Workers()
    return service.Orchestrator(conf, "orchestrator-1", workers, clock), workers


def _states(strategy_id: int) -> list[tuple[str, str | None]]:
    return [(step.state, step.details) for step, _ in db_orchestration.steps_get(strategy_id)]


def test_no_step_starts_before_start_after(conf, db):
    strategy_id = _applying({"start-after": _at(100)})
    clock = FakeClock(start=99)
    orchestrator, workers = _orchestrator(conf, clock)

    orchestrator.tick()
    assert workers.started == []

    clock.advance(1)
    orchestrator.tick()
    assert len(workers.started) == 1
    assert [state for state, _ in _states(strategy_id)][:2] == ["prestage-precheck", "initial"]


def test_once_no_new_steps_after_passes_the_steps_not_started_end_aborted(conf, db):
    end = _at(50)
    strategy_id = _applying({"no-new-steps-after": end})
    clock = FakeClock(start=10)
    orchestrator, workers = _orchestrator(conf, clock)
    orchestrator.tick()
    assert len(workers.started) == 1

    clock.advance(40)
    orchestrator.tick()

    reason = states.NOT_STARTED_WINDOW.format(end)
    assert _states(strategy_id) == [
        ("prestage-precheck", None),
        ("aborted", reason),
        ("aborted", reason),
    ]
    # The running step goes on (handed out again: no worker took it); nothing else starts.
    assert len(set(workers.started)) == 1
    assert db_orchestration.strategy_get().state == "applying"


def test_a_window_is_stored_in_utc():
    body = {"start-after": "2026-12-24T23:00:00+01:00", "no-new-steps-after": "2026-12-25T04:00"}

    assert maintenance_window.validate(body, NOW) == {
        "start-after": "2026-12-24T22:00:00+00:00",
        "no-new-steps-after": "2026-12-25T04:00:00+00:00",
    }
    assert maintenance_window.validate({}, NOW) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"start-after": "tonight"},
            "Invalid start-after 'tonight': must be an ISO 8601 time (e.g. 2026-12-24T22:00:00Z)",
        ),
        (
            {"no-new-steps-after": 5},
            "Invalid no-new-steps-after '5': must be an ISO 8601 time (e.g. 2026-12-24T22:00:00Z)",
        ),
        (
            {"start-after": "2026-12-24T22:00:00Z", "no-new-steps-after": "2026-12-24T21:00:00Z"},
            "no-new-steps-after (2026-12-24T21:00:00+00:00) must be later than start-after "
            "(2026-12-24T22:00:00+00:00)",
        ),
        (
            {"no-new-steps-after": "2026-12-07T11:59:59Z"},
            "no-new-steps-after (2026-12-07T11:59:59+00:00) has passed already",
        ),
    ],
)
def test_a_bad_window_is_refused_saying_what_is_wrong(body, message):
    with pytest.raises(exception.Invalid) as raised:
        maintenance_window.validate(body, NOW)
    assert raised.value.message == message
