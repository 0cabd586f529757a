"""A clock the tests move by hand: a :class:`dcmanager.common.clock.Clock` for the engine,
leases, audit and simulator, and a callable with ``sleep`` for code that paces itself
(``sleep`` advances it)."""

import datetime

EPOCH = datetime.datetime(2026, 1, 1)


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        """Seconds since :data:`EPOCH`."""

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    advance = sleep

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return EPOCH.replace(tzinfo=datetime.UTC).timestamp() + self.now

    def utcnow(self) -> datetime.datetime:
        return EPOCH + datetime.timedelta(seconds=self.now)
