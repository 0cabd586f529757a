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


# Helpers for API tests that run without the engine roles (nothing moves by itself).

PLAIN_PASSWORD = base64.b64decode(PASSWORD).decode()


def register(
    api, name: str, options: str = "", group: str | None = None, managed: bool = True
) -> dict:
    """Register a simulated subcloud (managed unless told otherwise); no waiting."""
    body = {"name": name, "endpoint": f"simulated://{name}{'?' + options if options else ''}"}
    if group:
        body["group"] = group
    subcloud = api.post_json("/v1.0/subclouds", body).json
    if managed:
        subcloud = api.patch_json(f"/v1.0/subclouds/{name}", {"management-state": "managed"}).json
    return subcloud


def audit_once(conf) -> None:
    """One audit round over every subcloud, now, in this thread: what the audit role does
    each interval (online when the subcloud answers, its reported deploy status)."""
    from dcmanager.audit import service as audit_service

    audit_service.audit_once(conf)


def set_options(api, name: str, options: str = "") -> dict:
    """Change what a simulated subcloud does from now on (its endpoint's options)."""
    endpoint = f"simulated://{name}{'?' + options if options else ''}"
    return api.patch_json(f"/v1.0/subclouds/{name}", {"endpoint": endpoint}).json


def wait_step(api, cloud: str, predicate: Callable[[dict], Any], what: str, timeout=30.0):
    """Poll ``/steps/{cloud}`` until ``predicate(step)``; returns the step."""
    return wait_for(
        lambda: (step := api.get(f"{STEPS}/{cloud}").json) and predicate(step) and step,
        timeout,
        f"step {cloud}: {what}",
    )


def wait_subcloud(api, name: str, predicate: Callable[[dict], Any], what: str, timeout=30.0):
    """Poll ``/subclouds/{name}`` until ``predicate(subcloud)``; returns the subcloud."""
    return wait_for(
        lambda: (sc := api.get(f"/v1.0/subclouds/{name}").json) and predicate(sc) and sc,
        timeout,
        f"subcloud {name}: {what}",
    )


# Checks shared by the strategy and prestage API tests.


def assert_error(resp, status: int, message: str) -> None:
    """The error body of the API contract, with exactly ``message``."""
    from http import HTTPStatus

    assert resp.status_int == status, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json == {"code": status, "title": HTTPStatus(status).phrase, "message": message}


def request(api, method: str, path: str, body: bytes = b""):
    """A request as curl sends it: JSON content type, the body bytes as given."""
    return api.request(
        path, method=method, body=body, content_type="application/json", expect_errors=True
    )


def db_rows(engine) -> dict:
    """The strategy and step rows (the columns a change touches), from the database."""
    from sqlalchemy import orm
    from sqlalchemy import select

    from dcmanager.db.sqlalchemy import models

    strategy, step = models.Strategy, models.StrategyStep
    with orm.Session(engine) as session:
        strategies = session.execute(
            select(
                strategy.id,
                strategy.state,
                strategy.secret,
                strategy.extra_args,
                strategy.updated_at,
            )
        ).all()
        steps = session.execute(
            select(
                step.id,
                step.strategy_id,
                step.subcloud_id,
                step.state,
                step.secret,
                step.updated_at,
            ).order_by(step.id)
        ).all()
    return {"strategies": [tuple(r) for r in strategies], "steps": [tuple(r) for r in steps]}


def snapshot(api, engine) -> dict:
    """Everything a user can see (strategy, steps, subclouds, groups) and the rows behind
    the strategy, to compare before and after a rejected request."""
    strategy = api.get(STRATEGY, expect_errors=True)
    steps = api.get(STEPS, expect_errors=True)
    return {
        "strategy": (strategy.status_int, strategy.json),
        "steps": (steps.status_int, steps.json),
        "subclouds": api.get("/v1.0/subclouds").json,
        "groups": api.get("/v1.0/subcloud-groups").json,
        "rows": db_rows(engine),
    }


def record_responses(api, monkeypatch) -> list:
    """Record every response ``api`` gives from now on (for :func:`assert_no_password`)."""
    seen: list = []
    original = api.do_request

    def record(req, *args, **kwargs):
        resp = original(req, *args, **kwargs)
        seen.append(resp)
        return resp

    monkeypatch.setattr(api, "do_request", record)
    return seen


def assert_no_password(responses: list) -> None:
    """No response (body or headers) carries the password, plain or base64."""
    assert responses
    for resp in responses:
        text = resp.body.decode("utf-8", "replace") + str(resp.headers)
        for secret in (PASSWORD, PASSWORD.rstrip("="), PLAIN_PASSWORD):
            assert secret not in text, f"{resp.request.method} {resp.request.path_qs}: {text}"
