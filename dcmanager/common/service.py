"""What every dcmanager service does around its main loop."""

import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Sequence
from typing import Protocol

import oslo_messaging
import sqlalchemy.engine
import sqlalchemy.exc
from oslo_config import cfg
from oslo_db import exception as db_exc

from dcmanager.common import exception
from dcmanager.conf import default as default_conf

LOG = logging.getLogger(__name__)


def prepare_state_path(conf: cfg.ConfigOpts) -> None:
    """Create ``state_path`` and the SQLite database's directory, if missing."""
    os.makedirs(conf.state_path, mode=0o700, exist_ok=True)
    url = sqlalchemy.engine.make_url(conf.database.connection)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), mode=0o700, exist_ok=True)


def database_location(conf: cfg.ConfigOpts) -> str:
    """``[database] connection`` fit for a log line (password hidden)."""
    return sqlalchemy.engine.make_url(conf.database.connection).render_as_string(hide_password=True)


def stop_on_sigterm() -> None:
    """Make SIGTERM and SIGINT (Ctrl-C) stop the service: ``SystemExit(0)`` is raised in
    the calling thread, even when the shell that started the service in the background
    told it to ignore SIGINT.

    Call it from the main thread, the one that waits for the end. Under eventlet every
    green thread runs on the main OS thread, and a Python signal handler runs in
    whichever greenlet is running, at any bytecode: raising there could kill a loop (an
    audit, say), end the hub's greenlet, or leave a lock half-taken, and the service
    stayed up now and then. So the signal only wakes the hub (``set_wakeup_fd``), and a
    green thread that waits on that pipe has the hub throw the exception into the main
    green thread where it waits, as any other exception of a blocking call.
    """
    eventlet = sys.modules.get("eventlet")
    if eventlet is not None and eventlet.patcher.is_monkey_patched("thread"):
        _stop_on_signals_under_eventlet(sys.modules["eventlet"])
        return

    def _handler(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)


def _stop_on_signals_under_eventlet(eventlet) -> None:
    import eventlet.hubs
    import greenlet

    main = greenlet.getcurrent()
    hub = eventlet.hubs.get_hub()
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    stopping = (signal.SIGTERM, signal.SIGINT)

    def watch() -> None:
        while True:
            eventlet.hubs.trampoline(read_end, read=True)
            try:
                received = os.read(read_end, 64)
            except BlockingIOError:
                continue
            if any(number in stopping for number in received):
                hub.schedule_call_global(0, main.throw, SystemExit(0))

    eventlet.spawn_n(watch)
    # The C-level handler writes each signal's number to the pipe; the Python one
    # does nothing (it must exist, or SIGINT would raise KeyboardInterrupt anywhere).
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for number in stopping:
        signal.signal(number, lambda signum, frame: None)


# What can stop a service from starting, as opposed to a bug.
STARTUP_ERRORS = (
    exception.DCManagerException,
    db_exc.DBError,
    sqlalchemy.exc.ArgumentError,
    sqlalchemy.exc.NoSuchModuleError,
    OSError,
)


def describe_startup_error(conf: cfg.ConfigOpts, exc: BaseException) -> str:
    """One line saying why a service could not start (no traceback, no password)."""
    if isinstance(exc, exception.DCManagerException):
        return exc.message
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    reason = str(getattr(exc, "inner_exception", None) or exc).strip().splitlines()[0]
    return str(exception.DatabaseUnavailable(database=database_location(conf), reason=reason))


def warn_if_open_noauth(conf: cfg.ConfigOpts, url: str, host: str) -> None:
    """Warn when noauth makes everyone who can reach a non-loopback address an admin."""
    if conf.auth_strategy == default_conf.AUTH_NOAUTH and not host.startswith(("127.", "::1")):
        LOG.warning("auth_strategy = noauth on %s: anyone who can reach it is an admin", url)


def worker_name(conf: cfg.ConfigOpts, role: str) -> str:
    """A name unique to this process's ``role``: the owner of the work it holds."""
    return f"{conf.host}:{role}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database or the message broker is away for a moment
    (restarting, unreachable, connection dropped), as opposed to a bug."""
    if isinstance(exc, db_exc.DBError) and not isinstance(exc, db_exc.DBConnectionError):
        exc = exc.inner_exception or exc
    return isinstance(
        exc,
        (
            db_exc.DBConnectionError,
            sqlalchemy.exc.OperationalError,
            oslo_messaging.MessageDeliveryFailure,
            oslo_messaging.MessagingTimeout,
        ),
    )


def log_failure(logger: logging.Logger, exc: BaseException, message: str, *args: object) -> None:
    """Log a failure the caller recovers from: an outage in one line (expected, and
    retried), anything else with its traceback."""
    if is_outage(exc):
        reason = str(getattr(exc, "inner_exception", None) or exc).strip().splitlines()[0]
        logger.warning("%s (%s: %s)", message % args, type(exc).__name__, reason)
    else:
        logger.error(message, *args, exc_info=exc)


class Periodic:
    """Runs ``task`` every ``interval`` seconds on its own thread, and at once when woken.

    A failing run is logged and the next one happens as scheduled.
    """

    def __init__(self, name: str, interval: float, task: Callable[[], None]) -> None:
        self.name = name
        self.interval = interval
        self.task = task
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop (a no-op if it never started)."""
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.task()
            except Exception as exc:
                log_failure(LOG, exc, "%s failed; it runs again in %.1fs", self.name, self.interval)


class Service(Protocol):
    """A role running in this process: started once, stopped once."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def wait_for_signal() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop_on_sigterm()
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        return


def start_all(services: Sequence[Service]) -> None:
    for svc in services:
        svc.start()


def stop_all(services: Sequence[Service]) -> None:
    """Stop every service at once, each whatever the others do: an RPC server's thread
    pool takes up to a second to wind down, and the services need not take turns."""

    def stop(svc: Service) -> None:
        try:
            svc.stop()
        except Exception:
            LOG.exception("Stopping %s failed", type(svc).__name__)

    threads = [
        threading.Thread(target=stop, args=(svc,), name=f"stop-{type(svc).__name__}")
        for svc in services
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
