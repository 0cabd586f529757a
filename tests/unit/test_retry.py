"""The retry policy: attempts, capped exponential waits with jitter, errors that never
retry, and a cancel that cuts a wait short."""

import threading
import time

import pytest

from dcmanager.common import retry


class Flaky(Exception):
    pass


class Fatal(Exception):
    pass


def _failing(*errors: Exception):
    calls = []

    def fn():
        calls.append(time.monotonic())
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"

    return fn, calls


def test_the_waits_grow_exponentially_up_to_the_maximum_then_jitter(monkeypatch):
    slept = []
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    fn, calls = _failing(*[Flaky()] * 6)
    policy = retry.RetryPolicy(attempts=7, initial=1.0, multiplier=2.0, maximum=5.0, jitter=0.5)

    assert policy.call(fn, lambda exc: isinstance(exc, Flaky)) == "ok"

    assert len(slept) == 6
    for wait, base in zip(slept, [1.0, 2.0, 4.0, 5.0, 5.0, 5.0], strict=True):
        assert base <= wait <= base + 0.5
    # Capped waits still differ: sites failing together do not retry together.
    assert len(set(slept[3:])) > 1


def test_a_transient_error_is_tried_again_until_it_passes():
    fn, calls = _failing(Flaky(), Flaky())
    policy = retry.RetryPolicy(attempts=3, initial=0.01, maximum=0.05, jitter=0.01)
    assert policy.call(fn, lambda exc: isinstance(exc, Flaky)) == "ok"
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.01 and calls[2] - calls[1] >= 0.02


def test_attempts_are_bounded_and_the_last_error_is_raised_as_it_is():
    fn, calls = _failing(Flaky("1"), Flaky("2"), Flaky("3"), Flaky("4"))
    policy = retry.RetryPolicy(attempts=3, initial=0.0, jitter=0.0)
    with pytest.raises(Flaky, match="3"):
        policy.call(fn, lambda exc: isinstance(exc, Flaky))
    assert len(calls) == 3


def test_an_error_that_never_retries_ends_the_call_at_once():
    fn, calls = _failing(Fatal())
    with pytest.raises(Fatal):
        retry.RetryPolicy(attempts=5, initial=0.0).call(fn, lambda exc: isinstance(exc, Flaky))
    assert len(calls) == 1


def test_a_cancel_cuts_a_wait_short():
    fn, calls = _failing(Flaky(), Flaky())
    cancelled = threading.Event()
    threading.Timer(0.1, cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(retry.Interrupted):
        retry.RetryPolicy(attempts=3, initial=30.0, maximum=30.0).call(
            fn, lambda exc: isinstance(exc, Flaky), cancelled
        )
    assert time.monotonic() - started < 5
    assert len(calls) == 1


def test_a_cancelled_call_makes_no_attempt():
    fn, calls = _failing()
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(retry.Interrupted):
        retry.RetryPolicy().call(fn, lambda exc: True, cancelled)
    assert calls == []


def test_a_policy_needs_an_attempt():
    with pytest.raises(ValueError):
        retry.RetryPolicy(attempts=0)
