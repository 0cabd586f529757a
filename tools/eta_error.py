"""How far an applying strategy's estimated end (``eta``) was from its real end, for the
demo and the benchmark to print.

A :class:`Sampler` reads the strategy every ``interval`` seconds while it runs and keeps
each estimate with the time it was read. Once the strategy has ended, :meth:`report`
takes, at 25 %, 50 % and 75 % of the run, the last estimate read by then and says how far
it was from the real end (the last step's ``finished-at``): positive when the estimate
was late, negative when early, also as a share of the whole run.
"""

import datetime
import threading
import time
from collections.abc import Callable

FRACTIONS = (0.25, 0.5, 0.75)


def epoch(timestamp: str) -> float:
    return datetime.datetime.fromisoformat(timestamp).timestamp()


class Sampler:
    def __init__(self, read_strategy: Callable[[], dict], interval: float = 0.25) -> None:
        self._read = read_strategy
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[tuple[float, float]] = []
        """(when read, estimated end), both seconds since the epoch."""
        self.started = time.time()
        self._thread = threading.Thread(target=self._run, name="eta-sampler", daemon=True)

    def start(self) -> "Sampler":
        self.started = time.time()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                strategy = self._read()
            except OSError:
                continue
            if strategy.get("eta"):
                self.samples.append((time.time(), epoch(strategy["eta"])))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def report(self, ended: float) -> str:
        return describe(self.samples, self.started, ended)


def errors(
    samples: list[tuple[float, float]], started: float, ended: float
) -> dict[float, float | None]:
    """Per fraction of the run, the estimate's error then (seconds), or None if there
    was no estimate yet. ``samples``: (when read, estimated end), in order."""
    result: dict[float, float | None] = {}
    for fraction in FRACTIONS:
        at = started + fraction * (ended - started)
        known = [estimate for read, estimate in samples if read <= at]
        result[fraction] = known[-1] - ended if known else None
    return result


def describe(samples: list[tuple[float, float]], started: float, ended: float) -> str:
    whole = ended - started
    parts = []
    for fraction, error in errors(samples, started, ended).items():
        label = f"{fraction:.0%}"
        if error is None:
            parts.append(f"{label}: none yet")
        else:
            parts.append(f"{label}: {error:+.1f} s ({error / whole:+.0%})")
    first = f"first estimate after {samples[0][0] - started:.1f} s" if samples else "no estimate"
    return f"ETA error over a {whole:.1f} s run ({first}): " + ", ".join(parts)


def last_finished(steps: list[dict]) -> float | None:
    """When the last step ended (seconds since the epoch)."""
    ends = [epoch(step["finished-at"]) for step in steps if step.get("finished-at")]
    return max(ends) if ends else None
