"""Two database actors interleaved at a chosen statement, for the races the DB API closes.

:func:`interleave` runs ``first`` on a thread until it is about to send a statement that
begins with a given word (``SELECT``, ``UPDATE``, ``INSERT``), or to commit
(``COMMIT``: every statement sent, its locks held), holds it there, runs
``second`` meanwhile, then lets ``first`` go on. ``second`` either ends while ``first``
waits or blocks on a lock ``first`` holds (SQLite's write lock, a row lock of PostgreSQL
or MariaDB) and ends after it: both orders are real interleavings, and tests assert what
must hold in either.
"""

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# How long ``second`` may run before it counts as blocked by ``first``.
BLOCKED_AFTER = 0.25
TIMEOUT = 30.0


@dataclasses.dataclass
class Interleaving:
    first: Any
    second: Any
    second_ended_first: bool
    """Whether ``second`` ended while ``first`` was held (else it waited for ``first``)."""


class _Actor(threading.Thread):
    def __init__(self, name: str, action: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self._action = action
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._action()
        except BaseException as exc:  # handed to the test, which re-raises it
            self.error = exc

    def outcome(self) -> Any:
        self.join(TIMEOUT)
        assert not self.is_alive(), f"{self.name} did not end within {TIMEOUT}s"
        if self.error is not None:
            raise self.error
        return self.result


def interleave(
    engine: Engine,
    first: Callable[[], Any],
    second: Callable[[], Any],
    before: str,
    occurrence: int = 1,
) -> Interleaving:
    """Hold ``first`` before its ``occurrence``-th statement that begins with ``before``,
    run ``second``, release ``first``; the results of both (an exception is re-raised)."""
    held = threading.Event()
    release = threading.Event()
    seen = 0

    def hold_before(statement: str) -> None:
        nonlocal seen
        if threading.current_thread() is not actor or held.is_set():
            return
        if statement.lstrip().upper().startswith(before.upper()):
            seen += 1
            if seen == occurrence:
                held.set()
                release.wait(TIMEOUT)

    def hold(conn, cursor, statement, parameters, context, executemany) -> None:
        hold_before(statement)

    def hold_commit(conn) -> None:
        hold_before("COMMIT")

    actor = _Actor("first", first)
    event.listen(engine, "before_cursor_execute", hold)
    event.listen(engine, "commit", hold_commit)
    try:
        actor.start()
        if not held.wait(TIMEOUT):
            actor.outcome()
            raise AssertionError(f"first never sent statement {occurrence} beginning {before}")
        other = _Actor("second", second)
        other.start()
        other.join(BLOCKED_AFTER)
        ended_first = not other.is_alive()
        release.set()
        return Interleaving(actor.outcome(), other.outcome(), ended_first)
    finally:
        release.set()
        event.remove(engine, "before_cursor_execute", hold)
        event.remove(engine, "commit", hold_commit)
