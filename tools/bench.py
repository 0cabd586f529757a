"""Benchmark of a prestage strategy on the embedded default (dcmanager-all, SQLite).

For each run: a fresh state directory and database with N managed, online, simulated
subclouds (zero delay), a real ``dcmanager-all`` process, then through the API:
create a prestage strategy with max-parallel M, apply it, and poll until it ends.
Printed per run and as the median of the runs:

- create: time of the create request (all N steps written);
- wall: time from apply to the final state;
- transitions/s: step state changes (5 per completed step) per second of wall time;
- peak RSS of the dcmanager-all process;
- floor: the time the same number of single-row committed UPDATEs take on the same
  database file, the least a design that commits each transition alone would need.

Usage: python tools/bench.py [--subclouds 5000] [--max-parallel 250] [--runs 3]
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

BIN = os.path.dirname(sys.executable)
TRANSITIONS_PER_STEP = 5  # initial -> precheck -> preparing -> packages -> images -> complete
PASSWORD = base64.b64encode(b"bench-password").decode()


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


def populate(database: str, count: int) -> None:
    """N managed, online, zero-delay simulated subclouds, written straight to the DB."""
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(database) as conn:
        conn.executemany(
            "INSERT INTO subclouds (name, management_state, availability_status, "
            "deploy_status, region_name, endpoint, group_id, audit_fail_count, created_at) "
            "VALUES (?, 'managed', 'online', 'complete', ?, ?, 1, 0, ?)",
            [
                (f"sc{i:05d}", uuid.uuid4().hex, f"simulated://sc{i:05d}", now)
                for i in range(1, count + 1)
            ],
        )


def floor_seconds(database: str, updates: int) -> float:
    """Single-row UPDATEs, each committed alone, on the run's database file."""
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    ids = [row[0] for row in conn.execute("SELECT id FROM strategy_steps")]
    started = time.perf_counter()
    for n in range(updates):
        conn.execute("BEGIN")
        conn.execute(
            "UPDATE strategy_steps SET details = ? WHERE id = ?", (str(n), ids[n % len(ids)])
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def one_run(count: int, width: int, keep: bool) -> dict:
    state = tempfile.mkdtemp(prefix="dcmanager-bench-")
    port = free_port()
    env = dict(os.environ, OS_DEFAULT__STATE_PATH=state, OS_API__BIND_PORT=str(port))
    database = os.path.join(state, "dcmanager.sqlite")
    subprocess.run(
        [os.path.join(BIN, "dcmanager-manage"), "db_sync"],
        env=env,
        check=True,
        capture_output=True,
    )
    populate(database, count)
    log = open(os.path.join(state, "dcmanager-all.log"), "w")
    service = subprocess.Popen(
        [os.path.join(BIN, "dcmanager-all")], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    api = f"http://127.0.0.1:{port}/v1.0"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request("GET", f"{api}/subcloud-groups")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or service.poll() is not None:
                    raise SystemExit(f"dcmanager-all did not start; see {log.name}") from None
                time.sleep(0.1)

        started = time.perf_counter()
        request(
            "POST",
            f"{api}/sw-update-strategy",
            {"type": "prestage", "sysadmin_password": PASSWORD, "max-parallel-subclouds": width},
        )
        create = time.perf_counter() - started

        started = time.perf_counter()
        request("POST", f"{api}/sw-update-strategy/actions", {"action": "apply"})
        while True:
            strategy = request("GET", f"{api}/sw-update-strategy")
            if strategy["state"] in ("complete", "failed", "aborted"):
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started

        steps = request("GET", f"{api}/sw-update-strategy/steps")["strategy-steps"]
        completed = sum(step["state"] == "complete" for step in steps)
        rss = peak_rss_mb(service.pid)
    finally:
        service.send_signal(signal.SIGINT)
        service.wait(timeout=60)
        log.close()
    transitions = completed * TRANSITIONS_PER_STEP
    floor = floor_seconds(database, transitions)
    if not keep:
        shutil.rmtree(state, ignore_errors=True)
    return {
        "state": strategy["state"],
        "completed": completed,
        "create_s": create,
        "wall_s": wall,
        "transitions_per_s": transitions / wall,
        "peak_rss_mb": rss,
        "floor_s": floor,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subclouds", type=int, default=5000, help="N (default 5000)")
    parser.add_argument("--max-parallel", type=int, default=250, help="M (default 250)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--keep", action="store_true", help="keep each run's state directory")
    args = parser.parse_args()

    print(f"N={args.subclouds} M={args.max_parallel} runs={args.runs} (dcmanager-all, SQLite)")
    runs = []
    for number in range(1, args.runs + 1):
        result = one_run(args.subclouds, args.max_parallel, args.keep)
        runs.append(result)
        print(
            f"run {number}: {result['state']} ({result['completed']} complete), "
            f"create {result['create_s']:.2f}s, wall {result['wall_s']:.2f}s, "
            f"{result['transitions_per_s']:.0f} transitions/s, "
            f"peak RSS {result['peak_rss_mb']:.0f} MB, "
            f"floor (same number of single-row commits) {result['floor_s']:.2f}s",
            flush=True,
        )
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key != "state"}
    print(
        f"median: create {median['create_s']:.2f}s, wall {median['wall_s']:.2f}s, "
        f"{median['transitions_per_s']:.0f} transitions/s, "
        f"peak RSS {median['peak_rss_mb']:.0f} MB, floor {median['floor_s']:.2f}s"
    )
    return 0 if all(r["state"] == "complete" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
