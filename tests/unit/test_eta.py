"""The estimated end of a strategy, from its steps' measures (pure arithmetic here; the
orchestrator keeps it on the strategy, see tests/functional/test_strategy_eta.py)."""

import datetime
import types

from dcmanager.common.states import StepState
from dcmanager.orchestrator import eta

NOW = datetime.datetime(2026, 12, 7, 12, 0, 0)
# A completed prestage step: precheck 1 s, preparing 0 s, 1000 bytes of packages in 10 s
# and 2000 bytes of images in 20 s (100 bytes/s each).
DONE = {
    "prestage-precheck": {"s": 1.0},
    "prestage-preparing-packages": {"s": 0.0},
    "prestaging-packages": {"s": 10.0, "b": 1000},
    "prestaging-images": {"s": 20.0, "b": 2000},
}


def _at(seconds: float) -> datetime.datetime:
    return NOW + datetime.timedelta(seconds=seconds)


def test_steps_not_started_fill_the_window_as_running_ones_end():
    # Four steps of 31 s each, two at a time.
    assert eta.estimate("prestage", [DONE, DONE], [], 4, 2, NOW) == _at(62)


def test_a_transfer_under_way_ends_at_the_measured_rate_then_walks_the_rest():
    halfway = eta.Running("prestaging-packages", _at(-5), {"bytes_done": 500, "bytes_total": 1000})
    # 500 bytes left at 100 bytes/s, then the images' usual 20 s; the waiting step
    # starts in the other slot at once (31 s).
    assert eta.estimate("prestage", [DONE], [halfway], 1, 2, NOW) == _at(31)
    assert eta.estimate("prestage", [DONE], [halfway], 0, 2, NOW) == _at(25)


def test_a_transfers_pace_is_taken_when_its_progress_was_recorded():
    # 100 bytes in the 1 s to its last record, 3 s ago: 900 bytes left at 100 bytes/s,
    # less the 3 s since, then the images' 20 s.
    stale = eta.Running(
        "prestaging-packages", _at(-4), {"bytes_done": 100, "bytes_total": 1000}, None, _at(-3)
    )
    assert eta.estimate("prestage", [DONE], [stale], 0, 1, NOW) == _at(6 + 20)


def test_a_transfer_that_just_began_takes_the_usual_time():
    # 5 bytes of 1000 say little of its pace: the packages' usual 10 s, less the 1 s.
    begun = eta.Running(
        "prestaging-packages", _at(-1), {"bytes_done": 5, "bytes_total": 1000}, None, _at(-0.5)
    )
    assert eta.estimate("prestage", [DONE], [begun], 0, 1, NOW) == _at(9 + 20)


def test_a_phase_without_bytes_takes_its_usual_time_less_what_it_spent():
    prechecking = eta.Running("prestage-precheck", _at(-0.5), None)
    assert eta.estimate("prestage", [DONE], [prechecking], 0, 1, NOW) == _at(30.5)


def test_the_first_transfers_are_measured_while_they_run():
    # No step finished yet: the running transfer's own rate and size stand for its phase.
    early = {"prestage-precheck": {"s": 1.0}, "prestage-preparing-packages": {"s": 0.0}}
    packages = eta.Running(
        "prestaging-packages", _at(-2), {"bytes_done": 200, "bytes_total": 1000}, early, NOW
    )
    images = eta.Running(
        "prestaging-images", _at(-4), {"bytes_done": 400, "bytes_total": 2000}, DONE, NOW
    )
    assert eta.estimate("prestage", [], [packages, images], 0, 2, NOW) == _at(8 + 20)


def test_no_estimate_until_every_phase_of_the_path_was_measured():
    started = eta.Running("prestage-precheck", _at(-1), None)
    assert eta.estimate("prestage", [], [started], 3, 2, NOW) is None
    # An app-update's path is not known before one of its steps completed.
    assert eta.estimate("app-update", [], [], 3, 2, NOW) is None


def test_a_window_not_open_yet_delays_the_steps_not_started():
    assert eta.estimate("prestage", [DONE], [], 1, 1, NOW, not_before=_at(100)) == _at(131)


def test_the_median_keeps_the_first_steps_wait_for_the_preparation_small():
    first = {**DONE, "prestage-preparing-packages": {"s": 300.0}}
    assert eta.estimate("prestage", [first, DONE, DONE], [], 1, 1, NOW) == _at(31)


def _ctx(state, started):
    return types.SimpleNamespace(state=state, phase_started_at=started, timings={"a": {"s": 1}})


def test_a_passed_phase_is_timed_and_a_failed_one_is_not():
    ctx = _ctx(StepState.PRESTAGING_PACKAGES, _at(-12.5))
    moved = types.SimpleNamespace(
        state=StepState.PRESTAGING_IMAGES, progress={"bytes_done": 7, "bytes_total": 7}
    )
    failed = types.SimpleNamespace(state=StepState.FAILED, progress=None)
    waiting = types.SimpleNamespace(state=None, progress=None)

    assert eta.phase_passed(ctx, moved, NOW) == {"prestaging-packages": {"s": 12.5, "b": 7}}
    assert eta.phase_passed(ctx, failed, NOW) == {}
    assert eta.phase_passed(ctx, waiting, NOW) == {}


def test_steps_still_in_a_phase_past_its_usual_time_lengthen_it():
    # Two steps finished their precheck in 1 s; three are still in theirs after 9 s:
    # the usual precheck is no longer 1 s.
    slow = [eta.Running("prestage-precheck", _at(-9), None, None)] * 3
    # Kaplan-Meier: 2 of 5 ended at 1 s, the 3 others are still there at 9 s: the usual
    # precheck is 1 + 0.6 * 8 = 5.8 s. The three go on for the rest of their path
    # (30 s), then three steps of 5.8 + 30 s.
    assert eta.estimate("prestage", [DONE, DONE], slow, 3, 3, NOW) == _at(30 + 35.8)
