"""Bandwidth caps: a pacer that keeps streams under a rate."""

import threading
import time
from collections.abc import Callable


class Pacer:
    """Keeps the bytes of every download sharing it at or under ``rate`` bytes/s.

    Each chunk is given the next free slot on a virtual clock; its taker sleeps until
    the slot's end, so the rate holds over any interval longer than one chunk.
    """

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def take(self, size: int) -> None:
        if not self.rate:
            return
        with self._lock:
            now = self._clock()
            self._next = max(self._next, now) + size / self.rate
            delay = self._next - now
        if delay > 0:
            self._sleep(delay)
