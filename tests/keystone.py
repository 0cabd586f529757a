"""A real Keystone for the tests: installed from PyPI, bootstrapped, served on 127.0.0.1.

Keystone and its WSGI server (uWSGI) go into their own virtualenv in the tests' cache
(:func:`tests.services.cache_dir`; made once per machine, reused while the pinned
versions stay the same), so they cannot change the versions dcmanager itself is tested
with. Each test session gets a fresh Keystone, shared by its test processes
(:func:`shared`): SQLite database, fernet tokens, bcrypt at its cheapest cost (a token
costs milliseconds, not a quarter of a second of CPU), a ``RegionOne`` catalog, a
``SystemController`` region as a distributed cloud's central site has, and the users
the tests need:

- ``admin`` (role ``admin`` on project ``admin``, from ``keystone-manage bootstrap``);
- ``viewer`` (role ``reader`` on project ``admin``);
- ``dcmanager`` (role ``service`` on project ``service``): the API's service user, which
  keystonemiddleware uses to validate tokens;
- ``outsider`` (role ``admin`` on project ``tenant1``): an admin of another project,
  who is no admin of the fleet.
"""

import contextlib
import dataclasses
import fcntl
import getpass
import grp
import hashlib
import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import requests

from tests import services

REQUIREMENTS = ("keystone==30.0.0", "uWSGI==2.0.31")
INSTALL_TIMEOUT = 600
START_TIMEOUT = 60


def ensure_installed() -> pathlib.Path:
    """The virtualenv's bin directory, installing Keystone into it first if needed."""
    wanted = "\n".join(REQUIREMENTS)
    # One virtualenv per set of versions: a clone that pins others never rebuilds the
    # one another clone's Keystone runs from.
    venv = services.cache_dir() / f"keystone-{hashlib.sha256(wanted.encode()).hexdigest()[:12]}"
    with open(venv.parent / "keystone.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = venv / "dcmanager-requirements.txt"
        if not marker.exists() or marker.read_text() != wanted:
            commands = (
                [sys.executable, "-m", "venv", "--clear", str(venv)],
                [str(venv / "bin" / "pip"), "install", "-q", *REQUIREMENTS],
            )
            for command in commands:
                result = subprocess.run(
                    command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
                )
                if result.returncode != 0:
                    services.unavailable(
                        f"could not install Keystone ({' '.join(command)}):\n"
                        f"{result.stdout}{result.stderr}"
                    )
            marker.write_text(wanted)
    return venv / "bin"


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    password: str
    project: str

    def environ(self, auth_url: str) -> dict[str, str]:
        """The ``OS_*`` variables an openrc for this user sets."""
        return {
            "OS_AUTH_URL": auth_url,
            "OS_USERNAME": self.name,
            "OS_PASSWORD": self.password,
            "OS_PROJECT_NAME": self.project,
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne",
        }


@dataclasses.dataclass
class Keystone:
    url: str  # the identity API root, ``http://127.0.0.1:PORT/v3``
    admin: User
    viewer: User
    service: User
    outsider: User

    @classmethod
    def from_dict(cls, data: dict) -> "Keystone":
        """The Keystone that ``dataclasses.asdict`` described (extra keys ignored)."""
        users = {name: User(**data[name]) for name in ("admin", "viewer", "service", "outsider")}
        return cls(url=data["url"], **users)

    def token(self, user: User) -> str:
        """A new project-scoped token for the user."""
        response = requests.post(
            f"{self.url}/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": user.name,
                                "domain": {"name": "Default"},
                                "password": user.password,
                            }
                        },
                    },
                    "scope": {"project": {"name": user.project, "domain": {"name": "Default"}}},
                }
            },
            timeout=30,
        )
        response.raise_for_status()
        return response.headers["X-Subject-Token"]

    def revoke(self, token: str) -> None:
        response = requests.delete(
            f"{self.url}/auth/tokens",
            headers={"X-Auth-Token": self.token(self.admin), "X-Subject-Token": token},
            timeout=30,
        )
        response.raise_for_status()

    def valid(self, token: str) -> bool:
        """Whether Keystone still takes the token (False once revoked)."""
        response = requests.head(
            f"{self.url}/auth/tokens",
            headers={"X-Auth-Token": self.token(self.admin), "X-Subject-Token": token},
            timeout=30,
        )
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    def authtoken_options(self) -> str:
        """The ``[keystone_authtoken]`` section of a dcmanager-api using this Keystone."""
        return (
            "[keystone_authtoken]\n"
            f"www_authenticate_uri = {self.url}\n"
            f"auth_url = {self.url}\n"
            "auth_type = password\n"
            f"username = {self.service.name}\n"
            f"password = {self.service.password}\n"
            f"project_name = {self.service.project}\n"
            "user_domain_name = Default\n"
            "project_domain_name = Default\n"
            "region_name = RegionOne\n"
        )

    def admin_call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = requests.request(
            method,
            f"{self.url}{path}",
            json=body,
            headers={"X-Auth-Token": self.token(self.admin)},
            timeout=30,
        )
        response.raise_for_status()
        return response.json() if response.content else {}

    def _id(self, kind: str, name: str) -> str:
        return self.admin_call("GET", f"/{kind}?name={name}")[kind][0]["id"]

    def add_user(self, user: User, role: str) -> None:
        """Create the user (and its project, if new) with the role on that project."""
        projects = self.admin_call("GET", f"/projects?name={user.project}")["projects"]
        if projects:
            project_id = projects[0]["id"]
        else:
            project_id = self.admin_call(
                "POST", "/projects", {"project": {"name": user.project, "domain_id": "default"}}
            )["project"]["id"]
        user_id = self.admin_call(
            "POST",
            "/users",
            {"user": {"name": user.name, "password": user.password, "domain_id": "default"}},
        )["user"]["id"]
        role_id = self._id("roles", role)
        self.admin_call("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")


def _wait_for(url: str, server: subprocess.Popen, log_path: pathlib.Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"Keystone exited early:\n{log_path.read_text()}")
        try:
            # The first request waits for a worker to load Keystone.
            if requests.get(url, timeout=30).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise AssertionError(f"Keystone did not answer {url}:\n{log_path.read_text()}")


def _start(directory: pathlib.Path, port: int) -> tuple[Keystone, int]:
    """Bootstrap a Keystone in ``directory`` and serve it on ``127.0.0.1:port``; the
    Keystone and its server's process id (for :func:`_stop`)."""
    bin_dir = ensure_installed()
    directory.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/v3"
    config = directory / "keystone.conf"
    config.write_text(
        f"[DEFAULT]\nlog_file = {directory / 'keystone.log'}\n"
        f"[database]\nconnection = sqlite:///{directory / 'keystone.db'}\n"
        "[token]\nprovider = fernet\n"
        f"[fernet_tokens]\nkey_repository = {directory / 'fernet-keys'}\n"
        f"[credential]\nkey_repository = {directory / 'credential-keys'}\n"
        "[identity]\npassword_hash_rounds = 4\n"
    )
    admin = User("admin", secrets.token_urlsafe(12), "admin")
    owner = ["--keystone-user", getpass.getuser(), "--keystone-group", grp.getgrgid(os.getgid())[0]]
    manage = [str(bin_dir / "keystone-manage"), "--config-file", str(config)]
    for args in (
        ["db_sync"],
        ["fernet_setup", *owner],
        ["credential_setup", *owner],
        [
            "bootstrap",
            "--bootstrap-username",
            admin.name,
            # One word: a generated password may begin with "-".
            f"--bootstrap-password={admin.password}",
            "--bootstrap-project-name",
            admin.project,
            "--bootstrap-region-id",
            "RegionOne",
            "--bootstrap-public-url",
            url,
            "--bootstrap-internal-url",
            url,
        ],
    ):
        result = subprocess.run(manage + args, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"keystone-manage {args[0]}: {result.stderr}"

    log_path = directory / "uwsgi.log"
    env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=str(config))
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            # Not gunicorn: Keystone would parse gunicorn's command line as its own.
            [
                str(bin_dir / "uwsgi"),
                "--http-socket",
                f"127.0.0.1:{port}",
                "--module",
                "keystone.wsgi.api:application",
                "--master",
                "--processes",
                "2",
                "--need-app",
                "--die-on-term",
                # It closes every connection: say so, or clients reuse dead ones.
                "--add-header",
                "Connection: close",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _SERVERS[server.pid] = server
    try:
        _wait_for(url, server, log_path)
        keystone = Keystone(
            url=url,
            admin=admin,
            viewer=User("viewer", secrets.token_urlsafe(12), "admin"),
            service=User("dcmanager", secrets.token_urlsafe(12), "service"),
            outsider=User("outsider", secrets.token_urlsafe(12), "tenant1"),
        )
        keystone.add_user(keystone.viewer, "reader")
        keystone.add_user(keystone.service, "service")
        keystone.add_user(keystone.outsider, "admin")
        keystone.admin_call("POST", "/regions", {"region": {"id": "SystemController"}})
    except BaseException:
        _stop(server.pid)
        raise
    return keystone, server.pid


# The uWSGI servers this process started, by process id (to reap them when they end).
_SERVERS: dict[int, subprocess.Popen] = {}


def _ended(pid: int) -> bool:
    server = _SERVERS.get(pid)
    if server is not None:
        return server.poll() is not None
    # Started by another test process: gone, or a zombie its parent has yet to reap.
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _stop(pid: int, timeout: float = 30) -> None:
    """Stop the uWSGI server ``pid`` and its workers (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while not _ended(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.1)
    _SERVERS.pop(pid, None)


@contextlib.contextmanager
def running(directory: pathlib.Path, port: int) -> Iterator[Keystone]:
    """A Keystone of this test process's own while the block runs."""
    keystone, pid = _start(directory, port)
    try:
        yield keystone
    finally:
        _stop(pid)


@contextlib.contextmanager
def _locked(path: pathlib.Path) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def shared(root: pathlib.Path) -> Iterator[Keystone]:
    """One Keystone for every test process that passes the same ``root`` (pytest-xdist's
    workers share their base temporary directory's parent): the first to ask starts it,
    the last to finish stops it. Each user holds a shared lock on ``keystone.users``
    for its session; start and stop decisions are taken under ``keystone.lock``, so a
    process that comes after the last one left starts a new Keystone."""
    state = root / "keystone.json"
    with open(root / "keystone.users", "a") as users:
        with _locked(root / "keystone.lock"):
            fcntl.flock(users, fcntl.LOCK_SH)
            try:
                if state.exists():
                    keystone = Keystone.from_dict(json.loads(state.read_text()))
                else:
                    # A directory of its own: one that ended earlier left its database.
                    directory = pathlib.Path(tempfile.mkdtemp(prefix="keystone-", dir=root))
                    keystone, pid = _start(directory, services.free_port())
                    state.write_text(json.dumps(dataclasses.asdict(keystone) | {"pid": pid}))
            except BaseException:
                fcntl.flock(users, fcntl.LOCK_UN)
                raise
        try:
            yield keystone
        finally:
            with _locked(root / "keystone.lock"):
                fcntl.flock(users, fcntl.LOCK_UN)
                try:
                    fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # others still use it
                _stop(json.loads(state.read_text())["pid"])
                state.unlink()
