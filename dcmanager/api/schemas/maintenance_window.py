"""A strategy's maintenance window as a create request gives it: ``start-after`` (no
step starts before) and ``no-new-steps-after`` (none starts after; the steps not started
then end aborted), ISO 8601 times stored in UTC
(:func:`dcmanager.common.states.window_closed` applies them)."""

import datetime
from typing import Any

from dcmanager.api import validation
from dcmanager.common import exception

FIELDS = ("start-after", "no-new-steps-after")


def validate(body: dict[str, Any], now: datetime.datetime) -> dict[str, str]:
    """The window's bounds given in ``body``, as stored (UTC, ISO 8601).

    :param now: the time now (aware, UTC): a window that closed already is refused.
    :raises Invalid: a bound is not a time, the window ends before it opens, or it has
        closed already.
    """
    times = {
        field: validation.parse_time(field, body[field])
        for field in FIELDS
        if body.get(field) is not None
    }
    start, end = times.get("start-after"), times.get("no-new-steps-after")
    if start is not None and end is not None and end <= start:
        raise exception.Invalid(
            f"no-new-steps-after ({end.isoformat()}) must be later than start-after "
            f"({start.isoformat()})"
        )
    if end is not None and end <= now:
        raise exception.Invalid(f"no-new-steps-after ({end.isoformat()}) has passed already")
    return {field: value.isoformat() for field, value in times.items()}
