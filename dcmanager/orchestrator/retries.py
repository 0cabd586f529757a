"""A strategy's retry policy: whether a step that failed runs again, and when.

The policy is a value in the strategy's ``extra-args`` (``retry``), given at create and
stored whole, defaults filled in (:mod:`dcmanager.api.schemas.retry_policy` checks
it)::

    {"attempts": 3, "initial-interval": 30, "backoff": 2.0, "max-interval": 600,
     "never": ["password", "system-mode", "disk", "ineligible"],
     "phases": {"prestaging-images": {"attempts": 5}}}

``attempts`` counts the first one (1: never retried). Before attempt ``n + 1`` the step
waits ``initial-interval * backoff ** (n - 1)`` seconds, at most ``max-interval``.
``phases`` overrides any of those four per phase (the phase the attempt failed in).
A failure of a kind in ``never`` (:class:`dcmanager.common.states.FailureKind`) is not
retried, nor ever one of the preparation (the strategy prepares its packages once) or
an application's failed recovery (the site needs an operator).

A step waiting for its next attempt is back in ``initial`` with ``retry_at`` set: it
holds no place in the window and no thread; the orchestrator starts it again once
that time has come.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

from dcmanager.common.states import FailureKind

# Kinds no policy retries.
NEVER_RETRIED = frozenset({FailureKind.PREPARATION, FailureKind.RECOVERY})


@dataclasses.dataclass(frozen=True)
class Timing:
    """How many attempts a phase gets and how long a step waits between them."""

    attempts: int
    initial_interval: float
    backoff: float
    max_interval: float

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> "Timing":
        return cls(
            attempts=int(args["attempts"]),
            initial_interval=float(args["initial-interval"]),
            backoff=float(args["backoff"]),
            max_interval=float(args["max-interval"]),
        )

    def wait(self, attempt: int) -> float:
        """Seconds before the attempt after ``attempt``."""
        return min(self.initial_interval * self.backoff ** (attempt - 1), self.max_interval)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    timing: Timing
    phases: Mapping[str, Timing]
    never: frozenset[str]

    @classmethod
    def from_args(cls, args: Mapping[str, Any] | None) -> "RetryPolicy | None":
        """The policy stored in a strategy's arguments (as :func:`validate` made it),
        or None when the strategy has none."""
        if not args:
            return None
        return cls(
            timing=Timing.from_args(args),
            phases={
                phase: Timing.from_args({**args, **override})
                for phase, override in (args.get("phases") or {}).items()
            },
            never=frozenset(args["never"]) | NEVER_RETRIED,
        )

    def delay(self, phase: str, attempt: int, kind: FailureKind | None) -> float | None:
        """Seconds before the next attempt of a step whose ``attempt`` failed in
        ``phase`` with a ``kind`` failure, or None if it is not retried."""
        if kind is None or kind in self.never:
            return None
        timing = self.phases.get(phase, self.timing)
        if attempt >= timing.attempts:
            return None
        return timing.wait(attempt)
