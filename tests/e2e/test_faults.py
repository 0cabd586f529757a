"""Faults in the production topology (RabbitMQ + PostgreSQL, one orchestrator, three
workers, each a real process): a worker killed, roles restarted, the broker and the
database stopped and started mid-strategy (a RabbitMQ node and a PostgreSQL cluster of
the test's own, :mod:`tests.private_services`: the machine's are never touched). Every
strategy must still finish with every step complete, and no step may ever be driven by
two processes at once.

Who drove what comes from the simulator's journal (``DCMANAGER_SIMULATOR_JOURNAL``): one
line per call a process makes to a simulated subcloud.
"""

import base64
import collections
import contextlib
import functools
import json
import signal
import time

import pytest
import sqlalchemy

from tests import databases
from tests import private_services
from tests import services as test_services
from tests.e2e import deployment as e2e
from tests.functional.strategy_helpers import wait_for

PASSWORD = base64.b64encode(b"Li69nux*").decode()
SECRETS = ("Li69nux", PASSWORD)
LEASE_SECONDS = 5  # [orchestrator] step_lease_seconds in e2e.FAST_SETTINGS
SCAN_SECONDS = 0.5
END_STATES = ("complete", "failed", "aborted")


@pytest.fixture
def journal(tmp_path):
    return tmp_path / "journal.jsonl"


def _deploy(tmp_path, services, journal, database_url: str, transport_url: str):
    deployment = e2e.Deployment(
        tmp_path,
        services,
        database_url,
        transport_url,
        env={
            "DCMANAGER_SIMULATOR_JOURNAL": str(journal),
            # The simulated sites remember their operations by key, as real ones do.
            "DCMANAGER_SIMULATOR_STATE": str(tmp_path / "simulated-sites"),
        },
    )
    deployment.start_all(workers=3)
    return deployment


@pytest.fixture
def deployment(tmp_path, services, journal):
    with databases.temporary_database("postgresql", tmp_path) as url:
        yield _deploy(tmp_path, services, journal, url, test_services.require_rabbitmq())


def _records(journal) -> list[dict]:
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines()]


def _add_subclouds(deployment, count: int, delay: float) -> list[str]:
    names = [f"sc{i:02}" for i in range(1, count + 1)]
    for name in names:
        deployment.call(
            "POST", "/subclouds", {"name": name, "endpoint": f"simulated://{name}?delay={delay}"}
        )
        deployment.call("PATCH", f"/subclouds/{name}", {"management-state": "managed"})
    wait_for(
        lambda: all(
            sc["availability-status"] == "online"
            for sc in deployment.call("GET", "/subclouds")["subclouds"]
        ),
        what="the audit to bring every subcloud online",
    )
    return names


def _apply(deployment, max_parallel: int) -> None:
    deployment.call(
        "POST",
        "/sw-update-strategy",
        {"type": "prestage", "sysadmin_password": PASSWORD, "max-parallel-subclouds": max_parallel},
    )
    deployment.call("POST", "/sw-update-strategy/actions", {"action": "apply"})


def _strategy_state(deployment) -> str | None:
    """The strategy's state, or None while the API cannot be reached."""
    try:
        return deployment.call("GET", "/sw-update-strategy")["state"]
    except (OSError, e2e.APIError):
        return None


def _wait_for_end(deployment, timeout: float = 120) -> str:
    return wait_for(
        lambda: (state := _strategy_state(deployment)) in END_STATES and state,
        timeout=timeout,
        what="the strategy to end",
    )


def _assert_every_step_complete(deployment, names: list[str], **others: str) -> None:
    """Each named subcloud's step is complete; ``others`` maps the rest to their state."""
    steps = deployment.call("GET", "/sw-update-strategy/steps")["strategy-steps"]
    expected = dict.fromkeys(names, "complete") | others
    assert {step["cloud"]: step["state"] for step in steps} == expected, steps


def _assert_one_driver_at_a_time(records: list[dict], names: list[str]) -> None:
    """For each subcloud and phase, the processes that started or polled its operation
    took turns: one process's calls all come before the next one's, never interleaved."""
    calls = collections.defaultdict(list)
    for record in records:
        if record["call"] in ("start", "poll"):
            calls[record["subcloud"], record["kind"]].append(record)
    for name in names:
        for kind in ("precheck", "packages", "images"):
            assert calls[name, kind], f"no {kind} operation recorded for {name}"
    for (name, kind), rows in calls.items():
        rows.sort(key=lambda row: row["t"])
        turns = [
            pid
            for index, pid in enumerate(row["pid"] for row in rows)
            if index == 0 or rows[index - 1]["pid"] != pid
        ]
        assert len(turns) == len(set(turns)), (
            f"{name} {kind} was driven by {turns}: a process came back after another took over"
        )


def _assert_one_operation_per_phase(records: list[dict], names: list[str]) -> None:
    """Every start of a subcloud's phase, by whichever process (a new owner replaying a
    step), found the one operation its key names: none was started twice."""
    started = collections.defaultdict(set)
    for record in records:
        if record["call"] == "start":
            started[record["subcloud"], record["kind"]].add(record["op"])
    for name in names:
        for kind in ("precheck", "packages", "images"):
            assert len(started[name, kind]) == 1, (name, kind, started[name, kind])


def _wait_until_going(journal) -> None:
    """Until workers have started and polled a few operations (the audit's calls do
    not count)."""
    wait_for(
        lambda: sum(r["call"] in ("start", "poll") for r in _records(journal)) > 10,
        what="the strategy to get going",
    )


def _kill(service) -> None:
    service.process.send_signal(signal.SIGKILL)
    service.process.wait(timeout=10)


def test_worker_killed_mid_strategy(deployment, journal):
    names = _add_subclouds(deployment, 12, delay=1.5)
    _apply(deployment, max_parallel=9)
    workers = {service.process.pid: service for service in deployment.running(e2e.WORKER)}

    def a_busy_worker():
        recent = [r for r in _records(journal) if r["call"] in ("start", "poll")]
        busy = [r["pid"] for r in recent[-30:] if r["pid"] in workers]
        return busy and collections.Counter(busy).most_common(1)[0][0]

    victim = wait_for(a_busy_worker, what="a worker to be driving steps")
    _kill(workers[victim])
    killed_at = time.time()

    assert _wait_for_end(deployment) == "complete"
    _assert_every_step_complete(deployment, names)
    records = _records(journal)
    _assert_one_driver_at_a_time(records, names)
    _assert_one_operation_per_phase(records, names)

    # What the victim held was taken up by the others within the lease (plus a scan).
    held = {
        (r["subcloud"], r["kind"])
        for r in records
        if r["pid"] == victim and r["t"] < killed_at and r["call"] in ("start", "poll")
    }
    finished_by_victim = set()
    for name, kind in held:
        later = [
            r for r in records if (r["subcloud"], r["kind"]) == (name, kind) and r["t"] > killed_at
        ]
        if not later:
            finished_by_victim.add((name, kind))
            continue
        assert victim not in {r["pid"] for r in later}
        taken_after = min(r["t"] for r in later) - killed_at
        assert taken_after <= LEASE_SECONDS + SCAN_SECONDS + 5, (name, kind, taken_after)
    assert held - finished_by_victim, "the victim held nothing unfinished when it was killed"
    deployment.stop_all(secrets=SECRETS)


def test_orchestrator_api_and_manager_restarted_mid_strategy(deployment, journal):
    names = _add_subclouds(deployment, 10, delay=1.0)
    deployment.call("PATCH", "/subclouds/sc10", {"management-state": "unmanaged"})
    _apply(deployment, max_parallel=3)
    deployment.call("PATCH", "/subclouds/sc10", {"management-state": "managed"})
    deployment.call("PATCH", "/subclouds/sc10/prestage", {"sysadmin_password": PASSWORD})
    _wait_until_going(journal)

    # The orchestrator dies without warning and comes back; the API and the manager
    # are restarted the way an operator would (SIGTERM, start again).
    orchestrator = deployment.running(e2e.ORCHESTRATOR)[0]
    _kill(orchestrator)
    time.sleep(1)
    deployment.start(e2e.ORCHESTRATOR)
    deployment.restart(deployment.running(e2e.API)[0])
    deployment.restart(deployment.running(e2e.MANAGER)[0])

    assert _wait_for_end(deployment) == "complete"
    # sc10 was unmanaged when the strategy was made: skipped, prestaged on its own.
    _assert_every_step_complete(deployment, names[:-1], sc10="skipped")
    solo = wait_for(
        lambda: (
            (sc := deployment.call("GET", "/subclouds/sc10"))["prestage-status"] != "prestaging"
            and sc
        ),
        timeout=60,
        what="the standalone prestage to end",
    )
    assert solo["prestage-status"] == "complete"
    _assert_one_driver_at_a_time(_records(journal), names)
    deployment.stop_all(secrets=SECRETS)


def test_second_orchestrator_takes_over(deployment, journal):
    deployment.start(e2e.ORCHESTRATOR)
    names = _add_subclouds(deployment, 10, delay=1.0)
    _apply(deployment, max_parallel=3)
    _wait_until_going(journal)

    # The one driving the strategy holds its lease: "host:orchestrator:PID:random".
    engine = sqlalchemy.create_engine(deployment.database_url, poolclass=sqlalchemy.pool.NullPool)
    try:

        def strategy_owner():
            with engine.connect() as connection:
                query = sqlalchemy.text("SELECT owner FROM strategies")
                return connection.execute(query).scalar_one()

        owner = wait_for(strategy_owner, what="an orchestrator to drive the strategy")
    finally:
        engine.dispose()
    orchestrators = {s.process.pid: s for s in deployment.running(e2e.ORCHESTRATOR)}
    active = orchestrators.pop(int(owner.split(":")[2]))
    (standby,) = orchestrators.values()
    _kill(active)

    assert _wait_for_end(deployment) == "complete"
    _assert_every_step_complete(deployment, names)
    _assert_one_driver_at_a_time(_records(journal), names)
    assert "[strategy=1] prestage strategy ended complete" in standby.log
    deployment.stop_all(secrets=SECRETS)


@contextlib.contextmanager
def _away(stop, start):
    """The service is away for the block (``stop``); ``start`` brings it back, whatever
    happens."""
    stop()
    try:
        yield
    finally:
        start()


def _strategy_survives(deployment, journal, outage, seconds: float) -> None:
    """Apply a strategy, take a service away for ``seconds`` once it runs: it still
    completes, every step driven by one process at a time."""
    names = _add_subclouds(deployment, 10, delay=1.0)
    _apply(deployment, max_parallel=4)
    _wait_until_going(journal)

    with outage():
        time.sleep(seconds)

    assert _wait_for_end(deployment) == "complete"
    _assert_every_step_complete(deployment, names)
    _assert_one_driver_at_a_time(_records(journal), names)
    deployment.stop_all(secrets=SECRETS)


def test_rabbitmq_stopped_and_started_mid_strategy(tmp_path, services, journal, private_rabbitmq):
    with databases.temporary_database("postgresql", tmp_path) as url:
        deployment = _deploy(tmp_path, services, journal, url, private_rabbitmq.url)
        outage = functools.partial(_away, private_rabbitmq.stop_app, private_rabbitmq.start_app)
        _strategy_survives(deployment, journal, outage, seconds=5)


def test_database_restarted_mid_strategy(tmp_path, services, journal):
    with private_services.postgresql() as cluster:
        deployment = _deploy(
            tmp_path, services, journal, cluster.url, test_services.require_rabbitmq()
        )
        outage = functools.partial(_away, cluster.stop, cluster.start)
        _strategy_survives(deployment, journal, outage, seconds=3)
