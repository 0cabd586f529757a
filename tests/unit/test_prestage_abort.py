"""A prestage step of an aborted strategy stops where it is (the engine's choice of
``abort`` is proved end to end in tests/functional/test_strategy_run.py and, against a
real agent, tests/e2e/test_agents.py)."""

import types

import pytest

from dcmanager import drivers
from dcmanager.common.states import StepState
from dcmanager.drivers import base
from dcmanager.orchestrator import prestage
from tests import clock as test_clock


def _context(
    endpoint: str, state: StepState, operation=None, attempt: int = 1
) -> prestage.StepContext:
    return prestage.StepContext(
        step_id=7,
        strategy_id=1,
        subcloud_id=3,
        subcloud_name="sc1",
        endpoint=endpoint,
        state=state,
        operation=operation,
        request=base.PrestageRequest(release="25.09"),
        prestage_versions=None,
        attempt=attempt,
    )


def _environment(
    conf, clock, prestage_status: str | None = None, other_active: bool = False
) -> prestage.Environment:
    def unused(*args):
        raise AssertionError("an abort needs only the driver and the subcloud")

    return prestage.Environment(
        conf=conf,
        owner="w1",
        driver=lambda ctx: drivers.get_driver(ctx.subcloud_name, ctx.endpoint, clock),
        subcloud=lambda ctx: types.SimpleNamespace(prestage_status=prestage_status),
        other_active_step=lambda ctx: other_active,
        claim_preparation=unused,
        preparation_state=unused,
        start_preparation=unused,
        standalone_preparation=unused,
        app_images=unused,
        clock=clock.monotonic,
    )


def test_a_transfer_is_cancelled_and_the_step_says_how_much_moved(conf):
    clock = test_clock.FakeClock()
    endpoint = "simulated://sc1?delay=10"
    driver = drivers.get_driver("sc1", endpoint, clock)
    operation = driver.start(base.OperationKind.PACKAGES, base.PrestageRequest("25.09"), "7:p")
    clock.advance(2.5)

    outcome = prestage.abort(
        _context(endpoint, StepState.PRESTAGING_PACKAGES, operation.handle()),
        _environment(conf, clock),
    )

    assert outcome.state == StepState.ABORTED
    assert outcome.details == (
        "prestaging-packages: aborted (512.0 MiB of 2048.0 MiB transferred; "
        "the next prestage resumes from there)"
    )
    assert outcome.progress["bytes_done"] == 512 * 1024**2
    assert outcome.subcloud == {
        "prestage_status": "failed",
        "error_description": "Prestage aborted in prestaging-packages (512.0 MiB of "
        "2048.0 MiB transferred; the next prestage resumes from there).",
    }


def test_a_subcloud_that_does_not_answer_the_cancel_still_ends_aborted(conf):
    clock = test_clock.FakeClock()
    ctx = _context(
        "simulated://sc1?offline=true",
        StepState.PRESTAGING_IMAGES,
        {"kind": "images", "id": "images:7:i::0.0"},
    )

    outcome = prestage.abort(ctx, _environment(conf, clock))

    assert outcome.state == StepState.ABORTED
    assert outcome.details.startswith(
        "prestaging-images: aborted (the cancel did not reach the subcloud: "
    )
    assert "simulated offline" in outcome.details
    assert outcome.subcloud["prestage_status"] == "failed"


def test_a_precheck_not_started_leaves_the_subcloud_alone(conf):
    clock = test_clock.FakeClock()
    ctx = _context("simulated://sc1", StepState.PRECHECK)

    outcome = prestage.abort(ctx, _environment(conf, clock))

    assert (outcome.state, outcome.details, outcome.subcloud) == (
        StepState.ABORTED,
        "prestage-precheck: aborted",
        None,
    )


def test_a_precheck_whose_start_went_unanswered_releases_the_subcloud(conf):
    """Its first attempt marked the subcloud prestaging without an operation to show:
    left so, every later prestage would find it busy."""
    clock = test_clock.FakeClock()
    ctx = _context("simulated://sc1", StepState.PRECHECK)

    outcome = prestage.abort(ctx, _environment(conf, clock, prestage_status="prestaging"))

    assert outcome.subcloud == {
        "prestage_status": "failed",
        "error_description": "Prestage aborted in prestage-precheck.",
    }


def test_a_subcloud_another_prestage_holds_is_left_to_it(conf):
    clock = test_clock.FakeClock()
    ctx = _context("simulated://sc1", StepState.PRECHECK)
    env = _environment(conf, clock, prestage_status="prestaging", other_active=True)

    assert prestage.abort(ctx, env).subcloud is None


@pytest.mark.parametrize(
    ("state", "kind"),
    [(StepState.PRECHECK, "precheck"), (StepState.PRESTAGING_PACKAGES, "packages")],
)
def test_without_a_recorded_handle_the_operation_is_cancelled_by_its_key(conf, state, kind):
    cancelled = []

    class Driver:
        def cancel(self, handle):
            cancelled.append(handle)
            return base.Operation(kind=base.OperationKind(kind), id=handle["id"], done=True)

    env = _environment(conf, test_clock.FakeClock())
    env.driver = lambda ctx: Driver()

    outcome = prestage.abort(_context("http://sc1:8129", state), env)

    assert cancelled == [{"kind": kind, "id": f"7:{kind}"}]
    assert outcome.state == StepState.ABORTED
