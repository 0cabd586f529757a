"""The dashboard in headless Chromium against a real ``dcmanager-all``: how long the
fleet grid takes to show N subclouds, and what one live update costs; or, with
``--screenshots DIR``, pictures of the fleet and strategy views for the README.

For each run: a fresh ``dcmanager-all`` (embedded default: SQLite, noauth), N simulated
subclouds registered in bulk across three subcloud groups, then the page is opened and
the browser's own timings read (``window.dcmanagerTimings``, from the page's first
script):

- first render: until the grid drew the first page of subclouds (5000);
- loaded: until every page was in and drawn;
- render: the last full redraw of the grid (filter, group, lay out, draw);
- update: one live update after ``--changes`` subclouds changed, once the audit found
  the fleet online (the changed-since question, the answer merged, the grid drawn
  again), how many subclouds it brought, and its server time from the API's access
  log;
- summary: then, with a prestage strategy created over the whole fleet, one answer of
  ``GET /v1.0/sw-update-strategy/summary`` (what the strategy view polls every second),
  median of 20, timed by the client.

Chromium and ChromeDriver come from Debian's packages (see ``tests/browser.py``).

Usage:
  python tools/bench_ui.py [--subclouds 50000] [--runs 3] [--changes 100]
  python tools/bench_ui.py --subclouds 60 --screenshots doc/images
"""

import argparse
import datetime
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

import bench

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tests import browser as test_browser  # noqa: E402 - the repository's root first

GROUPS = ("edge-east", "edge-west", "lab")
WAIT = 300


def write_config(state: str, port: int) -> str:
    path = os.path.join(state, "dcmanager.conf")
    with open(path, "w") as config:
        config.write(
            f"[DEFAULT]\nstate_path = {state}\nauth_strategy = noauth\n"
            f"[api]\nbind_port = {port}\n"
            "[scheduler]\nsubcloud_audit_interval = 2\n"
            "[orchestrator]\npoll_interval = 0.2\n"
        )
    return path


def register(api: str, count: int) -> None:
    """N subclouds in three groups; a few offline, a few failing their images."""
    groups = [bench.request("POST", f"{api}/subcloud-groups", {"name": g})["id"] for g in GROUPS]
    for first in range(1, count + 1, bench.BULK):
        entries = []
        for i in range(first, min(first + bench.BULK, count + 1)):
            options = "?delay=0.5"
            if i % 23 == 0:
                options = "?offline=true"
            elif i % 17 == 0:
                options = "?delay=0.5&fail=images"
            entries.append(
                {
                    "name": f"sc{i:05d}",
                    "endpoint": f"simulated://sc{i:05d}{options}",
                    "group": groups[i % len(groups)],
                }
            )
        bench.request("POST", f"{api}/subclouds/bulk", {"subclouds": entries, "manage": True})


def wait(driver, script: str, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = driver.execute_script(script)
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"the page did not show {what} within {timeout:.0f} s")


def timings(driver) -> dict:
    return driver.execute_script("return window.dcmanagerTimings") or {}


def server_ms(log: str) -> float | None:
    """The API's time for the last changed-since question, from its access log."""
    found = re.findall(r'"GET /v1.0/subclouds\?changed-since=[^ ]* HTTP/1.1" 200 \d+ ([\d.]+)', log)
    return float(found[-1]) * 1000 if found else None


def measure(driver, api: str, url: str, log_path: str, count: int, changes: int) -> dict:
    wait_audited(api, count)  # else the audit's own changes come with the update
    driver.get(url + "/ui/#/fleet")
    wait(driver, "return window.dcmanagerTimings && window.dcmanagerTimings.loaded", "the grid")
    loaded = timings(driver)
    before = loaded.get("updates", 0)
    for n in range(1, changes + 1):
        bench.request("PATCH", f"{api}/subclouds/sc{n:05d}", {"description": f"changed {n}"})
    script = (
        "const t = window.dcmanagerTimings;"
        f"return t.updates > {before} && t.lastUpdate && t.lastUpdate.changed >= {changes} && t;"
    )
    updated = wait(driver, script, "the update")
    with open(log_path) as log:
        server = server_ms(log.read())
    summary = summary_ms(api)
    return {
        "first_render_ms": loaded["firstRender"],
        "loaded_ms": loaded["loaded"],
        "render_ms": updated["render"],
        "update_ms": updated["lastUpdate"]["ms"],
        "update_changed": updated["lastUpdate"]["changed"],
        "update_server_ms": server or float("nan"),
        "summary_ms": summary,
    }


def summary_ms(api: str, times: int = 20) -> float:
    """A prestage of every subcloud created; its summary's answer time, median."""
    bench.upload_release(api)
    body = bench.create_body(argparse.Namespace(type="prestage", max_parallel=5000))
    bench.request("POST", f"{api}/sw-update-strategy", body)
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        bench.request("GET", f"{api}/sw-update-strategy/summary")
        spent.append((time.perf_counter() - start) * 1000)
    return statistics.median(spent)


def wait_audited(api: str, count: int) -> None:
    """Until the audit found every subcloud but the offline ones online, and then
    changed nothing for a while (what it records after bringing a site online would
    otherwise come with the measured update)."""
    wanted = count - count // 23
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        listed = bench.request("GET", f"{api}/subclouds")
        if sum(sc["availability-status"] == "online" for sc in listed["subclouds"]) >= wanted:
            break
        time.sleep(2)
    else:
        raise SystemExit("the audit did not bring the subclouds online")
    since = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=15)).isoformat()
    while time.monotonic() < deadline:
        time.sleep(2)
        # Empty: nothing changed since the overlap before the last answer.
        query = urllib.parse.urlencode({"changed-since": since})
        changed = bench.request("GET", f"{api}/subclouds?{query}")
        if not changed["subclouds"]:
            return
        since = changed["next-changed-since"]
    raise SystemExit("the audit kept changing the subclouds")


def screenshots(driver, api: str, url: str, directory: pathlib.Path, count: int) -> None:
    wait_audited(api, count)
    bench.upload_release(api)
    body = bench.create_body(argparse.Namespace(type="prestage", max_parallel=10))
    bench.request("POST", f"{api}/sw-update-strategy", body)
    bench.request("POST", f"{api}/sw-update-strategy/actions", {"action": "apply"})
    driver.get(url + "/ui/#/fleet")
    wait(driver, "return window.dcmanagerTimings && window.dcmanagerTimings.loaded", "the grid")
    driver.execute_script(
        "const s = document.getElementById('color-by'); s.value = 'prestage';"
        "s.dispatchEvent(new Event('change'));"
    )
    time.sleep(8)  # some sites prestaged, some under way, some failed
    directory.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(directory / "ui-fleet.png"))
    driver.get(url + "/ui/#/strategy")
    wait(driver, "return document.querySelector('#phases .phase')", "the strategy")
    time.sleep(2)
    driver.save_screenshot(str(directory / "ui-strategy.png"))
    print(f"screenshots: {directory / 'ui-fleet.png'}, {directory / 'ui-strategy.png'}")


def one_run(args, driver) -> dict | None:
    state = tempfile.mkdtemp(prefix="dcmanager-bench-ui-")
    port = bench.free_port()
    url = f"http://127.0.0.1:{port}"
    config = write_config(state, port)
    subprocess.run(
        [os.path.join(bench.BIN, "dcmanager-manage"), "--config-file", config, "db_sync"],
        check=True,
        capture_output=True,
    )
    processes = [bench.start("dcmanager-all", config, state)]
    try:
        bench.wait_for_api(url + "/v1.0", processes, state)
        register(url + "/v1.0", args.subclouds)
        if args.screenshots:
            screenshots(driver, url + "/v1.0", url, pathlib.Path(args.screenshots), args.subclouds)
            return None
        log_path = os.path.join(state, "dcmanager-all-0.log")
        return measure(driver, url + "/v1.0", url, log_path, args.subclouds, args.changes)
    finally:
        bench.stop(processes)
        shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subclouds", type=int, default=50000, help="N (default 50000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--changes", type=int, default=100, help="subclouds changed at once")
    parser.add_argument("--screenshots", help="take the README's pictures into this directory")
    args = parser.parse_args()
    driver = test_browser.start()
    try:
        if args.screenshots:
            one_run(args, driver)
            return 0
        print(f"dashboard: N={args.subclouds}, {args.changes} changed, runs={args.runs}")
        runs = []
        for number in range(1, args.runs + 1):
            runs.append(one_run(args, driver))
            print(f"run {number}: " + ", ".join(f"{k} {v:.0f}" for k, v in runs[-1].items()))
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print("median: " + ", ".join(f"{k} {v:.0f}" for k, v in median.items()))
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
