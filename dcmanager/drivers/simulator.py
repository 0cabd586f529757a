"""The simulated subcloud behind ``simulated://NAME?OPTIONS`` endpoints.

For the demo, tests and benchmarks. Options (query string, all optional):

``delay``
    seconds each phase (precheck, packages, images) takes; float, default 0.
``fail``
    phases that fail, comma-separated: ``precheck`` (health check), ``packages``,
    ``images``, and the application operations ``app-upload``, ``app-apply``,
    ``app-rollback``, ``app-test`` (the test phase of an update), ``app-cleanup``,
    ``app-recover``, ``app-remove``.
``offline``
    ``true``: the subcloud does not answer.
``system_mode``
    ``simplex`` (default) or ``duplex``.
``alarms``
    number of management-affecting alarms, default 0.
``controller0_active``
    ``false``: controller-1 is active (matters for duplex prestage for install).
``image_list``
    ``false``: the release has no image list, so no images are prestaged.
``deploy_status``
    what the subcloud reports as its deploy status, default ``complete``.
``free_disk_gb``
    free disk space, default 100.
``software_version``
    the release it runs.
``prestaged``
    the releases wholly prestaged there, comma-separated (may be empty). Not given,
    the subcloud does not say what it holds: a simulated prestage leaves nothing behind,
    so the audit keeps what the controller recorded.
``apps``
    the application versions there, ``NAME@VERSION[:STATE]`` comma-separated (may be
    empty), STATE ``applied`` (the default), ``apply-failed`` or ``uploaded``. Not
    given, the subcloud does not say (its simulated application operations leave
    nothing behind either).

With ``DCMANAGER_SIMULATOR_JOURNAL=FILE`` in a process's environment, every call it
makes to a simulated subcloud (``info``, ``start``, ``poll``) is appended to FILE as one
JSON line with the time, the process id, the subcloud and the phase. Tests read the
journal to prove who ran what and when (e.g. that no two workers ever drive the same
step at once); it is set through the environment, not the endpoint, so an API caller
cannot make a service write files.

The simulator keeps no state of its own: an operation's id records when it started,
and every poll reads the endpoint's current options, so operations survive worker
restarts and an operator can change a simulated subcloud (e.g. take it offline) by
updating its endpoint. With ``DCMANAGER_SIMULATOR_STATE=DIR`` in the environment of the
processes that drive it, it remembers every operation started by its key (a file per
subcloud and key under DIR, created atomically), as a real subcloud does: starting one
again with the same key (a step replayed after a crash, on any process) finds the
operation started, and a new key (the next attempt) starts a new one. Without it,
starting an operation again starts its clock again. The journal records the operation's
id with every ``start`` and ``poll``.
"""

import dataclasses
import json
import os
import tempfile
import urllib.parse
from typing import Any

from dcmanager.common import endpoints
from dcmanager.drivers import base
from dcmanager.drivers import simulated_apps as apps

# What a simulated release transfers.
PACKAGES_BYTES = 2 * 1024**3
PACKAGES_COUNT = 400
IMAGES_BYTES = 3 * 1024**3
IMAGES_COUNT = 60
RELEASE_BYTES = PACKAGES_BYTES + IMAGES_BYTES

JOURNAL_VARIABLE = "DCMANAGER_SIMULATOR_JOURNAL"
STATE_VARIABLE = "DCMANAGER_SIMULATOR_STATE"


class SimulatedSubcloud(base.SubcloudDriver):
    blocking_io = False

    def _record(self, call: str, kind: str | None = None, operation: str | None = None) -> None:
        path = os.environ.get(JOURNAL_VARIABLE)
        if not path:
            return
        line = json.dumps(
            {
                "t": self.clock.time(),
                "pid": os.getpid(),
                "subcloud": self.name,
                "call": call,
                "kind": kind,
                "op": operation,
            }
        )
        # One write of one short line in append mode: lines from several processes
        # never interleave.
        with open(path, "a") as journal:
            journal.write(line + "\n")

    def _options(self) -> dict[str, Any]:
        options = endpoints.simulator_options(self.endpoint)
        if options["offline"]:
            raise base.SubcloudUnreachable(name=self.name, reason="simulated offline")
        return options

    def get_system_info(self, timeout: float | None = None) -> base.SystemInfo:
        """Answers at once: ``timeout`` is never reached."""
        self._record("info")
        return self._system_info()

    def _system_info(self) -> base.SystemInfo:
        options = self._options()
        return base.SystemInfo(
            system_mode=options["system_mode"],
            controller0_active=options["controller0_active"],
            management_alarms=options["alarms"],
            free_disk_bytes=int(options["free_disk_gb"] * 1024**3),
            deploy_status=options["deploy_status"],
            software_version=options["software_version"],
            prestaged_versions=options["prestaged"],
            applications=_applications(options["apps"]),
            health_problem=(
                "simulated health check failure (fail=precheck)"
                if base.OperationKind.PRECHECK in options["fail"]
                else None
            ),
        )

    def start(
        self, kind: base.OperationKind, request: base.PrestageRequest | base.AppRequest, key: str
    ) -> base.Operation:
        self._options()
        # The id carries what the operation will report (an application operation's
        # ledger), so that any worker's poll can tell without state here.
        outcome = apps.outcome(kind, request) if kind in base.APP_KINDS else ""
        if kind == base.OperationKind.IMAGES:
            outcome = str(len(request.images))  # the applications' images, counted too
        operation_id = _remembered(
            self.name, key, f"{kind}:{key}:{outcome}:{self.clock.time():.6f}"
        )
        self._record("start", str(kind), operation_id)
        return self._poll({"kind": str(kind), "id": operation_id})

    def poll(self, handle: dict[str, str]) -> base.Operation:
        self._record("poll", handle["kind"], handle["id"])
        return self._poll(handle)

    def cancel(self, handle: dict[str, str]) -> base.Operation:
        """The operation as it stands, ended as cancelled if it was running (a
        stateless simulation forgets the cancel: a later poll finds it running again)."""
        self._record("cancel", handle["kind"])
        remembered = _remembered_id(self.name, handle["id"])
        if remembered is not None:  # a key: cancel the operation it started
            handle = {**handle, "id": remembered}
        try:
            operation = self._poll(handle)
        except ValueError:  # a key, not a handle this simulator made: never started
            return base.Operation(
                kind=base.OperationKind(handle["kind"]), id=handle["id"], done=True
            )
        if operation.done:
            return operation
        return dataclasses.replace(operation, done=True, error="cancelled")

    def _poll(self, handle: dict[str, str]) -> base.Operation:
        options = self._options()
        kind = base.OperationKind(handle["kind"])
        started = float(handle["id"].rsplit(":", 1)[1])
        delay = options["delay"]
        fraction = 1.0 if delay <= 0 else min(1.0, (self.clock.time() - started) / delay)
        done = fraction >= 1.0
        operation = {"kind": kind, "id": handle["id"], "done": done}
        if kind in base.APP_KINDS:
            return apps.poll(kind, handle["id"], done, options["fail"])
        if kind == base.OperationKind.PRECHECK:
            if done:
                info = self._system_info()
                info = dataclasses.replace(
                    info,
                    needed_bytes=RELEASE_BYTES,
                    prestaged_versions=info.prestaged_versions or (),
                )
                operation["result"] = info.to_dict()
            return base.Operation(**operation)
        extra = int(handle["id"].rsplit(":", 2)[1] or 0) if kind == base.OperationKind.IMAGES else 0
        if kind == base.OperationKind.IMAGES and not options["image_list"] and not extra:
            return base.Operation(
                kind=kind,
                id=handle["id"],
                done=True,
                result={"skipped": "the release has no image list: no images to prestage"},
            )
        if done and kind in options["fail"]:
            operation["error"] = f"simulated failure of the {kind} transfer (fail={kind})"
            return base.Operation(**operation)
        total_bytes, total_count = (
            (PACKAGES_BYTES, PACKAGES_COUNT)
            if kind == base.OperationKind.PACKAGES
            else (IMAGES_BYTES, (IMAGES_COUNT if options["image_list"] else 0) + extra)
        )
        operation["progress"] = base.Progress(
            bytes_done=int(total_bytes * fraction),
            bytes_total=total_bytes,
            artifacts_done=int(total_count * fraction),
            artifacts_total=total_count,
        )
        return base.Operation(**operation)


def _remembered(name: str, key: str, operation_id: str) -> str:
    """The id of the operation started at subcloud ``name`` with ``key``: the one
    remembered under ``$DCMANAGER_SIMULATOR_STATE`` if any, else ``operation_id`` (then
    remembered: the first process to link its file wins, the others read it)."""
    path = _key_path(name, key)
    if path is None:
        return operation_id
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False) as draft:
        draft.write(operation_id)
    try:
        os.link(draft.name, path)
    except FileExistsError:
        with open(path) as remembered:
            return remembered.read()
    finally:
        os.unlink(draft.name)
    return operation_id


def _key_path(name: str, key: str) -> str | None:
    state = os.environ.get(STATE_VARIABLE)
    if not state:
        return None
    return os.path.join(state, urllib.parse.quote(name, safe=""), urllib.parse.quote(key, safe=""))


def _remembered_id(name: str, key: str) -> str | None:
    """The id of the operation ``key`` started at ``name``, if one is remembered."""
    path = _key_path(name, key)
    if path is None:
        return None
    try:
        with open(path) as remembered:
            return remembered.read()
    except FileNotFoundError:
        return None


def _applications(
    apps: tuple[tuple[str, str, str], ...] | None,
) -> tuple[base.SiteApplication, ...] | None:
    """The ``apps`` option as the site's applications (without their releases: a
    simulated site knows no revisions, so the audit compares versions and states)."""
    if apps is None:
        return None
    return tuple(base.SiteApplication(name, version, state) for name, version, state in apps)
