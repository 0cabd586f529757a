"""Helpers for tests that run strategies through the real API and engine."""

import base64
import time
from collections.abc import Callable
from typing import Any

PASSWORD = base64.b64encode(b"Li69nux*").decode()
STRATEGY = "/v1.0/sw-update-strategy"
STEPS = f"{STRATEGY}/steps"
FINAL = ("complete", "failed", "aborted")


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def add_subclouds(api, names: list[str], options: str = "", group: str | None = None) -> None:
    """Register and manage subclouds, then wait until the audit has them online."""
    for name in names:
        body = {"name": name, "endpoint": f"simulated://{name}{'?' + options if options else ''}"}
        if group:
            body["group"] = group
        api.post_json("/v1.0/subclouds", body)
        api.patch_json(f"/v1.0/subclouds/{name}", {"management-state": "managed"})
    wait_for(
        lambda: all(
            api.get(f"/v1.0/subclouds/{name}").json["availability-status"] == "online"
            for name in names
        ),
        what=f"{names} online",
    )


def create(api, **body) -> dict:
    return api.post_json(STRATEGY, {"type": "prestage", "sysadmin_password": PASSWORD, **body}).json


def apply(api) -> dict:
    return api.post_json(f"{STRATEGY}/actions", {"action": "apply"}).json


def wait_final(api, timeout: float = 60.0) -> dict:
    return wait_for(
        lambda: (s := api.get(STRATEGY).json)["state"] in FINAL and s,
        timeout,
        "the strategy to end",
    )


def steps(api) -> dict[str, dict]:
    return {step["cloud"]: step for step in api.get(STEPS).json["strategy-steps"]}


def max_in_flight(step_list: list[dict]) -> int:
    """The most steps that were past initial and not finished at the same time, from
    their recorded start and finish times (a finish at the same instant frees first)."""
    events = []
    for step in step_list:
        if step["started-at"]:
            events.append((step["started-at"], 1))
            events.append((step["finished-at"], -1))
    events.sort(key=lambda event: (event[0], event[1]))
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak
