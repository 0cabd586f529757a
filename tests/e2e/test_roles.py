"""Every role as its own process, talking over RabbitMQ: a strategy and a standalone
prestage run to the end."""

import base64
import json
import signal
import time

import pytest

from tests import databases
from tests import services as test_services
from tests.e2e import deployment as e2e
from tests.e2e.conftest import clean_env
from tests.e2e.conftest import run
from tests.functional.strategy_helpers import wait_for

PASSWORD = base64.b64encode(b"Li69nux*").decode()


@pytest.fixture(params=databases.BACKENDS)
def database_url(request, tmp_path):
    with databases.temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def deployment(tmp_path, services, database_url):
    """API and every role (two workers) as separate processes sharing a config file,
    RabbitMQ and a database (SQLite file, PostgreSQL, MariaDB)."""
    deployment = e2e.Deployment(tmp_path, services, database_url, test_services.require_rabbitmq())
    deployment.start_all(workers=2)
    yield deployment
    deployment.stop_all(secrets=("Li69nux", PASSWORD))


def strategy_and_standalone_prestage(deployment) -> list:
    """Run a strategy over ten subclouds, then a standalone prestage of another, and
    check that both complete; every answer of the API, in order."""
    answers = []

    def call(*args):
        answers.append(deployment.call(*args))
        return answers[-1]

    names = [f"sc{i}" for i in range(1, 11)]
    for name in names + ["solo"]:
        call("POST", "/subclouds", {"name": name, "endpoint": f"simulated://{name}?delay=0.2"})
        call("PATCH", f"/subclouds/{name}", {"management-state": "managed"})
    wait_for(
        lambda: all(
            sc["availability-status"] == "online" for sc in call("GET", "/subclouds")["subclouds"]
        ),
        what="the audit process to bring every subcloud online",
    )
    call("PATCH", "/subclouds/solo", {"management-state": "unmanaged"})

    call(
        "POST",
        "/sw-update-strategy",
        {"type": "prestage", "sysadmin_password": PASSWORD, "max-parallel-subclouds": 3},
    )
    call("POST", "/sw-update-strategy/actions", {"action": "apply"})
    final = wait_for(
        lambda: (
            (s := call("GET", "/sw-update-strategy"))["state"] in ("complete", "failed", "aborted")
            and s
        ),
        timeout=60,
        what="the strategy to end",
    )
    call("PATCH", "/subclouds/solo", {"management-state": "managed"})
    standalone = call("PATCH", "/subclouds/solo/prestage", {"sysadmin_password": PASSWORD})
    solo = wait_for(
        lambda: (sc := call("GET", "/subclouds/solo"))["prestage-status"] != "prestaging" and sc,
        timeout=60,
        what="the standalone prestage to end",
    )

    assert final["state"] == "complete"
    steps = call("GET", "/sw-update-strategy/steps")["strategy-steps"]
    assert {step["cloud"]: step["state"] for step in steps if step["cloud"] != "solo"} == {
        name: "complete" for name in names
    }
    assert standalone["prestage-status"] == "prestaging"
    assert solo["prestage-status"] == "complete"
    # Both workers took part.
    worker_logs = [s.log for s in deployment.services if s.name == e2e.WORKER]
    assert all("ended complete" in log for log in worker_logs)
    return answers


def test_strategy_and_standalone_prestage_across_processes(deployment):
    answers = strategy_and_standalone_prestage(deployment)
    assert "Li69nux" not in json.dumps(answers) and PASSWORD not in json.dumps(answers)


def test_roles_refuse_the_in_process_transport(tmp_path):
    config = tmp_path / "dcmanager.conf"
    config.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\ntransport_url = fake:/\n")
    env = clean_env(tmp_path)
    assert run("dcmanager-manage", "--config-file", str(config), "db_sync", env=env).returncode == 0

    for role in ("dcmanager-orchestrator", "dcmanager-orchestrator-worker", "dcmanager-manager"):
        result = run(role, "--config-file", str(config), env=env)
        assert result.returncode == 1
        assert "needs a shared transport: set [DEFAULT] transport_url = rabbit://" in result.stderr


# Each role with a signal it must stop on; each pair is tried three times.
SIGNALS = [
    (e2e.AUDIT, signal.SIGINT),
    (e2e.AUDIT, signal.SIGTERM),
    (e2e.WORKER, signal.SIGTERM),
    (e2e.ORCHESTRATOR, signal.SIGINT),
]


def test_a_role_stops_on_every_signal(tmp_path, services):
    """Under eventlet a signal lands in whichever green thread runs: it must stop the
    service every time, never kill a loop and leave the process up. (One API and
    database for every pair: a process start costs a second of CPU.)"""
    with databases.temporary_database("sqlite", tmp_path) as url:
        deployment = e2e.Deployment(tmp_path, services, url, test_services.require_rabbitmq())
        deployment.start(e2e.API)
        for number in range(20):
            deployment.call(
                "POST", "/subclouds", {"name": f"sc{number}", "endpoint": "simulated://x"}
            )
        for role, sig in SIGNALS:
            for _ in range(3):
                service = deployment.start(role)
                wait_for(lambda s=service: "running" in s.log, what=f"{role} to start")
                time.sleep(0.5)
                stopped = service.stop(sig, timeout=20)
                assert stopped == 0, (role, sig.name, service.log)
                assert "Traceback" not in service.log, (role, sig.name, service.log)
        deployment.stop_all()
