"""A production-shaped deployment for end-to-end tests: every role its own process,
one config file, RabbitMQ, a shared database and (optionally) Keystone."""

import hashlib
import json
import pathlib
import signal
import urllib.error
import urllib.request
import uuid
from typing import Any

from tests import databases
from tests import keystone as test_keystone
from tests import releases as test_releases
from tests.e2e.conftest import Service
from tests.e2e.conftest import clean_env
from tests.e2e.conftest import run
from tests.e2e.conftest import stop_together
from tests.services import free_port

API = "dcmanager-api"
ORCHESTRATOR = "dcmanager-orchestrator"
WORKER = "dcmanager-orchestrator-worker"
MANAGER = "dcmanager-manager"
AUDIT = "dcmanager-audit"

# Short intervals so faults are noticed and healed within a test's patience.
FAST_SETTINGS = (
    "[orchestrator]\nscan_interval = 0.5\npoll_interval = 0.2\nheartbeat_interval = 0.5\n"
    "step_lease_seconds = 5\n"
    "[scheduler]\nsubcloud_audit_interval = 0.5\n"
)


class APIError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Deployment:
    """The API and the roles as separate processes sharing ``dcmanager.conf``.

    Processes go into ``services`` (the fixture that kills what is left at the end).
    """

    def __init__(
        self,
        tmp_path: pathlib.Path,
        services: list[Service],
        database_url: str,
        transport_url: str,
        keystone: test_keystone.Keystone | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.services = services
        self.keystone = keystone
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp_path / "dcmanager.conf"
        auth = "keystone" if keystone else "noauth"
        # A private exchange, and queues that go when the processes do (reply and fanout
        # queues, which oslo.messaging never auto-deletes, a minute after their last use).
        self.config.write_text(
            f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\nauth_strategy = {auth}\n"
            f"transport_url = {transport_url}\n"
            f"control_exchange = dcmanager-test-{uuid.uuid4().hex[:8]}\n"
            f"[api]\nbind_port = {self.port}\n"
            f"[database]\nconnection = {database_url}\n"
            "[oslo_messaging_rabbit]\namqp_auto_delete = true\nrabbit_transient_queues_ttl = 60\n"
            + FAST_SETTINGS
            + (keystone.authtoken_options() if keystone else "")
        )
        self.env = clean_env(tmp_path) | (env or {})
        self._started = 0
        databases.migrate(database_url)

    def start(self, role: str, wait: bool = True) -> Service:
        """Start a role; with ``wait``, return once it serves (a signal that arrives while
        a process still imports stops it with a traceback instead)."""
        self._started += 1
        service = Service(
            role,
            ["--config-file", str(self.config)],
            self.env,
            self.tmp_path / f"{role}-{self._started}.log",
        )
        self.services.append(service)
        if wait:
            self._wait_ready(service)
        return service

    def _wait_ready(self, service: Service) -> None:
        if service.name == API:
            service.wait_for_http(self.url + "/")
        else:
            service.wait_for_log(f"{service.name} ")
            service.wait_for_log(" running (host ")

    def start_all(self, workers: int = 2) -> None:
        """Start every role (all at once), then put release 25.09 in the release store."""
        started = [
            self.start(role, wait=False)
            for role in (ORCHESTRATOR, *[WORKER] * workers, MANAGER, AUDIT, API)
        ]
        for service in started:
            self._wait_ready(service)
        self.upload_release("25.09")

    def upload_release(self, version: str) -> None:
        """A one-file release in the store, through the API (as the admin)."""
        token = self.keystone.token(self.keystone.admin) if self.keystone else None
        data = test_releases.package(version)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        headers = {"Content-Type": "application/octet-stream"}
        if token:
            headers["X-Auth-Token"] = token
        put = urllib.request.Request(
            f"{self.url}/v1.0/blobs/{digest}", data=data, method="PUT", headers=headers
        )
        with urllib.request.urlopen(put, timeout=30):
            pass
        files = [{"path": f"Packages/stx-{version}.deb", "size": len(data), "digest": digest}]
        self.call("POST", "/releases", {"version": version, "files": files}, token=token)

    def running(self, role: str) -> list[Service]:
        return [s for s in self.services if s.name == role and s.process.poll() is None]

    def restart(self, service: Service) -> Service:
        """Stop a service gracefully and start the same role again."""
        assert service.stop() == 0, service.log
        return self.start(service.name)

    def stop_all(self, secrets: tuple[str, ...] = ()) -> None:
        """Stop what still runs; every log must be free of tracebacks and secrets.

        Services killed on purpose (``kill -9``) are left out of the exit-status check.
        """
        ended = [service for service in self.services if service.process.poll() is not None]
        stop_together(self.services)
        for service in self.services:
            if service in ended and service.process.returncode != -signal.SIGKILL:
                assert service.process.returncode == 0, service.log
            assert "Traceback" not in service.log, service.log
            for secret in secrets:
                assert secret not in service.log, f"{secret!r} in {service.log_path}"

    def call(
        self, method: str, path: str, body: dict | None = None, token: str | None = None
    ) -> Any:
        """A request to ``/v1.0/...``; the decoded answer.

        :raises APIError: the API answered 4xx or 5xx.
        """
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        request = urllib.request.Request(
            f"{self.url}/v1.0{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise APIError(exc.code, json.loads(exc.read() or b"null")) from None

    def cli(self, *args: str, env: dict[str, str] | None = None):
        """Run the ``dcmanager`` CLI (``env`` adds ``OS_*`` or ``DCMANAGER_URL``)."""
        return run("dcmanager", *args, env=self.env | (env or {}))
