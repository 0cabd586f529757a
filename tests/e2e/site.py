"""A system controller and real subcloud agents on one machine, for the agent tests.

The controller is ``dcmanager-all`` (SQLite, in-process messaging, noauth towards the
operator); its workers reach each ``dcmanager-agent`` process with a shared token. The
agents fetch release files through a :class:`~tests.e2e.proxy.FaultProxy` in front of
the controller's API (``[prestage] repository_url``), and images from a real registry.
"""

import base64
import json
import pathlib
import signal
import urllib.error
import urllib.request
from typing import Any

import requests

from dcmanager.agent import passwords
from tests import keystone as test_keystone
from tests.e2e.conftest import STARTUP_TIMEOUT
from tests.e2e.conftest import Service
from tests.e2e.conftest import clean_env
from tests.e2e.conftest import run
from tests.e2e.conftest import stop_together
from tests.e2e.proxy import FaultProxy
from tests.functional.strategy_helpers import wait_for
from tests.services import free_port

PASSWORD = "Li69nux*"
AGENT_TOKEN = "agent-token-0123456789abcdef"
END_STATES = ("complete", "failed", "aborted")
FAST = (
    "[orchestrator]\nscan_interval = 0.5\npoll_interval = 0.2\nheartbeat_interval = 0.5\n"
    "[scheduler]\nsubcloud_audit_interval = 0.5\n"
    # An agent restarted on purpose must not count as offline meanwhile.
    "offline_after_failures = 20\n"
)
# One hash for every agent: scrypt is slow on purpose.
_PASSWORD_HASH = passwords.hash_password(PASSWORD.encode())


class APIError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Agent:
    def __init__(
        self, site: "Site", name: str, extra: str = "", tls: tuple[str, str] | None = None
    ) -> None:
        """
        :param tls: (certificate, key) files: the agent serves HTTPS.
        """
        self.site = site
        self.name = name
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.cafile = tls[0] if tls else None
        if tls:
            extra += f"cert_file = {tls[0]}\nkey_file = {tls[1]}\n"
        self.state = site.tmp_path / name
        self.software_dir = site.tmp_path / f"{name}-software"
        self.platform_backup_dir = site.tmp_path / f"{name}-platform-backup"
        self.config = site.tmp_path / f"{name}.conf"
        self.config.write_text(
            f"[agent]\nbind_port = {self.port}\nstate_dir = {self.state}\n"
            f"sysadmin_password_hash = {_PASSWORD_HASH}\n"
            f"auth_strategy = token\nauth_token = {AGENT_TOKEN}\n"
            f"software_dir = {self.software_dir}\n"
            f"platform_backup_dir = {self.platform_backup_dir}\n"
            f"repository_urls = {site.proxy.url}\n"
            + (f"registry_urls = {site.registry_url}\n" if site.registry_url else "")
            + "request_timeout = 5\n"
            + extra
        )
        self.service: Service | None = None
        self._starts = 0

    def start(self) -> None:
        self._starts += 1
        self.service = Service(
            "dcmanager-agent",
            ["--config-file", str(self.config)],
            self.site.env,
            self.site.tmp_path / f"{self.name}-{self._starts}.log",
        )
        self.site.services.append(self.service)
        wait_for(self._answers, timeout=STARTUP_TIMEOUT, what=f"{self.name} to answer")

    def _answers(self) -> bool:
        if self.service.process.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.service.log}")
        try:
            return requests.get(self.url + "/", verify=self.cafile or True, timeout=2).ok
        except requests.ConnectionError:
            return False

    def kill(self) -> None:
        self.service.process.send_signal(signal.SIGKILL)
        self.service.process.wait()

    def release_dir(self, version: str) -> pathlib.Path:
        return self.state / "releases" / version

    def blob(self, digest: str) -> pathlib.Path:
        hex_digest = digest.split(":", 1)[1]
        return self.state / "blobs" / "sha256" / hex_digest[:2] / hex_digest

    def operations(self) -> list[dict]:
        directory = self.state / "operations"
        return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


class Site:
    def __init__(
        self,
        tmp_path: pathlib.Path,
        services: list[Service],
        registry_url: str | None,
        prestage: str = "",
        subcloud_agent: str | None = None,
        keystone: test_keystone.Keystone | None = None,
    ) -> None:
        """
        :param prestage: more ``[prestage]`` options.
        :param subcloud_agent: the ``[subcloud_agent]`` options (default: the shared
            token every :class:`Agent` takes).
        :param keystone: the controller's API checks tokens with this Keystone (the
            test calls it as the admin); otherwise it runs with noauth.
        """
        self.keystone = keystone
        self.registry_url = registry_url
        self.tmp_path = tmp_path
        self.services = services
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proxy = FaultProxy(self.url)
        self.env = clean_env(tmp_path)
        self.config = tmp_path / "dcmanager.conf"
        self.config.write_text(
            f"[DEFAULT]\nstate_path = {tmp_path / 'controller'}\n"
            f"auth_strategy = {'keystone' if keystone else 'noauth'}\n"
            f"[api]\nbind_port = {self.port}\n"
            + FAST
            + f"[prestage]\nrepository_url = {self.proxy.url}\n"
            + (f"registry_url = {registry_url}\n" if registry_url else "")
            + prestage
            + "[subcloud_agent]\n"
            + (
                subcloud_agent
                or "auth_type = admin_token\nendpoint = http://unused.invalid\n"
                f"token = {AGENT_TOKEN}\n"
            )
            + (keystone.authtoken_options() if keystone else "")
        )
        self.controller: Service | None = None
        self.agents: list[Agent] = []

    def start(self) -> None:
        self.controller = Service(
            "dcmanager-all",
            ["--config-file", str(self.config)],
            self.env,
            self.tmp_path / "dcmanager-all.log",
        )
        self.services.append(self.controller)
        self.controller.wait_for_http(self.url + "/")

    def stop(self) -> None:
        """Stop every process gracefully; no log may hold a traceback or the password."""
        self.proxy.stop()
        stop_together(self.services)
        for service in self.services:
            assert "Traceback" not in service.log, service.log
            assert PASSWORD not in service.log, service.log_path

    def add_agents(
        self, count: int, extra: str = "", tls: tuple[str, str] | None = None
    ) -> list[Agent]:
        new = []
        for _ in range(count):
            agent = Agent(self, f"agent{len(self.agents) + 1}", extra, tls)
            agent.start()
            self.agents.append(agent)
            new.append(agent)
            self.call("POST", "/subclouds", {"name": agent.name, "endpoint": agent.url})
            self.call("PATCH", f"/subclouds/{agent.name}", {"management-state": "managed"})
        wait_for(
            lambda: all(
                sc["availability-status"] == "online"
                for sc in self.call("GET", "/subclouds")["subclouds"]
            ),
            what="the audit to bring the agents' subclouds online",
        )
        return new

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/v1.0{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json"}
            | ({"X-Auth-Token": self.keystone.token(self.keystone.admin)} if self.keystone else {}),
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise APIError(exc.code, json.loads(exc.read() or b"null")) from None

    def cli(self, *args: str):
        env = self.env | {"DCMANAGER_URL": f"{self.url}/v1.0"}
        if self.keystone:
            env |= self.keystone.admin.environ(self.keystone.url)
        result = run("dcmanager", *args, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def upload(self, version: str, packages: pathlib.Path, images: list[str] = ()) -> None:
        args = ["release", "upload", "--version", version, "--packages", str(packages)]
        if images:
            image_list = self.tmp_path / f"images-{version}.txt"
            image_list.write_text("".join(f"{name}\n" for name in images))
            args += ["--image-list", str(image_list)]
        self.cli(*args)

    def _no_strategy(self) -> bool:
        try:
            self.call("GET", "/sw-update-strategy")
        except APIError as exc:
            return exc.status == 404
        return False

    def apply(self, release: str, password: str = PASSWORD, **options: Any) -> None:
        """Replace the last strategy with a prestage strategy of ``release`` (and
        ``options`` in its body), applied."""
        try:
            self.call("DELETE", "/sw-update-strategy")
        except APIError as exc:
            assert exc.status == 404, exc
        wait_for(self._no_strategy, what="the last strategy to be deleted")
        self.call(
            "POST",
            "/sw-update-strategy",
            {
                "type": "prestage",
                "release": release,
                "sysadmin_password": base64.b64encode(password.encode()).decode(),
                "max-parallel-subclouds": 10,
            }
            | options,
        )
        self.call("POST", "/sw-update-strategy/actions", {"action": "apply"})

    def wait_for_end(self, timeout: float = 120) -> dict:
        """The strategy's steps by subcloud, once it ended."""
        wait_for(
            lambda: self.call("GET", "/sw-update-strategy")["state"] in END_STATES,
            timeout=timeout,
            what="the strategy to end",
        )
        steps = self.call("GET", "/sw-update-strategy/steps")["strategy-steps"]
        return {step["cloud"]: step for step in steps}

    def prestage(
        self, release: str, password: str = PASSWORD, timeout: float = 120, **options: Any
    ) -> dict:
        """Apply a prestage strategy and wait for its end; its steps by subcloud."""
        self.apply(release, password, **options)
        return self.wait_for_end(timeout)
