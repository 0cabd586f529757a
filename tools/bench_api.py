"""Benchmark of the API's simple GETs, driven by a load tool (``wrk``).

For each run: a fresh database and a real ``dcmanager-all`` (embedded: SQLite, noauth)
or ``dcmanager-api`` (``--topology services``: RabbitMQ and a database server, noauth), N
subclouds registered in bulk, then for each path below ``wrk`` sends GETs on
``--connections`` keep-alive connections for ``--seconds``; printed per run and as
the median: requests per second, the median and 99th percentile latency, and how many
answers were not 200.

- ``/v1.0/subclouds/sc00001``: one subcloud by name;
- ``/v1.0/subcloud-groups``: the groups (one, the default);
- ``/v1.0/sw-update-strategy/steps?limit=100``: a page of a strategy's steps (a strategy
  of N steps is created, not applied);
- ``/v1.0/sw-update-strategy/summary``: that strategy's steps counted by state, what
  the dashboard's strategy view polls.

The load tool takes one of the machine's cores; the server is one process (one
core), as it runs.

Usage:
  python tools/bench_api.py [--subclouds 5000] [--runs 3] [--seconds 10]
  python tools/bench_api.py --topology services --database-server postgresql+psycopg2://...
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import bench
import sqlalchemy

PATHS = (
    "/v1.0/subclouds/sc00001",
    "/v1.0/subcloud-groups",
    "/v1.0/sw-update-strategy/steps?limit=100",
    "/v1.0/sw-update-strategy/summary",
)
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def load(url: str, connections: int, seconds: int) -> dict:
    """``wrk`` against ``url``: requests/s, median and p99 latency (ms), non-200s."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def one_run(args) -> dict[str, dict]:
    state = tempfile.mkdtemp(prefix="dcmanager-bench-api-")
    port = bench.free_port()
    api = f"http://127.0.0.1:{port}/v1.0"
    with bench.database(args.topology, args.database_server, state) as url:
        config = bench.write_config(state, url, port, args)
        subprocess.run(
            [os.path.join(bench.BIN, "dcmanager-manage"), "--config-file", config, "db_sync"],
            check=True,
            capture_output=True,
        )
        role = "dcmanager-all" if args.topology == "embedded" else "dcmanager-api"
        processes = [bench.start(role, config, state)]
        try:
            bench.wait_for_api(api, processes, state)
            bench.register(api, args.subclouds, [0.0])
            if args.topology == "embedded":
                # Online at once (not after the audit's first round), for the strategy.
                engine = sqlalchemy.create_engine(url)
                with engine.begin() as conn:
                    conn.exec_driver_sql("UPDATE subclouds SET availability_status = 'online'")
                engine.dispose()
                bench.upload_release(api)
                body = bench.create_body(SimpleNamespace(type="prestage", max_parallel=10))
                bench.request("POST", f"{api}/sw-update-strategy", body)
            found = {
                path: load(f"http://127.0.0.1:{port}{path}", args.connections, args.seconds)
                for path in PATHS
                if args.topology == "embedded" or "sw-update-strategy" not in path
            }
        finally:
            bench.stop(processes)
    shutil.rmtree(state, ignore_errors=True)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subclouds", type=int, default=5000, help="N (default 5000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of load per path")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    bench.add_topology_arguments(parser)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench_api needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    print(f"GETs: N={args.subclouds}, {args.connections} connections, {args.topology}")
    runs = []
    for number in range(1, args.runs + 1):
        runs.append(one_run(args))
        for path, found in runs[-1].items():
            print(
                f"run {number}: {path}: {found['rps']:.0f} requests/s, "
                f"p50 {found['p50_ms']:.1f} ms, p99 {found['p99_ms']:.1f} ms, "
                f"{found['errors']} not 200",
                flush=True,
            )
    for path in runs[0]:
        figures = {key: statistics.median(run[path][key] for run in runs) for key in runs[0][path]}
        print(
            f"median: {path}: {figures['rps']:.0f} requests/s, p50 {figures['p50_ms']:.1f} ms, "
            f"p99 {figures['p99_ms']:.1f} ms, {figures['errors']:.0f} not 200"
        )
    return 0 if all(found["errors"] == 0 for run in runs for found in run.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
