"""Benchmark of one audit round over agent subclouds, some of which never answer.

For each run: a fresh database with N registered subclouds (offline, as registered),
each at an ``http://`` endpoint, so the real agent driver (keystoneauth1 session,
``GET /v1/info``) asks it over real HTTP: (1 - silent) of them at small HTTP servers
(``--servers`` processes on this machine, each listening on ``--ports`` ports; every
site its own path, as ``http://127.0.0.1:PORT/site-17``, answering what an agent
answers), and the others at TCP listeners that never accept a connection nor answer.
Then two audit rounds of a real ``AuditService`` (its default pool, timeout and
recording pace unless told), each timed from start to end:

- round 1: every answering subcloud goes online, written as its answer arrives; the
  silent ones count one failure;
- round 2: nothing changes for the answering ones; the silent ones go offline
  (``offline_after_failures`` = 2).

Printed per run and as the median: both round times, and when (seconds after the
start of round 1) the last answering subcloud was recorded online — earlier than the
end of the round, since the silent subclouds hold only their own threads. The run
fails if a subcloud ends in the wrong state.

Usage:
  python tools/bench_audit.py [--sites 5000] [--silent 0.1] [--runs 5]
  python tools/bench_audit.py --database postgresql+psycopg2://postgres@127.0.0.1/postgres
  python tools/bench_audit.py --eventlet      # monkey-patched, as dcmanager-audit runs
"""

import sys
import warnings

# Deprecation warnings of libraries the service imports (cryptography's, through
# dnspython, and eventlet's own).
warnings.simplefilter("ignore")
if "--eventlet" in sys.argv:  # before anything else imports threading or socket
    from dcmanager.cmd import eventlet_setup  # noqa: F401

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import bench  # noqa: E402 - tools/ is the script's directory
import sqlalchemy  # noqa: E402

ANSWER = json.dumps(
    {
        "system_mode": "simplex",
        "controller0_active": True,
        "management_alarms": 0,
        "free_disk_bytes": 100 * 1024**3,
        "deploy_status": "complete",
        "software_version": "24.09",
        "prestaged_versions": ["24.09"],
        "health_problem": None,
        "applications": [],
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(ANSWER)}\r\n\r\n".encode()
    + ANSWER
)


# The answering sites: a small asyncio HTTP/1.1 server (keep-alive), one process.


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.split(b" ", 2)[1].endswith(b"/v1/info"):
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            else:
                writer.write(RESPONSE)
            await writer.drain()
            if b"connection: close" in head.lower():
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve(ports: list[int]) -> None:
    servers = [
        await asyncio.start_server(_answer, "127.0.0.1", port, backlog=1024) for port in ports
    ]
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextlib.contextmanager
def answering_servers(processes: int, ports_each: int) -> Iterator[list[int]]:
    """``processes`` server processes; all their ports."""
    started, ports = [], []
    try:
        for _ in range(processes):
            mine = free_ports(ports_each)
            child = subprocess.Popen(
                [sys.executable, __file__, "--serve", *map(str, mine)],
                stdout=subprocess.PIPE,
                text=True,
            )
            started.append(child)
            assert child.stdout.readline().strip() == "ready"
            ports += mine
        yield ports
    finally:
        for child in started:
            child.terminate()
            child.wait(10)


@contextlib.contextmanager
def silent_listeners(count: int) -> Iterator[list[int]]:
    """TCP listeners that never accept: connections queue, then SYNs go unanswered."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(64)
            sockets.append(sock)
        yield [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# One run.


def endpoints(sites: int, silent: float, good: list[int], quiet: list[int]) -> list[str]:
    """Every ``1/silent``-th site silent, spread evenly among the answering ones."""
    every = round(1 / silent) if silent else 0
    found = []
    for i in range(sites):
        ports = quiet if every and i % every == every - 1 else good
        found.append(f"http://127.0.0.1:{ports[i % len(ports)]}/site-{i}")
    return found


def database(server: str | None, state: str) -> contextlib.AbstractContextManager[str]:
    """A new database for one run: SQLite under ``state``, or one made on ``server``
    (as the strategy benchmark makes its own)."""
    return bench.database("services" if server else "embedded", server, state)


def populate(url: str, urls: list[str]) -> None:
    engine = sqlalchemy.create_engine(url)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO subclouds (name, management_state, availability_status, "
                "deploy_status, region_name, endpoint, group_id, audit_fail_count, "
                "created_at) VALUES (:name, 'managed', 'offline', 'complete', :region, "
                ":endpoint, 1, 0, :now)"
            ),
            [
                {"name": f"sc{i:05d}", "region": uuid.uuid4().hex, "endpoint": e, "now": now}
                for i, e in enumerate(urls)
            ],
        )
    engine.dispose()


def configure(args, url: str, state: str):
    from dcmanager.conf import CONF

    CONF([], project="dcmanager", default_config_files=[])
    CONF.set_override("state_path", state)
    CONF.set_override("connection", url, group="database")
    for name in ("audit_pool_size", "audit_timeout"):
        if getattr(args, name) is not None:
            CONF.set_override(name, getattr(args, name), group="scheduler")
    return CONF


def check(url: str, silent_urls: set[str]) -> str | None:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT endpoint, availability_status FROM subclouds").all()
    engine.dispose()
    wrong = [e for e, status in rows if (status == "offline") != (e in silent_urls)]
    return f"{len(wrong)} subclouds in the wrong state, e.g. {wrong[:3]}" if wrong else None


def last_online_after(url: str, start: datetime.datetime) -> float:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        last = conn.exec_driver_sql(
            "SELECT MAX(updated_at) FROM subclouds WHERE availability_status = 'online'"
        ).scalar()
    engine.dispose()
    if isinstance(last, str):
        last = datetime.datetime.fromisoformat(last)
    return (last - start).total_seconds()


def one_run(args, urls: list[str], silent_urls: set[str]) -> dict:
    from oslo_db.sqlalchemy import enginefacade

    from dcmanager.audit import service as audit_service
    from dcmanager.db import session
    from dcmanager.db.sqlalchemy import migration

    state = tempfile.mkdtemp(prefix="dcm-bench-audit-")
    with database(args.database, state) as url:
        conf = configure(args, url, state)
        # A database of its own for each run.
        session.main_context_manager = enginefacade.transaction_context()
        session.main_context_manager.configure(connection=url, sqlite_fk=True)
        migration.upgrade("head", engine=session.get_engine())
        populate(url, urls)
        audit = audit_service.AuditService(conf)
        audit.renew()
        times = []
        start = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        try:
            for _ in range(2):
                began = time.monotonic()
                audit.audit()
                times.append(time.monotonic() - began)
                if not times[1:]:
                    recorded = last_online_after(url, start)
        finally:
            audit.stop()
            session.main_context_manager.dispose_pool()
        problem = check(url, silent_urls)
    return {"round1": times[0], "round2": times[1], "last_online": recorded, "problem": problem}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", nargs="+", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sites", type=int, default=5000, help="subclouds (default 5000)")
    parser.add_argument("--silent", type=float, default=0.1, help="fraction that never answers")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is reported")
    parser.add_argument("--servers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--ports", type=int, default=32, help="ports per server (default 32)")
    parser.add_argument("--database", help="a server URL (default: SQLite in a temp dir)")
    parser.add_argument("--audit-pool-size", dest="audit_pool_size", type=int)
    parser.add_argument("--audit-timeout", dest="audit_timeout", type=float)
    parser.add_argument("--eventlet", action="store_true", help="monkey-patch, as the service")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    logging.basicConfig(level=logging.ERROR)
    with answering_servers(args.servers, args.ports) as good, silent_listeners(8) as quiet:
        urls = endpoints(args.sites, args.silent, good, quiet)
        silent_urls = {u for u in urls if int(u.split(":")[2].split("/")[0]) in quiet}
        print(
            f"{args.sites} sites, {len(silent_urls)} silent; {args.servers} server processes x "
            f"{args.ports} ports; {'eventlet' if args.eventlet else 'threads'}; "
            f"database {'SQLite' if not args.database else args.database.split(':')[0]}",
            flush=True,
        )
        runs = []
        for number in range(1, args.runs + 1):
            run = one_run(args, urls, silent_urls)
            runs.append(run)
            print(
                f"run {number}: round 1 {run['round1']:.2f} s (last answering site recorded "
                f"at {run['last_online']:.2f} s), round 2 {run['round2']:.2f} s"
                + (f"  FAILED: {run['problem']}" if run["problem"] else ""),
                flush=True,
            )
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key != "problem"}
    print(
        f"median of {len(runs)}: round 1 {median['round1']:.2f} s (last answering site "
        f"recorded at {median['last_online']:.2f} s), round 2 {median['round2']:.2f} s"
    )
    return 1 if any(r["problem"] for r in runs) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
