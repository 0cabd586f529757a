"""The README's first command: start the embedded dcmanager and use it with the CLI.

Runs ``dcmanager-all`` with a throw-away state directory on a free loopback port, waits
for the API, runs a few ``dcmanager`` commands against it (showing each one), then
stops the service with Ctrl-C (SIGINT) as a user would.
"""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.path.dirname(sys.executable)
STARTUP_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_api(url: str, service: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise SystemExit(f"dcmanager-all exited early with status {service.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"dcmanager-all did not answer on {url} within {STARTUP_TIMEOUT}s")


def dcmanager(env: dict[str, str], *args: str, check: bool = True) -> None:
    print(f"\n$ dcmanager {shlex.join(args)}", flush=True)
    # stderr into stdout, so error messages show up in order.
    result = subprocess.run(
        [os.path.join(BIN, "dcmanager"), *args], env=env, stderr=subprocess.STDOUT
    )
    if check and result.returncode != 0:
        raise SystemExit(f"dcmanager {' '.join(args)} failed with status {result.returncode}")


def main() -> int:
    state = tempfile.mkdtemp(prefix="dcmanager-demo-")
    port = free_port()
    log_file = os.path.join(state, "dcmanager-all.log")
    env = dict(os.environ, OS_DEFAULT__STATE_PATH=state, OS_API__BIND_PORT=str(port))
    print(f"Starting dcmanager-all (state in {state}, log in {log_file}) ...", flush=True)
    with open(log_file, "w") as log:
        service = subprocess.Popen(
            [os.path.join(BIN, "dcmanager-all")], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        api = f"http://127.0.0.1:{port}"
        wait_for_api(api + "/", service)
        with open(log_file) as log:
            print("".join(line for line in log if "dcmanager.cmd.all" in line), end="")
        cli_env = dict(os.environ, DCMANAGER_URL=f"{api}/v1.0")
        dcmanager(
            cli_env,
            "subcloud-group",
            "add",
            "--name",
            "edge-west",
            "--description",
            "Western edge sites",
            "--max_parallel_subclouds",
            "10",
        )
        for number in (1, 2, 3):
            dcmanager(
                cli_env,
                "subcloud",
                "add",
                "--name",
                f"subcloud{number}",
                "--endpoint",
                f"simulated://subcloud{number}",
                "--group",
                "edge-west",
                "--location",
                f"Site {number}",
                "-f",
                "value",
                "-c",
                "id",
                "-c",
                "name",
            )
        dcmanager(
            cli_env, "subcloud", "manage", "subcloud1", "-c", "name", "-c", "management_state"
        )
        dcmanager(cli_env, "subcloud-group", "list-subclouds", "edge-west")
        dcmanager(cli_env, "subcloud-group", "list")
        print("\n# Errors come back as clear messages and a non-zero exit status:")
        dcmanager(cli_env, "subcloud", "delete", "subcloud1", check=False)
        dcmanager(cli_env, "subcloud-group", "delete", "Default", check=False)
    finally:
        service.send_signal(signal.SIGINT)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
    print(f"\ndcmanager-all stopped (status {service.returncode}).")
    shutil.rmtree(state, ignore_errors=True)
    return 0 if service.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
