"""A step's history of attempts: one entry per attempt that ended and was followed by
another (a retry by the strategy's policy, or an operator's retry-failed)."""

import datetime
from typing import Any

# The earlier attempts a step keeps (the oldest go first).
MAX_HISTORY = 20


def past_attempt(
    attempt: int, details: str | None, ended_at: datetime.datetime | None, kind: str | None
) -> dict[str, Any]:
    """An attempt's entry in a step's history."""
    entry: dict[str, Any] = {
        "attempt": attempt,
        "details": details,
        "ended-at": ended_at.isoformat(timespec="seconds") if ended_at else None,
    }
    if kind is not None:
        entry["failure"] = str(kind)
    return entry


def with_attempt(history: list | None, entry: dict[str, Any]) -> list:
    """``history`` with ``entry`` last, keeping at most :data:`MAX_HISTORY`."""
    return [*(history or []), entry][-MAX_HISTORY:]
