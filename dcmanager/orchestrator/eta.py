"""A strategy's estimated end, from what its own steps measured.

Each step records, as it leaves a phase for the next one, how long the phase took and,
for a transfer, how many bytes it moved (:func:`phase_passed`; failed phases are left
out: they say nothing of a normal pass). From the most recent steps' records, and
the steps under way (each site counted once, so that the fast sites that end first do
not make the estimate early), the estimate takes per phase how long a step usually
spends there: the mean of the transfers' times (a running transfer's at its rate so
far), the median of another phase's durations (so that the first steps' wait for the
strategy's one preparation weighs little). A running step's
remaining time is what is left of its phase (its bytes left at its own rate, or the
usual duration less what it spent) plus the usual time of the phases after it; a step not
started needs the whole path, spread as the completed steps' whole durations spread
around their mean (so that the last round ends with its slow sites, not on average).
The steps not started then fill the window as the running ones end (a list schedule),
and the estimate is when the last one ends.

Until every phase of the path has a measure (the first steps have not got that far),
there is no estimate.
"""

import dataclasses
import datetime
import heapq
import statistics
from collections.abc import Sequence
from typing import Any

from dcmanager.common import states


def phase_passed(ctx: Any, outcome: Any, now: datetime.datetime) -> dict[str, dict[str, float]]:
    """The phase the step leaves once ``outcome`` (recorded at ``now``) moved it on,
    with what it took (``{phase: {"s": seconds, "b": bytes}}``); empty unless the step
    passed it (a failed phase is left out)."""
    passed = outcome.state is not None and outcome.state not in (
        states.StepState.FAILED,
        states.StepState.ABORTED,
        states.StepState.INITIAL,  # a failure to be retried
    )
    if not passed or ctx.phase_started_at is None or outcome.state == ctx.state:
        return {}
    entry: dict[str, float] = {
        "s": round(max(0.0, (now - ctx.phase_started_at).total_seconds()), 3)
    }
    if outcome.progress and outcome.progress.get("bytes_done"):
        entry["b"] = outcome.progress["bytes_done"]
    return {str(ctx.state): entry}


@dataclasses.dataclass(frozen=True)
class Running:
    """A step under way, as the estimate sees it."""

    state: str
    phase_started_at: datetime.datetime | None
    progress: dict[str, int] | None
    timings: dict[str, dict[str, float]] | None = None
    progress_at: datetime.datetime | None = None
    """When its progress was recorded (it is as old as that)."""


@dataclasses.dataclass
class _Phase:
    """What the steps that entered a phase say of its duration, each step once."""

    once: bool = False
    """The phase waits for the strategy's one preparation: the first steps wait long,
    the others pass at once."""
    ended: list[float] = dataclasses.field(default_factory=list)
    """Seconds the steps that passed it spent there (or a running transfer will, at
    its pace so far)."""
    still: list[float] = dataclasses.field(default_factory=list)
    """Seconds the steps still there have spent so far (lower bounds)."""

    def usual(self) -> float | None:
        """Seconds a step usually spends in the phase, or None if none passed it: the
        mean of a Kaplan-Meier estimate, so that the steps still in the phase (slow
        sites are the ones still there) count as much as those that passed; the
        median for the preparation's wait."""
        if not self.ended:
            return None
        if self.once:
            return statistics.median(self.ended)
        return _km_mean(self.ended, self.still)


def _km_mean(ended: list[float], still: list[float]) -> float:
    """The area under the Kaplan-Meier survival curve of the durations ``ended`` with
    ``still`` censored, up to the longest time seen."""
    points = sorted([(t, 0) for t in ended] + [(t, 1) for t in still])
    at_risk, survival, area, last = len(points), 1.0, 0.0, 0.0
    for seconds, censored in points:
        area += survival * (seconds - last)
        last = seconds
        if not censored:
            survival *= 1 - 1 / at_risk
        at_risk -= 1
    return area


def _phase(phases: dict[str, _Phase], name: str) -> _Phase:
    return phases.setdefault(name, _Phase(once=name == states.StepState.PREPARING_PACKAGES))


def _measures(timings: Sequence[dict[str, dict[str, float]]]) -> dict[str, _Phase]:
    phases: dict[str, _Phase] = {}
    for record in timings:
        for name, entry in (record or {}).items():
            _phase(phases, name).ended.append(entry["s"])
    return phases


def _elapsed(step: Running, now: datetime.datetime) -> float:
    if step.phase_started_at is None:
        return 0.0
    return max(0.0, (now - step.phase_started_at).total_seconds())


# A transfer's own pace counts once it moved this share of its bytes: before, the time
# between entering the phase and the transfer's start at the site weighs too much.
PACE_AFTER = 0.1


def _seconds_per_byte(step: Running) -> float | None:
    """A running transfer's own pace: the time to its last recorded progress over the
    bytes it had moved then."""
    progress = step.progress or {}
    done, total = progress.get("bytes_done") or 0, progress.get("bytes_total") or 0
    if not (total and done >= PACE_AFTER * total and step.phase_started_at and step.progress_at):
        return None
    spent = (step.progress_at - step.phase_started_at).total_seconds()
    return spent / done if spent > 0 else None


def _observe(phases: dict[str, _Phase], step: Running, now: datetime.datetime) -> None:
    """A step under way counts too: a transfer by the time it will take at its pace so
    far; else by the time it has spent in the phase, a lower bound. Without them the
    first estimates would rest on the steps that ended first, the fast ones, and come
    out early."""
    elapsed = _elapsed(step, now)
    if elapsed <= 0:
        return
    phase = _phase(phases, step.state)
    total = (step.progress or {}).get("bytes_total") or 0
    pace = _seconds_per_byte(step)
    if total and pace:
        phase.ended.append(total * pace)
    else:
        phase.still.append(elapsed)


def _path(
    strategy_type: str, timings: Sequence[dict[str, dict[str, float]]]
) -> tuple[str, ...] | None:
    """The phases a step usually walks: those at least half the finished steps
    passed, in table order; a prestage's four until one finished."""
    table = [str(phase) for phase in states.STRATEGY_PHASES[states.StrategyType(strategy_type)]]
    walked = [record for record in timings if record]
    if not walked:
        return tuple(table) if strategy_type == states.StrategyType.PRESTAGE else None
    return tuple(p for p in table if sum(p in record for record in walked) * 2 >= len(walked))


def _remaining(
    step: Running, path: tuple[str, ...], usual: dict[str, float | None], now: datetime.datetime
) -> float | None:
    """Seconds until the running step ends, or None if not known yet (``usual``: each
    phase's usual duration)."""
    elapsed = _elapsed(step, now)
    progress = step.progress or {}
    total, done = progress.get("bytes_total") or 0, progress.get("bytes_done") or 0
    pace = _seconds_per_byte(step)
    if total and pace:
        # The bytes left at its own pace, less the time since that progress.
        left = max(0.0, (total - done) * pace - (now - step.progress_at).total_seconds())
    else:
        here = usual.get(step.state)
        if here is None:
            return None
        left = max(0.0, here - elapsed)
    after = path[path.index(step.state) + 1 :] if step.state in path else ()
    usual_after = [usual.get(name) for name in after]
    if any(seconds is None for seconds in usual_after):
        return None
    return left + sum(usual_after)


def estimate(
    strategy_type: str,
    finished: Sequence[dict[str, dict[str, float]]],
    running: Sequence[Running],
    waiting: int,
    window: int,
    now: datetime.datetime,
    not_before: datetime.datetime | None = None,
) -> datetime.datetime | None:
    """When the strategy's last step should end, or None when it cannot be told yet.

    :param finished: the timings of recent steps that completed.
    :param running: the steps under way (their phase and progress).
    :param waiting: how many steps have not started.
    :param window: how many steps run at once.
    :param not_before: no step starts before this (the maintenance window's start).
    """
    path = _path(strategy_type, finished)
    if path is None:
        return None
    # The phases running steps passed already count too, and the transfers under way.
    phases = _measures([*finished, *(step.timings for step in running)])
    for step in running:
        _observe(phases, step, now)
    # Once per phase: a strategy may have thousands of steps under way.
    usual = {name: phase.usual() for name, phase in phases.items()}
    left = [_remaining(step, path, usual, now) for step in running]
    if any(seconds is None for seconds in left):
        return None
    whole = [usual.get(name) for name in path] if waiting else []
    if any(seconds is None for seconds in whole):
        return None
    start = max(0.0, (not_before - now).total_seconds()) if not_before else 0.0
    slots = sorted(left) + [start] * max(0, window - len(left))
    heapq.heapify(slots)
    typical = sum(seconds for seconds in whole if seconds is not None)
    spread = _spread(finished, path)
    for number in range(waiting):
        # The steps are not all alike: the last to end is likely a slow one.
        seconds = typical * spread[int((number * GOLDEN) % 1 * len(spread))]
        heapq.heappush(slots, max(heapq.heappop(slots), start) + seconds)
    if not slots:
        return now
    return now + datetime.timedelta(seconds=max(slots))


# Steps not started take the spread's values in this low-discrepancy order, so that any
# run of them holds fast and slow ones alike.
GOLDEN = 0.6180339887498949


def _spread(finished: Sequence[dict[str, dict[str, float]]], path: tuple[str, ...]) -> list[float]:
    """How the completed steps' whole durations spread around their mean (each over
    the mean; [1.0] until a few completed): the shape of the durations, whose level
    the per-phase measures give."""
    totals = [sum(record[name]["s"] for name in path if name in record) for record in finished]
    totals = [seconds for seconds in totals if seconds > 0]
    if len(totals) < 5:
        return [1.0]
    mean = statistics.fmean(totals)
    return sorted(seconds / mean for seconds in totals)
