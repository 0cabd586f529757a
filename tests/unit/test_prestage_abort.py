"""A prestage step of an aborted strategy stops where it is (the engine's choice of
``abort`` is proved end to end in tests/functional/test_strategy_run.py and, against a
real agent, tests/e2e/test_agents.py)."""

from dcmanager import drivers
from dcmanager.common.states import StepState
from dcmanager.drivers import base
from dcmanager.orchestrator import prestage
from tests import clock as test_clock


def _context(endpoint: str, state: StepState, operation=None) -> prestage.StepContext:
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
    )


def _environment(conf, clock) -> prestage.Environment:
    def unused(*args):
        raise AssertionError("an abort needs only the driver")

    return prestage.Environment(
        conf=conf,
        owner="w1",
        driver=lambda ctx: drivers.get_driver(ctx.subcloud_name, ctx.endpoint, clock),
        subcloud=unused,
        other_active_step=unused,
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
