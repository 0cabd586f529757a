"""Every operation a step starts at its site carries a key, the step's id and attempt: a
step replayed after a crash (its start sent, its outcome never recorded) finds its
operation started, and its next attempt starts a new one."""

import dataclasses
import types

from dcmanager.common.states import FailureKind
from dcmanager.common.states import StepState
from dcmanager.drivers import simulator
from dcmanager.drivers.base import OperationKind as Kind
from dcmanager.orchestrator import prestage
from tests import clock as test_clock
from tests.unit.test_prestage_abort import _context
from tests.unit.test_prestage_abort import _environment

ENDPOINT = "simulated://sc1?delay=10"


def test_a_replayed_start_finds_the_operation_and_a_new_attempt_starts_another(
    conf, tmp_path, monkeypatch
):
    monkeypatch.setenv(simulator.STATE_VARIABLE, str(tmp_path / "sites"))
    clock = test_clock.FakeClock()
    env = _environment(conf, clock)
    ctx = _context(ENDPOINT, StepState.PRESTAGING_PACKAGES)

    first = prestage.act(dataclasses.replace(ctx), env)
    clock.advance(4)
    # The first outcome was lost: the step runs its action again from what was recorded.
    replayed = prestage.act(dataclasses.replace(ctx), env)
    retried = prestage.act(dataclasses.replace(ctx, attempt=2), env)

    assert replayed.operation == first.operation
    assert replayed.progress["bytes_done"] == replayed.progress["bytes_total"] * 4 // 10
    # A first attempt's key is the step's and the kind's, as before attempts counted.
    assert first.operation["id"].startswith("packages:7:packages:")
    assert retried.operation["id"].startswith("packages:7:2:packages:")
    assert retried.progress["bytes_done"] == 0


def test_an_abort_without_a_recorded_handle_cancels_the_attempts_operation(
    conf, tmp_path, monkeypatch
):
    monkeypatch.setenv(simulator.STATE_VARIABLE, str(tmp_path / "sites"))
    clock = test_clock.FakeClock()
    env = _environment(conf, clock, prestage_status="prestaging")
    ctx = _context(ENDPOINT, StepState.PRESTAGING_IMAGES, attempt=3)
    prestage.act(dataclasses.replace(ctx), env)
    clock.advance(5)

    # The start's answer never came back: the abort cancels by the attempt's key.
    outcome = prestage.abort(ctx, env)

    assert outcome.state == StepState.ABORTED
    assert "1536.0 MiB of 3072.0 MiB transferred" in outcome.details


def test_a_kind_never_retried_stays_when_the_site_stops_answering(conf):
    """A recovery that fails because its site went offline is still a failed recovery:
    no retry policy may begin the update at that site again."""
    clock = test_clock.FakeClock()
    env = dataclasses.replace(
        _environment(conf, clock),
        subcloud=lambda ctx: types.SimpleNamespace(availability_status="offline"),
    )
    ctx = _context("simulated://sc1?offline=true", StepState.APP_RECOVERING)

    def failed(kind):
        return lambda reason, result: prestage.Outcome(state=StepState.FAILED, failure=kind)

    recovery = prestage.run_operation(
        ctx, env, Kind.APP_RECOVER, lambda op: None, None, failed(FailureKind.RECOVERY)
    )
    operation = prestage.run_operation(
        ctx, env, Kind.APP_RECOVER, lambda op: None, None, failed(FailureKind.OPERATION)
    )

    assert recovery.failure == FailureKind.RECOVERY
    assert operation.failure == FailureKind.UNREACHABLE
