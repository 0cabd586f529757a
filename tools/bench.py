"""Benchmark of a strategy (prestage or app-update), on the embedded default or on the
service topology.

For each run: a fresh database and real dcmanager processes; through the API, N
simulated subclouds (zero delay) registered managed in bulk requests of 5000, and once
the audit found them all online, create a strategy with max-parallel M, apply it, and
poll until it ends; then SIGTERM to every process. ``--type prestage`` (default)
prestages a one-file release; ``--type app-update`` updates an application from 1.0.0
(applied at every site) to 2.0.0, both uploaded to the catalog. Printed per run and as
the median:

- register: time of the bulk registration requests (before the audit's first round);
- create: time of the create request (all N steps written);
- wall: time from apply to the final state;
- transitions/s: step state changes (5 per completed step: prestage's four phases, or
  an update's precheck, upload, apply, cleanup) per second of wall time;
- peak RSS of the largest dcmanager process;
- stop: from SIGTERM until the last process exited;
- ETA error: how far the strategy's estimated end was from its real end at 25 %, 50 %
  and 75 % of the run (``tools/eta_error.py``; give the sites ``--delays`` so that the
  run lasts long enough to tell);
- floor: the time the same number of single-row committed UPDATEs take on the same
  database, the least a design that commits each transition alone would need.

Topologies:

``embedded`` (default)
    one ``dcmanager-all`` on a SQLite file, in-process messaging.
``services``
    ``dcmanager-api``, ``-orchestrator``, ``-manager``, ``-audit`` and ``--workers``
    ``dcmanager-orchestrator-worker`` processes, RabbitMQ (``--transport-url``) and
    PostgreSQL or MySQL (``--database-server``: a URL of the server; each run creates its
    own database there and drops it afterwards).

Usage:
  python tools/bench.py [--subclouds 5000] [--max-parallel 250] [--runs 3]
  python tools/bench.py --type app-update
  python tools/bench.py --subclouds 1000 --max-parallel 100 --delays 0.2,0.5,1,1.5
  python tools/bench.py --topology services --workers 3 --max-parallel 1000
"""

import argparse
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import demo_apps
import eta_error
import sqlalchemy

BIN = os.path.dirname(sys.executable)
# initial -> precheck -> preparing -> packages -> images -> complete, or
# initial -> app-update-precheck -> uploading -> applying -> cleanup -> complete.
TRANSITIONS_PER_STEP = 5
PASSWORD = base64.b64encode(b"bench-password").decode()
STARTUP_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(method: str, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=120) as response:
        return json.loads(response.read() or b"null")


def upload_release(api: str, version: str = "25.09") -> None:
    """Put a one-file release in the store: strategies prestage a stored release."""
    data = f"packages of {version}\n".encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    put = urllib.request.Request(
        f"{api}/blobs/{digest}",
        data=data,
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(put, timeout=120):
        pass
    request(
        "POST",
        f"{api}/releases",
        {"version": version, "files": [{"path": "p.deb", "size": len(data), "digest": digest}]},
    )


def upload_app(api: str, state: str) -> None:
    """Versions 1.0.0 and 2.0.0 of the demo application in the catalog."""
    for version, charts in (
        ("1.0.0", (("demo-api", "0.1.0"),)),
        ("2.0.0", (("demo-api", "0.2.0"),)),
    ):
        with open(demo_apps.make_app(state, version, charts), "rb") as tarball:
            post = urllib.request.Request(
                f"{api}/apps",
                data=tarball.read(),
                method="POST",
                headers={"Content-Type": "application/octet-stream"},
            )
        with urllib.request.urlopen(post, timeout=120):
            pass


def populate_app(url: str) -> None:
    """Every subcloud runs demo 1.0.0, as an apply would have left it."""
    releases = json.dumps(
        [
            {
                "release": "demo-api",
                "namespace": "demo",
                "chart": "demo-api",
                "chart_version": "0.1.0",
                "revision": 1,
            }
        ]
    )
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO subcloud_apps (subcloud_id, name, version, status, releases, "
                "phases, created_at) SELECT id, 'demo', '1.0.0', 'applied', :releases, "
                ":phases, created_at FROM subclouds"
            ),
            {"releases": releases, "phases": json.dumps({"install": "done"})},
        )
    engine.dispose()


def create_body(args) -> dict:
    if args.type == "app-update":
        return {"type": "app-update", "app": "demo", "max-parallel-subclouds": args.max_parallel}
    return {
        "type": "prestage",
        "sysadmin_password": PASSWORD,
        "max-parallel-subclouds": args.max_parallel,
    }


@contextlib.contextmanager
def database(topology: str, server: str, state: str) -> Iterator[str]:
    """The URL of a new, empty database for one run (dropped afterwards on a server)."""
    if topology == "embedded":
        yield f"sqlite:///{state}/dcmanager.sqlite"
        return
    name = f"dcmbench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        yield sqlalchemy.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


BULK = 5000  # the most one bulk registration request takes


def register(api: str, count: int, delays: list[float]) -> float:
    """Register N managed simulated subclouds through the bulk API, each phase of
    subcloud i taking ``delays[i % len(delays)]`` seconds; the seconds it took."""
    started = time.perf_counter()
    for first in range(1, count + 1, BULK):
        entries = []
        for i in range(first, min(first + BULK, count + 1)):
            delay = delays[i % len(delays)]
            entries.append(
                {
                    "name": f"sc{i:05d}",
                    "endpoint": f"simulated://sc{i:05d}" + (f"?delay={delay}" if delay else ""),
                }
            )
        request("POST", f"{api}/subclouds/bulk", {"subclouds": entries, "manage": True})
    return time.perf_counter() - started


def wait_online(api: str, count: int, timeout: float) -> None:
    """Until the audit found every subcloud online (the paged list, 5000 at a time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        online, marker = 0, 0
        while True:
            page = request("GET", f"{api}/subclouds?limit={BULK}&marker={marker}")["subclouds"]
            online += sum(sc["availability-status"] == "online" for sc in page)
            if len(page) < BULK:
                break
            marker = page[-1]["id"]
        if online == count:
            return
        time.sleep(1)
    raise SystemExit(f"the audit did not find the {count} subclouds online in {timeout:.0f}s")


def stop(processes: list[subprocess.Popen]) -> float:
    """SIGTERM to every process; the seconds until the last one exited."""
    started = time.perf_counter()
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise SystemExit(f"{process.args[0]} did not stop within 60 s of SIGTERM") from None
    return time.perf_counter() - started


def floor_seconds(url: str, updates: int) -> float:
    """Single-row UPDATEs, each committed alone, on the run's database."""
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM strategy_steps")]
        statement = sqlalchemy.text("UPDATE strategy_steps SET details = :d WHERE id = :i")
        started = time.perf_counter()
        for n in range(updates):
            conn.execute(statement, {"d": str(n), "i": ids[n % len(ids)]})
            conn.commit()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_config(state: str, url: str, port: int, args) -> str:
    path = os.path.join(state, "dcmanager.conf")
    lines = [
        "[DEFAULT]",
        f"state_path = {state}",
        "auth_strategy = noauth",
        "[api]",
        f"bind_port = {port}",
        "[database]",
        f"connection = {url}",
    ]
    if args.topology == "services":
        lines[3:3] = [
            f"transport_url = {args.transport_url}",
            # A private exchange per run; queues go when the processes do.
            f"control_exchange = dcmanager-bench-{uuid.uuid4().hex[:8]}",
        ]
        lines += ["[oslo_messaging_rabbit]", "amqp_auto_delete = true"]
    with open(path, "w") as config:
        config.write("\n".join(lines) + "\n")
    return path


def start(name: str, config: str, state: str, number: int = 0) -> subprocess.Popen:
    log = open(os.path.join(state, f"{name}-{number}.log"), "w")
    return subprocess.Popen(
        [os.path.join(BIN, name), "--config-file", config], stdout=log, stderr=subprocess.STDOUT
    )


def wait_for_api(api: str, processes: list[subprocess.Popen], state: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            request("GET", f"{api}/subcloud-groups")
            return
        except (urllib.error.URLError, ConnectionError):
            exited = any(p.poll() is not None for p in processes)
            if exited or time.monotonic() > deadline:
                raise SystemExit(f"dcmanager did not start; see logs in {state}") from None
            time.sleep(0.1)


def apply_strategy(api: str, args) -> dict:
    """Create and apply the strategy, poll it to its end; its figures."""
    started = time.perf_counter()
    request("POST", f"{api}/sw-update-strategy", create_body(args))
    create = time.perf_counter() - started

    started = time.perf_counter()
    applied_at, samples = time.time(), []
    request("POST", f"{api}/sw-update-strategy/actions", {"action": "apply"})
    while True:
        strategy = request("GET", f"{api}/sw-update-strategy")
        if strategy["state"] in ("complete", "failed", "aborted"):
            break
        if strategy.get("eta"):
            samples.append((time.time(), eta_error.epoch(strategy["eta"])))
        time.sleep(0.05)
    wall = time.perf_counter() - started

    steps = request("GET", f"{api}/sw-update-strategy/steps")["strategy-steps"]
    ended = eta_error.last_finished(steps) or time.time()
    return {
        "state": strategy["state"],
        "completed": sum(step["state"] == "complete" for step in steps),
        "create_s": create,
        "wall_s": wall,
        "eta": eta_error.describe(samples, applied_at, ended),
        "eta_errors": eta_error.errors(samples, applied_at, ended),
    }


def one_run(args, keep: bool) -> dict:
    state = tempfile.mkdtemp(prefix="dcmanager-bench-")
    port = free_port()
    api = f"http://127.0.0.1:{port}/v1.0"
    with database(args.topology, args.database_server, state) as url:
        config = write_config(state, url, port, args)
        subprocess.run(
            [os.path.join(BIN, "dcmanager-manage"), "--config-file", config, "db_sync"],
            check=True,
            capture_output=True,
        )
        if args.topology == "embedded":
            processes = [start("dcmanager-all", config, state)]
        else:
            roles = ["dcmanager-api", "dcmanager-orchestrator", "dcmanager-manager"]
            roles += ["dcmanager-audit"] + ["dcmanager-orchestrator-worker"] * args.workers
            processes = [start(role, config, state, n) for n, role in enumerate(roles)]
        try:
            wait_for_api(api, processes, state)
            time.sleep(1 if args.topology == "services" else 0)  # RPC servers connecting
            registered = register(api, args.subclouds, args.delays)
            wait_online(api, args.subclouds, timeout=300)
            if args.type == "app-update":
                upload_app(api, state)
                populate_app(url)
            else:
                upload_release(api)
            result = apply_strategy(api, args)
            rss = max(peak_rss_mb(p.pid) for p in processes)
        finally:
            stopped = stop(processes)
        transitions = result["completed"] * TRANSITIONS_PER_STEP
        floor = floor_seconds(url, transitions)
    if not keep:
        shutil.rmtree(state, ignore_errors=True)
    return result | {
        "register_s": registered,
        "transitions_per_s": transitions / result["wall_s"],
        "peak_rss_mb": rss,
        "stop_s": stopped,
        "floor_s": floor,
    }


def add_topology_arguments(parser: argparse.ArgumentParser) -> None:
    """``--topology`` and, for the services topology, the broker and database server."""
    parser.add_argument("--topology", choices=("embedded", "services"), default="embedded")
    parser.add_argument(
        "--transport-url", default="rabbit://guest:guest@127.0.0.1:5672/", help="services"
    )
    parser.add_argument(
        "--database-server",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        help="services: a database server URL (PostgreSQL or MySQL)",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subclouds", type=int, default=5000, help="N (default 5000)")
    parser.add_argument("--max-parallel", type=int, default=250, help="M (default 250)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--type", choices=("prestage", "app-update"), default="prestage")
    add_topology_arguments(parser)
    parser.add_argument("--workers", type=int, default=1, help="workers (services topology)")
    parser.add_argument(
        "--delays",
        type=lambda text: [float(value) for value in text.split(",")],
        default=[0.0],
        help="seconds each simulated phase takes, comma-separated, given to the subclouds "
        "in turn (default 0)",
    )
    parser.add_argument("--keep", action="store_true", help="keep each run's state directory")
    args = parser.parse_args()

    where = (
        "dcmanager-all, SQLite"
        if args.topology == "embedded"
        else f"{args.workers} worker(s), RabbitMQ, "
        f"{sqlalchemy.make_url(args.database_server).get_backend_name()}"
    )
    print(f"{args.type}: N={args.subclouds} M={args.max_parallel} runs={args.runs} ({where})")
    runs = []
    for number in range(1, args.runs + 1):
        result = one_run(args, args.keep)
        runs.append(result)
        print(
            f"run {number}: {result['state']} ({result['completed']} complete), "
            f"register {result['register_s']:.1f}s, "
            f"create {result['create_s']:.2f}s, wall {result['wall_s']:.2f}s, "
            f"{result['transitions_per_s']:.0f} transitions/s, "
            f"peak RSS {result['peak_rss_mb']:.0f} MB, stop {result['stop_s']:.1f}s, "
            f"floor (same number of single-row commits) {result['floor_s']:.2f}s",
            flush=True,
        )
        print(f"  {result['eta']}", flush=True)
    numbers = [key for key in runs[0] if key not in ("state", "eta", "eta_errors")]
    median = {key: statistics.median(r[key] for r in runs) for key in numbers}
    print(
        f"median: register {median['register_s']:.1f}s, create {median['create_s']:.2f}s, "
        f"wall {median['wall_s']:.2f}s, {median['transitions_per_s']:.0f} transitions/s, "
        f"peak RSS {median['peak_rss_mb']:.0f} MB, stop {median['stop_s']:.1f}s, "
        f"floor {median['floor_s']:.2f}s"
    )
    errors = []
    for fraction in eta_error.FRACTIONS:
        known = [r["eta_errors"][fraction] for r in runs if r["eta_errors"][fraction] is not None]
        wall = median["wall_s"]
        errors.append(
            f"{fraction:.0%}: {statistics.median(known):+.1f}s "
            f"({statistics.median(known) / wall:+.0%} of the median wall)"
            if known
            else f"{fraction:.0%}: none yet"
        )
    print("median ETA error: " + ", ".join(errors))
    return 0 if all(r["state"] == "complete" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
