"""Benchmark of real prestage transfers: N agents against curl, and the bandwidth cap.

One machine runs ``dcmanager-all`` (SQLite, noauth), Debian's docker-registry (installed
into the tests' cache like the tests do) and N ``dcmanager-agent`` processes with
their own state directories. The release is ``--files`` package files of about
``--megabytes`` MB in all, plus ``--images`` images of ``--image-megabytes`` MB each.

Each run:

1. agents: a prestage strategy over the N agents (max-parallel N), from apply to
   complete; every agent fetches, verifies and stores every file and image blob;
2. curl: N ``curl`` processes, each downloading the same files and image blobs from the
   same API and registry into its own directory, ``--parallel-max`` as many at a time
   as an agent (``[agent] download_concurrency``).

Printed per run and as medians: aggregate throughput (MB/s, all N copies), the agents'
figure as a share of curl's, and the CPU seconds per GB moved (agents and dcmanager-all
together; curl and the same servers for curl).

``--cap MIB_PER_S`` instead runs ``--agents`` agents with ``[prestage]
max_bandwidth_per_subcloud`` and reports the rate one agent got (apply to complete)
against the cap; ``--total-cap MIB_PER_S`` runs them with ``[prestage]
max_bandwidth_total`` and reports the rate of all package bytes against it.

Usage:
  python tools/bench_agents.py [--agents 20] [--files 300] [--megabytes 200] [--runs 3]
  python tools/bench_agents.py --agents 1 --runs 3 --cap 20
  python tools/bench_agents.py --agents 5 --runs 3 --total-cap 40 --images 0
"""

import argparse
import base64
import json
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dcmanager.agent import passwords  # noqa: E402
from tests import registry as test_registry  # noqa: E402
from tools.bench import free_port  # noqa: E402

BIN = os.path.dirname(sys.executable)
PASSWORD = "Li69nux*"
TOKEN = "bench-agent-token-0123456789"
MB = 1000**2
MIB = 1024**2


def call(url: str, method: str = "GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def wait(what: str, check, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except OSError:
        return False
    return True


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes (and their reaped children), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / ticks


def make_release(root: str, files: int, megabytes: float, seed: int) -> dict[str, int]:
    """Package files of varied sizes adding up to about ``megabytes``; their sizes."""
    rng = random.Random(seed)
    weights = [rng.uniform(0.2, 1.8) for _ in range(files)]
    scale = megabytes * MB / sum(weights)
    sizes = {}
    for index, weight in enumerate(weights):
        path = os.path.join(root, "Packages", f"pkg{index:04}.deb")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(os.urandom(int(weight * scale)))
        sizes[path] = int(weight * scale)
    return sizes


class Bench:
    def __init__(self, args, work: str) -> None:
        self.args = args
        self.work = work
        self.processes: list[subprocess.Popen] = []

    def spawn(self, name: str, *argv: str, log: str) -> subprocess.Popen:
        with open(os.path.join(self.work, log), "w") as out:
            process = subprocess.Popen(
                [os.path.join(BIN, name), *argv], stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def controller(
        self, registry_url: str, cap: float, total_cap: float
    ) -> tuple[str, subprocess.Popen]:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        config = os.path.join(self.work, "dcmanager.conf")
        with open(config, "w") as out:
            out.write(
                f"[DEFAULT]\nstate_path = {self.work}/controller\nauth_strategy = noauth\n"
                f"[api]\nbind_port = {port}\n"
                "[orchestrator]\npoll_interval = 0.2\nscan_interval = 0.2\n"
                "[scheduler]\nsubcloud_audit_interval = 2\n"
                f"[prestage]\nrepository_url = {url}\nregistry_url = {registry_url}\n"
                f"max_bandwidth_per_subcloud = {cap}\nmax_bandwidth_total = {total_cap}\n"
                "[subcloud_agent]\nauth_type = admin_token\nendpoint = http://unused.invalid\n"
                f"token = {TOKEN}\n"
            )
        process = self.spawn("dcmanager-all", "--config-file", config, log="dcmanager-all.log")
        wait("the API", lambda: answers(url + "/"), 60)
        return url, process

    def agents(
        self, api: str, registry_url: str, count: int, first: int = 1
    ) -> list[tuple[str, subprocess.Popen]]:
        hashed = passwords.hash_password(PASSWORD.encode())
        started = []
        for number in range(first, first + count):
            name = f"agent{number:02}"
            port = free_port()
            config = os.path.join(self.work, f"{name}.conf")
            with open(config, "w") as out:
                out.write(
                    f"[agent]\nbind_port = {port}\nstate_dir = {self.work}/{name}\n"
                    f"sysadmin_password_hash = {hashed}\nauth_strategy = token\n"
                    f"auth_token = {TOKEN}\nrepository_urls = {api}\n"
                    f"registry_urls = {registry_url}\n[DEFAULT]\ndebug = false\n"
                )
            process = self.spawn("dcmanager-agent", "--config-file", config, log=f"{name}.log")
            wait(name, lambda port=port: answers(f"http://127.0.0.1:{port}/"), 30)
            call(
                f"{api}/v1.0/subclouds",
                "POST",
                {"name": name, "endpoint": f"http://127.0.0.1:{port}"},
            )
            call(f"{api}/v1.0/subclouds/{name}", "PATCH", {"management-state": "managed"})
            started.append((name, process))
        names = {name for name, _ in started}
        wait(
            "the agents online",
            lambda: all(
                sc["availability-status"] == "online"
                for sc in call(f"{api}/v1.0/subclouds")["subclouds"]
                if sc["name"] in names
            ),
            120,
        )
        return started

    def prestage(self, api: str, release: str, parallel: int) -> float:
        """Seconds from apply to the end; every step must complete."""
        try:
            call(f"{api}/v1.0/sw-update-strategy", "DELETE")
            wait("the strategy to go", lambda: not _strategy(api), 60)
        except urllib.error.HTTPError:
            pass
        call(
            f"{api}/v1.0/sw-update-strategy",
            "POST",
            {
                "type": "prestage",
                "release": release,
                "max-parallel-subclouds": parallel,
                "sysadmin_password": base64.b64encode(PASSWORD.encode()).decode(),
            },
        )
        start = time.monotonic()
        call(f"{api}/v1.0/sw-update-strategy/actions", "POST", {"action": "apply"})
        wait("the strategy", lambda: _strategy(api) in ("complete", "failed", "aborted"))
        elapsed = time.monotonic() - start
        state = _strategy(api)
        if state != "complete":
            steps = call(f"{api}/v1.0/sw-update-strategy/steps")["strategy-steps"]
            raise SystemExit(f"the strategy ended {state}: {[s['details'] for s in steps]}")
        return elapsed


def _strategy(api: str) -> str | None:
    try:
        return call(f"{api}/v1.0/sw-update-strategy")["state"]
    except urllib.error.HTTPError:
        return None


def curl_run(urls: list[str], copies: int, parallel: int, work: str) -> tuple[float, float]:
    """N curls fetching every URL into their own directories: (seconds, CPU seconds)."""
    processes = []
    start = time.monotonic()
    for copy in range(copies):
        directory = os.path.join(work, f"curl{copy:02}")
        os.makedirs(directory)
        config = os.path.join(work, f"curl{copy:02}.cfg")
        with open(config, "w") as out:
            for index, url in enumerate(urls):
                out.write(f'url = "{url}"\noutput = "{directory}/{index}"\n')
        processes.append(
            subprocess.Popen(
                [
                    "curl",
                    "-sSf",
                    "--no-progress-meter",
                    "--parallel",
                    "--parallel-max",
                    str(parallel),
                    "-K",
                    config,
                ]
            )
        )
    usage_before = os.times()
    for process in processes:
        if process.wait() != 0:
            raise SystemExit("curl failed")
    elapsed = time.monotonic() - start
    usage = os.times()
    cpu = (usage.children_user - usage_before.children_user) + (
        usage.children_system - usage_before.children_system
    )
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--megabytes", type=float, default=200)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--image-megabytes", type=float, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel-max", type=int, default=4)
    parser.add_argument("--cap", type=float, default=0.0, help="MiB/s per subcloud; 0: no cap run")
    parser.add_argument(
        "--total-cap", type=float, default=0.0, help="MiB/s controller-wide; 0: no cap run"
    )
    args = parser.parse_args()
    if not shutil.which("curl"):
        raise SystemExit("curl is needed for the comparison")

    results = []
    for run in range(1, args.runs + 1):
        work = tempfile.mkdtemp(prefix="dcmanager-bench-agents-")
        bench = Bench(args, work)
        try:
            with test_registry.running(_mkdir(work, "registry"), free_port()) as registry:
                results.append(one_run(bench, registry, args, run))
        finally:
            bench.stop()
            shutil.rmtree(work, ignore_errors=True)
    if args.runs > 1:
        print("\nmedian of", args.runs, "runs:")
        for key in results[0]:
            print(f"  {key}: {statistics.median(r[key] for r in results):.2f}")
    return 0


def _mkdir(work: str, name: str) -> pathlib.Path:
    path = pathlib.Path(work) / name
    path.mkdir()
    return path


def one_run(bench: Bench, registry, args, run: int) -> dict[str, float]:
    work = bench.work
    packages = os.path.join(work, "release")
    sizes = make_release(packages, args.files, args.megabytes, seed=run)
    image_names, blob_urls = [], []
    image_bytes = 0
    for index in range(args.images):
        layers = [os.urandom(int(args.image_megabytes * MB / 2)) for _ in range(2)]
        image = registry.push_image(f"bench/image{index}", "1.0", layers)
        image_names.append(f"registry.local:9001/bench/image{index}:1.0")
        blob_urls += [f"{registry.url}/v2/bench/image{index}/blobs/{d}" for d in image.blobs]
        image_bytes += sum(len(b) for b in image.blobs.values())
    image_list = os.path.join(work, "images.txt")
    with open(image_list, "w") as out:
        out.write("\n".join(image_names) + "\n")

    api, controller = bench.controller(registry.url, args.cap, args.total_cap)
    command = [
        os.path.join(BIN, "dcmanager"),
        "release",
        "upload",
        "--version",
        "25.09",
        "--packages",
        packages,
    ] + (["--image-list", image_list] if image_names else [])
    upload = subprocess.run(
        command, env=dict(os.environ, DCMANAGER_URL=f"{api}/v1.0"), capture_output=True, text=True
    )  # fmt: skip
    if upload.returncode != 0:
        raise SystemExit(upload.stderr)
    release = call(f"{api}/v1.0/releases/25.09")
    blob_urls = [f"{api}/v1.0/blobs/{f['digest']}" for f in release["files"]] + blob_urls
    total = sum(sizes.values()) + image_bytes

    if args.cap or args.total_cap:
        bench.agents(api, registry.url, args.agents)
        seconds = bench.prestage(api, "25.09", args.agents)
        if args.total_cap:
            # The API's cap holds for package files only (images come from the registry).
            cap, moved, what = args.total_cap, sum(sizes.values()) * args.agents, "packages"
        else:
            cap, moved, what = args.cap, total, "packages and images"
        rate = moved / seconds / MIB
        kind = "controller-wide" if args.total_cap else "per-subcloud"
        print(
            f"run {run}: {kind} cap {cap:.1f} MiB/s, {args.agents} agent(s) moved "
            f"{moved / MB:.0f} MB of {what} in {seconds:.2f} s (apply to complete): "
            f"{rate:.2f} MiB/s ({rate / cap:.1%} of the cap)",
            flush=True,
        )
        return {"rate_mib_s": rate, "share_of_cap_pct": rate / cap * 100}

    agents = bench.agents(api, registry.url, args.agents)
    servers = [controller.pid, registry.process.pid]
    clients = [p.pid for _, p in agents]
    servers_before, clients_before = cpu_seconds(servers), cpu_seconds(clients)
    agent_seconds = bench.prestage(api, "25.09", args.agents)
    servers_cpu = cpu_seconds(servers) - servers_before
    clients_cpu = cpu_seconds(clients) - clients_before
    agent_cpu = servers_cpu + clients_cpu
    for name, _ in agents:
        shutil.rmtree(os.path.join(work, name, "partial"), ignore_errors=True)

    server_cpu_before = cpu_seconds([controller.pid, registry.process.pid])
    curl_seconds, curl_cpu = curl_run(blob_urls, args.agents, args.parallel_max, work)
    curl_cpu += cpu_seconds([controller.pid, registry.process.pid]) - server_cpu_before

    moved = total * args.agents
    result = {
        "agents_mb_s": moved / agent_seconds / MB,
        "curl_mb_s": moved / curl_seconds / MB,
        "agents_share_of_curl_pct": curl_seconds / agent_seconds * 100,
        "agents_cpu_s_per_gb": agent_cpu / (moved / 1000**3),
        "of_which_agent_processes": clients_cpu / (moved / 1000**3),
        "curl_cpu_s_per_gb": curl_cpu / (moved / 1000**3),
    }
    print(
        f"run {run}: {args.agents} agents x {total / MB:.0f} MB ({len(blob_urls)} blobs): "
        f"agents {agent_seconds:.2f} s = {result['agents_mb_s']:.0f} MB/s, "
        f"curl {curl_seconds:.2f} s = {result['curl_mb_s']:.0f} MB/s "
        f"({result['agents_share_of_curl_pct']:.0f}% of curl); CPU s/GB: agents "
        f"{result['agents_cpu_s_per_gb']:.2f} (agent processes "
        f"{result['of_which_agent_processes']:.2f}), curl {result['curl_cpu_s_per_gb']:.2f}",
        flush=True,
    )
    return result


if __name__ == "__main__":
    sys.exit(main())
