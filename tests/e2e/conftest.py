"""Helpers for end-to-end tests: real dcmanager processes from the installed scripts."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests import keystone as test_keystone
from tests import private_services
from tests.services import free_port

BIN = os.path.dirname(sys.executable)
STARTUP_TIMEOUT = 60


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def pytest_collection_finish(session):
    """Install Keystone in the background from the start when a test will need it: the
    install takes a minute or more from a clean clone, during which the other tests run
    rather than wait (the ``keystone`` fixture waits for it under the install's lock,
    and reports a failed install itself)."""
    if any("keystone" in getattr(item, "fixturenames", ()) for item in session.items):
        threading.Thread(target=_install_keystone, name="keystone-install", daemon=True).start()


def _install_keystone() -> None:
    try:
        test_keystone.ensure_installed()
    except BaseException:  # noqa: BLE001 - the fixture installs again and reports
        pass


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Service:
    """A dcmanager console script running as its own process, output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path) -> None:
        self.name = name
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [os.path.join(BIN, name), *args], env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def log(self) -> str:
        with open(self.log_path) as log:
            return log.read()

    def wait_for_http(self, url: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{self.name} did not answer {url}:\n{self.log}")

    def wait_for_log(self, text: str) -> None:
        """Until the service has logged ``text`` (a role logs that it runs once its
        servers and loops have started)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if text in self.log:
                return
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never logged {text!r}:\n{self.log}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait_stopped(sig, timeout)

    def wait_stopped(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        """Wait for the end of a process sent ``sig``; kill it after ``timeout``."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.name} ignored signal {sig}:\n{self.log}") from None

    def wait_exit(self, timeout: float = STARTUP_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"{self.name} did not exit:\n{self.log}") from None


def stop_together(services: list[Service]) -> None:
    """Stop every running service gracefully, signalled all at once so that they wind
    down together; each must exit with status 0."""
    running = [service for service in services if service.process.poll() is None]
    for service in running:
        service.process.send_signal(signal.SIGINT)
    for service in running:
        assert service.wait_stopped() == 0, service.log


@pytest.fixture
def services():
    """Start services with ``services.append(Service(...))``; all are killed at the end."""
    started: list[Service] = []
    yield started
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()


def run(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a dcmanager console script to completion, capturing its output."""
    return subprocess.run(
        [os.path.join(BIN, name), *args], env=env, capture_output=True, text=True, timeout=120
    )


def clean_env(tmp_path) -> dict[str, str]:
    """An environment with a private HOME and no dcmanager or OpenStack variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OS_", "DCMANAGER_", "XDG_"))
    }
    env["HOME"] = str(tmp_path / "home")
    return env


@pytest.fixture(scope="session")
def keystone(tmp_path_factory, worker_id):
    """A Keystone for the whole test session (see :mod:`tests.keystone`), one for all
    of pytest-xdist's workers: they share their base temporary directory's parent."""
    if worker_id == "master":
        with test_keystone.running(tmp_path_factory.mktemp("keystone"), free_port()) as instance:
            yield instance
        return
    with test_keystone.shared(tmp_path_factory.getbasetemp().parent) as instance:
        yield instance


@pytest.fixture(scope="session")
def private_rabbitmq():
    """A RabbitMQ node of this test process's own, which tests may trace, stop and start
    (see :mod:`tests.private_services`); the machine's broker is never touched."""
    with private_services.rabbitmq() as node:
        yield node
