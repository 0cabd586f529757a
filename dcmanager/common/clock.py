"""The clock every role reads: wall time for stamps and leases, a monotonic count for
intervals. Code takes a :class:`Clock` (the system's by default) instead of calling
``time`` or ``utcnow`` itself, so that tests move time by hand instead of sleeping.
"""

import datetime
import time
from typing import Protocol

from oslo_utils import timeutils


class Clock(Protocol):
    def utcnow(self) -> datetime.datetime:
        """Now, naive UTC (what rows are stamped with and leases compared to)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back (for intervals)."""

    def time(self) -> float:
        """Seconds since the epoch (for stamps that cross processes)."""


class SystemClock:
    """The host's clocks (``utcnow`` through oslo.utils, which tests of libraries that
    override its time also see)."""

    def utcnow(self) -> datetime.datetime:
        return timeutils.utcnow()

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


SYSTEM = SystemClock()


def lease(clock: Clock, seconds: float) -> tuple[datetime.datetime, datetime.datetime]:
    """A lease taken now: its start and its end, ``seconds`` later.

    Every lease (a strategy's, a step's, a preparation's) is stamped with the taker's
    clock, so the hosts' clocks must agree to well within the shortest lease.
    """
    now = clock.utcnow()
    return now, now + datetime.timedelta(seconds=seconds)
