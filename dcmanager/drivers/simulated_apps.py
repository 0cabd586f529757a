"""Application operations on a simulated subcloud.

Like the rest of the simulator they keep no state: the releases' new revisions follow
Helm's rules from what the request says the site runs (an install or an upgrade is the
next revision, a rollback too), and travel in the operation's id to whoever polls it.
"""

import base64
import json
from typing import Any

from dcmanager.drivers import base

Kind = base.OperationKind


def _revisions(kind: Kind, request: base.AppRequest) -> list[dict[str, Any]]:
    """The ledger after the operation: every release one revision further."""
    if kind in (Kind.APP_UPLOAD, Kind.APP_CLEANUP, Kind.APP_REMOVE):
        return []
    return [
        {
            key: release[key]
            for key in ("release", "namespace", "chart", "chart_version")
            if key in release
        }
        | {"revision": int(release.get("revision", 0)) + 1}
        for release in request.releases
    ]


def outcome(kind: Kind, request: base.PrestageRequest | base.AppRequest) -> str:
    """What the operation will report, as it travels in its id (URL-safe base64,
    never a ``:``)."""
    assert isinstance(request, base.AppRequest)
    data = {"releases": _revisions(kind, request), "phases": list(request.phases)}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def poll(kind: Kind, operation_id: str, done: bool, fail: frozenset[str]) -> base.Operation:
    encoded = operation_id.rsplit(":", 2)[1]
    planned = json.loads(base64.urlsafe_b64decode(encoded))
    if not done:
        return base.Operation(kind=kind, id=operation_id)
    phases = {phase: "done" for phase in planned["phases"]}
    error = None
    if kind in fail:
        error = f"simulated failure of the {kind} (fail={kind})"
    elif kind == Kind.APP_APPLY and "test" in phases and "app-test" in fail:
        # The update's test phase fails: the site rolls back and rolls traffic out
        # again as part of the recovery that follows.
        phases["test"] = "failed"
        for later in ("trafficrollout",):
            phases.pop(later, None)
        error = "the test phase failed (simulated: fail=app-test)"
    if error:
        return base.Operation(
            kind=kind, id=operation_id, done=True, error=error, result={"phases": phases}
        )
    return base.Operation(
        kind=kind,
        id=operation_id,
        done=True,
        result={"releases": planned["releases"], "phases": phases},
    )
