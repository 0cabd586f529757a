"""One retry policy, written as a value and run by tenacity.

A :class:`RetryPolicy` says how often and how patiently a call is tried again: a
maximum number of attempts, waits growing exponentially from ``initial`` by
``multiplier`` up to ``maximum``, each with up to ``jitter`` seconds added at random
(so that many sites failing together do not come back together). Which errors are
worth another attempt is the caller's word (``retry_on``); every other error ends the
call at once. A wait can be cut short by a cancel (``cancelled``): the call then
raises :class:`Interrupted` instead of trying again.
"""

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar("T")


class Interrupted(Exception):
    """The call was cancelled while it waited for its next attempt."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    """Attempts in all (1: no retry)."""
    initial: float = 0.5
    """Seconds before the second attempt (before jitter)."""
    multiplier: float = 2.0
    """Each wait is this many times the one before..."""
    maximum: float = 30.0
    """...up to this many seconds, before the jitter."""
    jitter: float = 0.5
    """Up to this many seconds added at random to each wait."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def call(
        self,
        fn: Callable[[], T],
        retry_on: Callable[[BaseException], bool],
        cancelled: threading.Event | None = None,
        log: logging.Logger | logging.LoggerAdapter | None = None,
        what: str = "call",
    ) -> T:
        """``fn()``, tried again while it raises an error ``retry_on`` accepts and
        attempts are left; the last error is raised as it is.

        :raises Interrupted: ``cancelled`` was set before an attempt or during a wait.
        """

        def sleep(seconds: float) -> None:
            if cancelled is None:
                time.sleep(seconds)
            elif cancelled.wait(seconds):
                raise Interrupted()

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if log is not None and state.outcome is not None:
                log.warning(
                    "%s: attempt %d of %d failed (%s); trying again in %.1f s",
                    what,
                    state.attempt_number,
                    self.attempts,
                    state.outcome.exception(),
                    state.upcoming_sleep,
                )

        def attempt() -> T:
            if cancelled is not None and cancelled.is_set():
                raise Interrupted()
            return fn()

        retrying = tenacity.Retrying(
            sleep=sleep,
            stop=tenacity.stop_after_attempt(self.attempts),
            # The jitter is added after the cap, so that capped waits differ too.
            wait=tenacity.wait_exponential(
                multiplier=self.initial, max=self.maximum, exp_base=self.multiplier
            )
            + tenacity.wait_random(0, self.jitter),
            retry=tenacity.retry_if_exception(
                lambda exc: not isinstance(exc, Interrupted) and retry_on(exc)
            ),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)
