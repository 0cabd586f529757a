"""A real Keystone for the tests: installed from PyPI, bootstrapped, served on 127.0.0.1.

Keystone and its WSGI server (uWSGI) go into their own virtualenv under ``.test-services/``
(ignored by git; made once, reused while the pinned versions stay the same), so they
cannot change the versions dcmanager itself is tested with. Each test session gets a
fresh Keystone: SQLite database, fernet tokens, a ``RegionOne`` catalog, and the users
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
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import requests

from tests import services

REQUIREMENTS = ("keystone==30.0.0", "uWSGI==2.0.31")
VENV = pathlib.Path(__file__).resolve().parent.parent / ".test-services" / "keystone"
INSTALL_TIMEOUT = 600
START_TIMEOUT = 60


def _installed_marker() -> pathlib.Path:
    return VENV / "dcmanager-requirements.txt"


def ensure_installed() -> pathlib.Path:
    """The virtualenv's bin directory, installing Keystone into it first if needed."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    wanted = "\n".join(REQUIREMENTS)
    with open(VENV.parent / "keystone.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = _installed_marker()
        if not marker.exists() or marker.read_text() != wanted:
            commands = (
                [sys.executable, "-m", "venv", "--clear", str(VENV)],
                [str(VENV / "bin" / "pip"), "install", "-q", *REQUIREMENTS],
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
    return VENV / "bin"


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


@contextlib.contextmanager
def running(directory: pathlib.Path, port: int) -> Iterator[Keystone]:
    """Bootstrap a Keystone in ``directory`` and serve it on ``127.0.0.1:port``."""
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
        yield keystone
    finally:
        # uWSGI's workers go with their master (its own process group).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
