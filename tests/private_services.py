"""Private instances of PostgreSQL and RabbitMQ that a test may stop, start and trace.

The machine's own servers are never stopped, restarted or reconfigured by the suite: a
test that needs a broker or a database to go away starts one of its own here, on free
loopback ports, with its files in a temporary directory, and the context managers stop
it and remove what it left whatever happens in the test.

- :func:`rabbitmq`: a second RabbitMQ node (its own node name, AMQP, distribution and
  epmd ports, Mnesia and log directories, Erlang cookie; no plugins, so no management
  listener), run from the installed server's scripts.
- :func:`postgresql`: a cluster made by ``initdb`` (trust authentication), served by
  ``postgres`` as the ``postgres`` system user when the tests run as root (PostgreSQL
  refuses to run as root).
"""

import contextlib
import glob
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

from tests import services
from tests.services import free_port

STARTUP_TIMEOUT = 60.0
COMMAND_TIMEOUT = 120.0


def _run(args: list[str], env: dict[str, str] | None = None, user: str | None = None) -> str:
    if user is not None:
        args = ["runuser", "-u", user, "--", *args]
    result = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _wait(what: str, ready, log: pathlib.Path, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}):\n{log.read_text()}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start within {STARTUP_TIMEOUT}s:\n{log.read_text()}")


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _rabbitmq_script(name: str) -> str:
    """The server's own script, not the packaging wrapper that switches user and
    environment."""
    for candidate in (f"/usr/lib/rabbitmq/bin/{name}", shutil.which(name)):
        if candidate and os.path.exists(candidate):
            return candidate
    services.unavailable(f"a private RabbitMQ node needs {name}")
    raise AssertionError("unreachable")


class RabbitMQ:
    """A private RabbitMQ node: :attr:`url`, and :meth:`stop_app` / :meth:`start_app`
    to take the broker away and bring it back as a restart would."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.port, dist_port, epmd_port = free_port(), free_port(), free_port()
        self.node = f"dcmtest{uuid.uuid4().hex[:8]}@localhost"
        self.url = f"rabbit://guest:guest@127.0.0.1:{self.port}/"
        self.log = directory / "server.log"
        (directory / "enabled_plugins").write_text("[].\n")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(directory),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "ERL_EPMD_PORT": str(epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(directory / "rabbitmq.pid"),
        }
        self._process: subprocess.Popen | None = None

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl`` against this node."""
        return _run([_rabbitmq_script("rabbitmqctl"), "-n", self.node, *args], env=self.env)

    def _answers(self) -> bool:
        try:
            self.ctl("await_startup", "--timeout", "5")
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True

    def start(self) -> None:
        with open(self.log, "w") as log:
            self._process = subprocess.Popen(
                [_rabbitmq_script("rabbitmq-server")],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait("RabbitMQ node", self._answers, self.log, self._process)

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup")

    def queues(self) -> list[str]:
        """The names of the queues on the node."""
        return self.ctl("list_queues", "--quiet", "--no-table-headers", "name").split()

    def stop(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.ctl("shutdown")
        _kill_group(self._process)
        # The node's own epmd (started by the node, on its port) goes with it.
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired, FileNotFoundError):
            _run(["epmd", "-kill"], env=self.env)


@contextlib.contextmanager
def rabbitmq() -> Iterator[RabbitMQ]:
    """A running private RabbitMQ node, removed afterwards."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="dcmanager-rabbitmq-"))
    node = RabbitMQ(directory)
    try:
        node.start()
        yield node
    finally:
        node.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _postgres_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found[-1]:
        services.unavailable(f"a private PostgreSQL cluster needs {name}")
    return found[-1]


class PostgreSQL:
    """A private PostgreSQL cluster: :attr:`url` (user ``postgres``, database
    ``postgres``), and :meth:`stop` / :meth:`start` to restart it."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.port = free_port()
        self.data = directory / "data"
        self.log = directory / "server.log"
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"
        self._directory = directory
        # PostgreSQL will not run as root; the tests may.
        self._user = "postgres" if os.geteuid() == 0 else None
        self._started = False

    def _own(self) -> None:
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            for path in (self._directory, *self._directory.rglob("*")):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def initdb(self) -> None:
        self._own()
        _run(
            [
                _postgres_binary("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            user=self._user,
        )

    def start(self) -> None:
        self.log.touch()
        self._own()
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._directory} -c fsync=off"
        _run(
            [
                _postgres_binary("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                str(int(STARTUP_TIMEOUT)),
                "start",
            ],
            user=self._user,
        )
        self._started = True

    def stop(self) -> None:
        if not self._started:
            return
        _run(
            [_postgres_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            user=self._user,
        )
        self._started = False


@contextlib.contextmanager
def postgresql() -> Iterator[PostgreSQL]:
    """A running private PostgreSQL cluster, removed afterwards."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="dcmanager-postgresql-"))
    cluster = PostgreSQL(directory)
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
