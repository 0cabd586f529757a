"""The README's first command: a prestage strategy running on the embedded dcmanager.

Starts ``dcmanager-all`` (SQLite, in-process messaging, noauth) with a throw-away state
directory on a free loopback port, registers 60 simulated subclouds — most healthy with
transfers of various lengths, a few offline, a few failing — creates and applies a
prestage strategy with the ``dcmanager`` CLI, shows it live to the end, prints the
summary, then uploads two versions of an application and applies and updates it on a
few subclouds (:mod:`demo_apps`), and stops the service with Ctrl-C (SIGINT) as a user
would.
"""

import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import demo_apps
import eta_error

BIN = os.path.dirname(sys.executable)
STARTUP_TIMEOUT = 60
HEALTHY = 52
# name -> simulated endpoint options (see dcmanager/drivers/simulator.py)
TROUBLED = {
    "subcloud-offline-1": "offline=true",
    "subcloud-offline-2": "offline=true",
    "subcloud-offline-3": "offline=true",
    "subcloud-bad-health": "fail=precheck&delay=0.5",
    "subcloud-bad-link": "fail=packages&delay=1",
    "subcloud-alarms": "alarms=2&delay=0.5",
    "subcloud-no-space": "free_disk_gb=2&delay=0.5",
    "subcloud-bad-images": "fail=images&delay=1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(method: str, url: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def wait_until(what: str, check, service: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if service.poll() is not None:
            raise SystemExit(f"dcmanager-all exited early with status {service.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def api_answers(url: str) -> bool:
    try:
        call("GET", url)
    except OSError:
        return False
    return True


def dcmanager(env: dict[str, str], *args: str) -> int:
    print(f"\n$ dcmanager {shlex.join(args)}", flush=True)
    # stderr into stdout, so error messages show up in order.
    return subprocess.run(
        [os.path.join(BIN, "dcmanager"), *args], env=env, stderr=subprocess.STDOUT
    ).returncode


def register_fleet(api: str) -> None:
    rng = random.Random(7)
    fleet = {f"subcloud{n:02d}": f"delay={rng.choice((0.2, 0.5, 1, 1.5))}" for n in range(1, 53)}
    fleet.update(TROUBLED)
    for name, options in fleet.items():
        call(
            "POST", f"{api}/subclouds", {"name": name, "endpoint": f"simulated://{name}?{options}"}
        )
        call("PATCH", f"{api}/subclouds/{name}", {"management-state": "managed"})


def make_packages(state: str) -> str:
    """A directory of a few package files, standing in for a release's repository."""
    root = os.path.join(state, "release-25.09")
    os.makedirs(os.path.join(root, "Packages"))
    for name in ("kernel", "platform", "containerd"):
        with open(os.path.join(root, "Packages", f"{name}-25.09.deb"), "wb") as package:
            package.write(random.Random(name).randbytes(256 * 1024))
    return root


def make_image_list(state: str) -> str:
    path = os.path.join(state, "images-25.09.txt")
    with open(path, "w") as images:
        images.write("registry.local:9001/starlingx/stx-platform:25.09\n")
    return path


def main() -> int:
    state = tempfile.mkdtemp(prefix="dcmanager-demo-")
    port = free_port()
    log_file = os.path.join(state, "dcmanager-all.log")
    env = dict(
        os.environ,
        OS_DEFAULT__STATE_PATH=state,
        OS_API__BIND_PORT=str(port),
        # A lively demo: audit every second, poll transfers twice a second.
        OS_SCHEDULER__SUBCLOUD_AUDIT_INTERVAL="1",
        OS_ORCHESTRATOR__POLL_INTERVAL="0.5",
        # The simulated sites remember their operations by key, as real ones do.
        DCMANAGER_SIMULATOR_STATE=os.path.join(state, "simulated-sites"),
    )
    print(f"Starting dcmanager-all (state in {state}, log in {log_file}) ...", flush=True)
    with open(log_file, "w") as log:
        service = subprocess.Popen(
            [os.path.join(BIN, "dcmanager-all")], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    status = 1
    try:
        api = f"http://127.0.0.1:{port}/v1.0"
        wait_until("the API", lambda: api_answers(f"{api}/subclouds"), service, STARTUP_TIMEOUT)
        with open(log_file) as log:
            print("".join(line for line in log if "dcmanager.cmd.all" in line), end="")

        print(f"\nRegistering {HEALTHY + len(TROUBLED)} simulated subclouds and managing them:")
        print(f"{HEALTHY} healthy (transfers of 0.2 to 1.5 s per phase), 3 offline, and 5 that")
        print("fail their precheck, a transfer, or have alarms; the audit brings them online.")
        register_fleet(api)
        online = HEALTHY + len(TROUBLED) - 3

        def audited() -> bool:
            subclouds = call("GET", f"{api}/subclouds")["subclouds"]
            return sum(sc["availability-status"] == "online" for sc in subclouds) >= online

        wait_until("the audit", audited, service, 60)

        cli = dict(os.environ, DCMANAGER_URL=api)
        print("\nUploading release 25.09 to the release store (a few small package files):")
        dcmanager(
            cli,
            "release", "upload", "--version", "25.09",
            "--packages", make_packages(state),
            "--image-list", make_image_list(state),
        )  # fmt: skip
        password = "Li69nux*"
        dcmanager(
            cli,
            "prestage-strategy", "create",
            "--max-parallel-subclouds", "10",
            "--sysadmin-password", password,
        )  # fmt: skip
        dcmanager(cli, "prestage-strategy", "apply")
        sampler = eta_error.Sampler(lambda: call("GET", f"{api}/sw-update-strategy")).start()
        dcmanager(cli, "prestage-strategy", "watch", "--interval", "0.5")
        sampler.stop()
        dcmanager(cli, "strategy-step", "list", "--state", "failed")
        dcmanager(cli, "strategy-step", "list", "--state", "skipped")
        final = call("GET", f"{api}/sw-update-strategy")["state"]
        steps = call("GET", f"{api}/sw-update-strategy/steps")["strategy-steps"]
        print("\n" + sampler.report(eta_error.last_finished(steps)))
        print(f"\nThe strategy ended {final}: the healthy subclouds are prestaged, the others")
        print("say why they are not. `dcmanager prestage-strategy delete` removes it.")
        status = 0 if final in ("complete", "failed") else 1
        demo_apps.run(state, api, lambda *args: dcmanager(cli, *args), call)
    finally:
        service.send_signal(signal.SIGINT)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
    print(f"\ndcmanager-all stopped (status {service.returncode}).")
    shutil.rmtree(state, ignore_errors=True)
    return status if service.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
