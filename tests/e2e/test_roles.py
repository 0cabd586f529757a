"""Every role as its own process, talking over RabbitMQ: a strategy and a standalone
prestage run to the end."""

import base64
import json
import urllib.request
import uuid

import pytest

from tests import databases
from tests import services as test_services
from tests.e2e.conftest import Service
from tests.e2e.conftest import clean_env
from tests.e2e.conftest import free_port
from tests.e2e.conftest import run
from tests.functional.strategy_helpers import wait_for

PASSWORD = base64.b64encode(b"Li69nux*").decode()
ROLES = (
    "dcmanager-orchestrator",
    "dcmanager-orchestrator-worker",
    "dcmanager-orchestrator-worker",
    "dcmanager-manager",
    "dcmanager-audit",
)


def _call(method: str, url: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(params=databases.BACKENDS)
def database_url(request, tmp_path):
    with databases.temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def deployment(tmp_path, services, database_url):
    """API and every role as separate processes sharing a config file, RabbitMQ and a
    database (SQLite file, PostgreSQL, MariaDB)."""
    rabbit = test_services.require_rabbitmq()
    port = free_port()
    config = tmp_path / "dcmanager.conf"
    # A private exchange, and queues that go when the processes do.
    config.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\nauth_strategy = noauth\n"
        f"transport_url = {rabbit}\ncontrol_exchange = dcmanager-test-{uuid.uuid4().hex[:8]}\n"
        f"[api]\nbind_port = {port}\n"
        f"[database]\nconnection = {database_url}\n"
        "[orchestrator]\nscan_interval = 0.5\npoll_interval = 0.2\nheartbeat_interval = 0.5\n"
        "step_lease_seconds = 5\n"
        "[scheduler]\nsubcloud_audit_interval = 0.5\n"
        "[oslo_messaging_rabbit]\namqp_auto_delete = true\n"
    )
    env = clean_env(tmp_path)
    synced = run("dcmanager-manage", "--config-file", str(config), "db_sync", env=env)
    assert synced.returncode == 0, synced.stderr
    api = Service("dcmanager-api", ["--config-file", str(config)], env, tmp_path / "api.log")
    services.append(api)
    for number, role in enumerate(ROLES):
        services.append(
            Service(role, ["--config-file", str(config)], env, tmp_path / f"{role}-{number}.log")
        )
    api.wait_for_http(f"http://127.0.0.1:{port}/")
    yield f"http://127.0.0.1:{port}/v1.0", services
    for service in services:
        assert service.stop() == 0, service.log
        assert "Traceback" not in service.log, service.log
        assert "Li69nux" not in service.log and PASSWORD not in service.log


def test_strategy_and_standalone_prestage_across_processes(deployment):
    api, services = deployment
    names = [f"sc{i}" for i in range(1, 11)]
    for name in names + ["solo"]:
        _call(
            "POST", f"{api}/subclouds", {"name": name, "endpoint": f"simulated://{name}?delay=0.2"}
        )
        _call("PATCH", f"{api}/subclouds/{name}", {"management-state": "managed"})
    wait_for(
        lambda: all(
            sc["availability-status"] == "online"
            for sc in _call("GET", f"{api}/subclouds")["subclouds"]
        ),
        what="the audit process to bring every subcloud online",
    )
    _call("PATCH", f"{api}/subclouds/solo", {"management-state": "unmanaged"})

    _call(
        "POST",
        f"{api}/sw-update-strategy",
        {"type": "prestage", "sysadmin_password": PASSWORD, "max-parallel-subclouds": 3},
    )
    _call("POST", f"{api}/sw-update-strategy/actions", {"action": "apply"})
    final = wait_for(
        lambda: (
            (s := _call("GET", f"{api}/sw-update-strategy"))["state"]
            in ("complete", "failed", "aborted")
            and s
        ),
        timeout=60,
        what="the strategy to end",
    )
    _call("PATCH", f"{api}/subclouds/solo", {"management-state": "managed"})
    standalone = _call("PATCH", f"{api}/subclouds/solo/prestage", {"sysadmin_password": PASSWORD})
    solo = wait_for(
        lambda: (
            (sc := _call("GET", f"{api}/subclouds/solo"))["prestage-status"] != "prestaging" and sc
        ),
        timeout=60,
        what="the standalone prestage to end",
    )

    assert final["state"] == "complete"
    steps = _call("GET", f"{api}/sw-update-strategy/steps")["strategy-steps"]
    assert {step["cloud"]: step["state"] for step in steps if step["cloud"] != "solo"} == {
        name: "complete" for name in names
    }
    assert standalone["prestage-status"] == "prestaging"
    assert solo["prestage-status"] == "complete"
    # Both workers took part.
    worker_logs = [s.log for s in services if s.name == "dcmanager-orchestrator-worker"]
    assert all("ended complete" in log for log in worker_logs)


def test_roles_refuse_the_in_process_transport(tmp_path):
    config = tmp_path / "dcmanager.conf"
    config.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\ntransport_url = fake:/\n")
    env = clean_env(tmp_path)
    assert run("dcmanager-manage", "--config-file", str(config), "db_sync", env=env).returncode == 0

    for role in ("dcmanager-orchestrator", "dcmanager-orchestrator-worker", "dcmanager-manager"):
        result = run(role, "--config-file", str(config), env=env)
        assert result.returncode == 1
        assert "needs a shared transport: set [DEFAULT] transport_url = rabbit://" in result.stderr
