"""What each state of an application operation at a site does (seed 000), as functions
from a step to its outcome, for the same step engine as prestage.

The operation's arguments were fixed when it started (``ctx.app``, see
:mod:`dcmanager.apps.site`): the action, the target version and its charts, the
site's records it moves and their ledgers, the user overrides and phase overlays.
An update uploads the version, then applies it (never applied at the site, or a
simplex site) or rolls back to the revisions of its inactive record, then cleans up
the old version; a failure after the upload recovers the old version, and a failed
recovery leaves the application ``apply-failed``. Every action is idempotent: an
operation already started is polled, not started again.
"""

from typing import Any

from oslo_db import exception as db_exc

from dcmanager.apps import site
from dcmanager.common import app_states
from dcmanager.common import exception
from dcmanager.common.app_states import AppStatus
from dcmanager.common.states import MAX_DETAILS
from dcmanager.common.states import FailureKind
from dcmanager.common.states import StepState
from dcmanager.common.subcloud_states import AvailabilityStatus
from dcmanager.common.subcloud_states import ManagementState
from dcmanager.drivers import base as driver_base
from dcmanager.orchestrator import prestage
from dcmanager.orchestrator.prestage import Outcome
from dcmanager.orchestrator.prestage import StepContext

Kind = driver_base.OperationKind

UPDATE_PHASES = ("trafficdrain", "upgrade", "test", "trafficrollout")
IMAGES_PRESTAGED = "the images of {app} {version} were prestaged here"
IMAGES_NOT_PRESTAGED = (
    "the images of {app} {version} were not prestaged here: the update pulls them"
)
ROLLBACK_PHASES = ("trafficdrain", "rollback", "test", "trafficrollout")
RECOVER_PHASES = ("rollback", "trafficrollout")


def _move(record_id: int, source: str, target: str, **values: Any) -> tuple[int, dict]:
    app_states.check_transition(source, target)
    return record_id, {"status": str(target), **values}


def _finish(
    ctx: StepContext,
    state: StepState,
    reason: str | None,
    records: list,
    kind: FailureKind = FailureKind.OPERATION,
) -> Outcome:
    """The step ends in ``state``; a failure (of ``kind``) has details that end with
    what the site's application is left at."""
    details = None
    failed = state == StepState.FAILED
    if reason:
        left = _left_at(ctx, records) if failed else None
        details = f"{ctx.state}: {reason}{f' ({left})' if left else ''}"[:MAX_DETAILS]
    return Outcome(
        state=state, details=details, app_records=records, failure=kind if failed else None
    )


def _left_at(ctx: StepContext, records: list) -> str | None:
    """``app: version status`` of the record these changes leave current, if any."""
    args = ctx.app
    versions = {args.get("record"): args["version"]}
    if args.get("from"):
        versions[args["from"]["id"]] = args["from"]["version"]
    for record_id, values in records:
        status = (values or {}).get("status")
        if status and status != AppStatus.INACTIVE and record_id in versions:
            return f"{args['app']}: {versions[record_id]} {status}"
    return None


def _undo(ctx: StepContext) -> list[tuple[int, dict | None]]:
    return [(record_id, values) for record_id, values in ctx.app.get("undo", [])]


def _target_undo(ctx: StepContext) -> list[tuple[int, dict | None]]:
    record_id, values = ctx.app["target_undo"]
    return [(record_id, values)]


def _current_revisions(ctx: StepContext) -> dict[str, int]:
    """The revision of each release the site runs now (before this operation)."""
    args = ctx.app
    ledger = args["from"]["releases"] if args["from"] else args["own_releases"]
    return {entry["release"]: int(entry["revision"]) for entry in ledger}


def _request(ctx: StepContext, releases=None, phases=(), **extra: Any) -> driver_base.AppRequest:
    args = ctx.app
    return driver_base.AppRequest(
        app=args["app"],
        version=extra.pop("version", args["version"]),
        digest=args["digest"],
        releases=tuple(releases if releases is not None else _target_releases(ctx)),
        values=args["values"],
        phases=tuple(phases),
        phase_values={
            p: spec.get("values", {})
            for p, spec in extra.pop("phase_values", args["phase_values"]).items()
        },
        **extra,
    )


def _target_releases(ctx: StepContext) -> list[dict[str, Any]]:
    current = _current_revisions(ctx)
    return [
        {
            "release": chart["release"],
            "namespace": chart["namespace"],
            "chart": chart["name"],
            "chart_version": chart["version"],
            "revision": current.get(chart["release"], 0),
        }
        for chart in ctx.app["charts"]
    ]


def _named(release: dict[str, Any]) -> dict[str, str]:
    return {"release": release["release"], "namespace": release["namespace"]}


def _merged(ledger: list[dict], reported: list[dict]) -> list[dict]:
    """``ledger`` with what the site reported of its releases (a failed apply reports
    those it touched, so that a removal uninstalls them)."""
    by_release = {entry["release"]: entry for entry in ledger}
    by_release.update({entry["release"]: entry for entry in reported})
    return list(by_release.values())


def _forget(ledgers: list[list], names: set[str]) -> list[tuple[int, dict[str, Any]]]:
    """The record changes that drop the releases ``names`` (uninstalled at the site,
    their Helm history gone) from these ``[record id, ledger]``: a later update back to
    such a version installs them afresh instead of rolling back to a revision that
    no longer is theirs."""
    changes = []
    for record_id, ledger in ledgers:
        kept = [entry for entry in ledger if entry["release"] not in names]
        if kept != ledger:
            changes.append((record_id, {"releases": kept}))
    return changes


def _system_mode(ctx: StepContext, env: prestage.Environment) -> str | None:
    subcloud = env.subcloud(ctx)
    return subcloud.system_mode if subcloud is not None else None


# The states' actions, and what each does when it fails (the operation failed, the
# site stopped answering, or an error): the records never stay busy.


def precheck(ctx: StepContext, env: prestage.Environment) -> Outcome:
    """The site must be managed, online and answering; records its system mode (the
    choice between apply and rollback depends on it)."""
    subcloud = env.subcloud(ctx)
    if subcloud is None:
        gone = f"Subcloud {ctx.subcloud_name} no longer exists."
        return _finish(ctx, StepState.FAILED, gone, [], FailureKind.INELIGIBLE)
    if subcloud.management_state != ManagementState.MANAGED:
        unmanaged = f"Subcloud {ctx.subcloud_name} is unmanaged."
        return precheck_failed(ctx, unmanaged, {}, FailureKind.INELIGIBLE)
    if subcloud.availability_status != AvailabilityStatus.ONLINE:
        offline = f"Subcloud {ctx.subcloud_name} is offline."
        return precheck_failed(ctx, offline, {}, FailureKind.UNREACHABLE)
    try:
        info = env.driver(ctx).get_system_info()
    except driver_base.SubcloudUnreachable as exc:
        return precheck_failed(ctx, exc.message, {}, FailureKind.UNREACHABLE)
    if info.health_problem:
        unhealthy = f"Subcloud health check failed: {info.health_problem}"
        return precheck_failed(ctx, unhealthy, {}, FailureKind.HEALTH)
    action = ctx.app["action"]
    following = (
        StepState.APP_REMOVING
        if action == "remove"
        else StepState.APP_UPLOADING
        if ctx.app["upload"]
        else StepState.APP_APPLYING
    )
    details = None
    if ctx.strategy_id is not None and action == "update":
        # What the strategy's step reports of the site: are the images there already?
        held = site.images_prestaged(subcloud, ctx.app["app"], ctx.app["version"])
        note = IMAGES_PRESTAGED if held else IMAGES_NOT_PRESTAGED
        details = f"{ctx.state}: {note.format(app=ctx.app['app'], version=ctx.app['version'])}"
    return Outcome(state=following, details=details, subcloud={"system_mode": info.system_mode})


def pending_update(strategy_args: dict[str, Any]) -> dict[str, Any]:
    """An app-update strategy's step before its precheck began the update at the site:
    the application and the version the strategy resolved."""
    return {
        "kind": "app",
        "action": "update",
        "app": strategy_args["app"],
        "version": strategy_args["version"],
        "require_prestaged": bool(strategy_args.get("require-prestaged")),
        "pending": True,
    }


def is_pending(ctx: StepContext) -> bool:
    """Whether the step has yet to begin its update at the site."""
    return bool(ctx.app and ctx.app.get("pending"))


def update_precheck(ctx: StepContext, env: prestage.Environment) -> Outcome:
    """An app-update strategy's step: the engine began the update at the site as the
    step's precheck started (under the site's lock, see
    :func:`dcmanager.apps.operations.begin_strategy_steps`); a site with nothing to
    update is skipped, one the site's records refuse fails, one whose strategy was
    aborted before it began is aborted, the others are checked as a standalone
    update's precheck checks them."""
    args = ctx.app
    if args.get("pending"):
        # Not begun: the step is no longer this worker's (recording it finds that).
        return Outcome(operation=ctx.operation, wait=prestage.Wait.OPERATION)
    if "refused" in args:
        ends = StepState(args["ends"])
        if ends == StepState.ABORTED:
            return Outcome(state=ends, details=args["refused"])
        return _finish(ctx, ends, args["refused"], [], FailureKind.INELIGIBLE)
    return precheck(ctx, env)


def precheck_failed(
    ctx: StepContext, reason: str, result: dict, kind: FailureKind = FailureKind.OPERATION
) -> Outcome:
    return _finish(ctx, StepState.FAILED, reason, _undo(ctx), kind)


def upload(ctx: StepContext, env: prestage.Environment) -> Outcome:
    args = ctx.app

    def done(operation: driver_base.Operation) -> Outcome:
        rollback = (
            args["action"] == "update"
            and args["inactive_releases"]
            and _system_mode(ctx, env) != "simplex"
        )
        records = [_move(args["record"], AppStatus.UPLOADING, AppStatus.APPLYING, progress=None)]
        return Outcome(
            state=StepState.APP_ROLLING_BACK if rollback else StepState.APP_APPLYING,
            app_records=records,
        )

    return prestage.run_operation(
        ctx, env, Kind.APP_UPLOAD, done, _request(ctx), lambda r, o: upload_failed(ctx, r, o)
    )


def upload_failed(ctx: StepContext, reason: str, result: dict) -> Outcome:
    args = ctx.app
    if args["action"] != "update":
        records = [
            _move(
                args["record"],
                AppStatus.UPLOADING,
                AppStatus.UPLOAD_FAILED,
                progress=reason[:MAX_DETAILS],
            )
        ]
        return _finish(ctx, StepState.FAILED, reason, records)
    # Nothing changed at the site: the old version is recovered without Helm.
    old = args["from"]
    note = f"update to {args['version']} failed at upload: {reason}; still {old['version']}"
    records = _target_undo(ctx) + [
        _move(old["id"], AppStatus.UPDATING, AppStatus.APPLIED, progress=note[:MAX_DETAILS])
    ]
    return _finish(ctx, StepState.FAILED, reason, records)


def _applied(ctx: StepContext, operation: driver_base.Operation) -> Outcome:
    """An apply or rollback succeeded: the version is applied, the old one inactive."""
    args = ctx.app
    records = [
        _move(
            args["record"],
            AppStatus.APPLYING,
            AppStatus.APPLIED,
            releases=operation.result.get("releases", []),
            phases=operation.result.get("phases", {}),
            progress=f"cleaning up version {args['from']['version']}" if args["from"] else None,
        )
    ]
    if args["action"] != "update":
        return Outcome(state=StepState.COMPLETE, app_records=records)
    records.append(_move(args["from"]["id"], AppStatus.UPDATING, AppStatus.INACTIVE, progress=None))
    return Outcome(state=StepState.APP_CLEANUP, app_records=records)


def apply_failed(ctx: StepContext, reason: str, result: dict) -> Outcome:
    """An apply or rollback failed: a fresh apply ends ``apply-failed``; an update
    recovers the old version."""
    args = ctx.app
    phases = result.get("phases", {})
    if args["action"] != "update":
        records = [
            _move(
                args["record"],
                AppStatus.APPLYING,
                AppStatus.APPLY_FAILED,
                progress=reason[:MAX_DETAILS],
                phases=phases,
                releases=_merged(args["own_releases"], result.get("releases", [])),
            )
        ]
        return _finish(ctx, StepState.FAILED, reason, records)
    old = args["from"]
    note = f"update to {args['version']} failed: {reason}; recovering {old['version']}"
    records = _target_undo(ctx) + [
        _move(
            old["id"],
            AppStatus.UPDATING,
            AppStatus.RECOVERING,
            progress=note[:MAX_DETAILS],
            phases=phases,
        )
    ]
    return _finish(ctx, StepState.APP_RECOVERING, reason, records)


def apply(ctx: StepContext, env: prestage.Environment) -> Outcome:
    args = ctx.app
    if args["action"] == "update":
        phases = UPDATE_PHASES
    else:
        phases = ("install",) if not args["own_releases"] else ("upgrade",)
    return prestage.run_operation(
        ctx,
        env,
        Kind.APP_APPLY,
        lambda operation: _applied(ctx, operation),
        _request(ctx, phases=phases),
        lambda reason, result: apply_failed(ctx, reason, result),
    )


def rollback(ctx: StepContext, env: prestage.Environment) -> Outcome:
    """Back to the revisions of the version's inactive record; a release it had that
    the site no longer runs is installed afresh."""
    earlier = {entry["release"]: int(entry["revision"]) for entry in ctx.app["inactive_releases"]}
    releases = []
    for release in _target_releases(ctx):
        if release["revision"] and release["release"] in earlier:
            release = {**release, "to_revision": earlier[release["release"]]}
        releases.append(release)
    return prestage.run_operation(
        ctx,
        env,
        Kind.APP_ROLLBACK,
        lambda operation: _applied(ctx, operation),
        _request(ctx, releases=releases, phases=ROLLBACK_PHASES),
        lambda reason, result: apply_failed(ctx, reason, result),
    )


def cleanup(ctx: StepContext, env: prestage.Environment) -> Outcome:
    """Remove the old version's releases that the new one lacks, and its files."""
    args = ctx.app
    keep = {chart["release"] for chart in args["charts"]}
    gone = [_named(e) for e in args["from"]["releases"] if e["release"] not in keep]
    request = _request(ctx, releases=[], uninstall=tuple(gone), old_version=args["from"]["version"])
    return prestage.run_operation(
        ctx,
        env,
        Kind.APP_CLEANUP,
        lambda operation: Outcome(
            state=StepState.COMPLETE,
            app_records=[(args["record"], {"progress": None})]
            + _forget(
                args["inactive"] + [[args["from"]["id"], args["from"]["releases"]]],
                {entry["release"] for entry in gone},
            ),
        ),
        request,
        lambda reason, result: cleanup_failed(ctx, reason, result),
    )


def cleanup_failed(ctx: StepContext, reason: str, result: dict) -> Outcome:
    """The new version is applied all the same; its record says what is left over."""
    note = f"applied; cleanup of version {ctx.app['from']['version']} failed: {reason}"
    return _finish(
        ctx, StepState.COMPLETE, reason, [(ctx.app["record"], {"progress": note[:MAX_DETAILS]})]
    )


def _why(ctx: StepContext) -> str:
    """Why the update failed (the details recorded when the step began to recover)."""
    return (ctx.details or "").partition(": ")[2] or "the update failed"


def recover(ctx: StepContext, env: prestage.Environment) -> Outcome:
    """Roll the old version's releases back to the revisions it ran at, and remove
    the releases the new version added; the step fails either way (the update did)."""
    args = ctx.app
    old = args["from"]
    had = {entry["release"] for entry in old["releases"]}
    added = [_named(chart) for chart in args["charts"] if chart["release"] not in had]
    releases = [{**entry, "to_revision": entry["revision"]} for entry in old["releases"]]
    request = _request(
        ctx,
        releases=releases,
        phases=RECOVER_PHASES,
        uninstall=tuple(added),
        version=old["version"],
        phase_values=old.get("phase_values", {}),
    )

    def done(operation: driver_base.Operation) -> Outcome:
        note = f"update to {args['version']} failed: {_why(ctx)}; recovered to {old['version']}"
        records = [
            _move(
                old["id"],
                AppStatus.RECOVERING,
                AppStatus.APPLIED,
                releases=operation.result.get("releases", old["releases"]),
                phases=operation.result.get("phases", {}),
                progress=note[:MAX_DETAILS],
            )
        ]
        return _finish(
            ctx, StepState.FAILED, f"{_why(ctx)}; recovered to {old['version']}", records
        )

    return prestage.run_operation(
        ctx, env, Kind.APP_RECOVER, done, request, lambda r, o: recover_failed(ctx, r, o)
    )


def recover_failed(ctx: StepContext, reason: str, result: dict) -> Outcome:
    args = ctx.app
    note = f"update to {args['version']} failed: {_why(ctx)}; recovery failed: {reason}"
    old = args["from"]
    had = {entry["release"] for entry in old["releases"]}
    # What the failed version added may still run: a removal must uninstall it too.
    added = [
        {**_named(chart), "chart": chart["name"], "chart_version": chart["version"], "revision": 0}
        for chart in args["charts"]
        if chart["release"] not in had
    ]
    records = [
        _move(
            old["id"],
            AppStatus.RECOVERING,
            AppStatus.APPLY_FAILED,
            phases=result.get("phases", {}),
            progress=note[:MAX_DETAILS],
            releases=old["releases"] + added,
        )
    ]
    return _finish(
        ctx,
        StepState.FAILED,
        f"{_why(ctx)}; recovery failed: {reason}",
        records,
        FailureKind.RECOVERY,
    )


def remove(ctx: StepContext, env: prestage.Environment) -> Outcome:
    args = ctx.app
    ledger = args["own_releases"]
    request = _request(
        ctx,
        releases=ledger,
        phases=("uninstall",),
        uninstall=tuple(_named(entry) for entry in ledger),
    )

    def done(operation: driver_base.Operation) -> Outcome:
        records = [
            _move(
                args["record"],
                AppStatus.REMOVING,
                AppStatus.UPLOADED,
                releases=[],
                phases=operation.result.get("phases", {}),
                progress=None,
            )
        ]
        records += _forget(args["inactive"], {entry["release"] for entry in ledger})
        return Outcome(state=StepState.COMPLETE, app_records=records)

    return prestage.run_operation(
        ctx, env, Kind.APP_REMOVE, done, request, lambda r, o: remove_failed(ctx, r, o)
    )


def remove_failed(ctx: StepContext, reason: str, result: dict) -> Outcome:
    records = [
        _move(
            ctx.app["record"],
            AppStatus.REMOVING,
            AppStatus.REMOVE_FAILED,
            phases=result.get("phases", {}),
            progress=reason[:MAX_DETAILS],
        )
    ]
    return _finish(ctx, StepState.FAILED, reason, records)


ACTIONS = {
    StepState.APP_UPDATE_PRECHECK: (update_precheck, precheck_failed),
    StepState.APP_PRECHECK: (precheck, precheck_failed),
    StepState.APP_UPLOADING: (upload, upload_failed),
    StepState.APP_APPLYING: (apply, apply_failed),
    StepState.APP_ROLLING_BACK: (rollback, apply_failed),
    StepState.APP_CLEANUP: (cleanup, cleanup_failed),
    StepState.APP_RECOVERING: (recover, recover_failed),
    StepState.APP_REMOVING: (remove, remove_failed),
}


def act(ctx: StepContext, env: prestage.Environment) -> Outcome:
    """Run the action of the step's state; an error is that state's failure, so the
    site's records never stay busy."""
    action, failed = ACTIONS[ctx.state]
    try:
        return action(ctx, env)
    except db_exc.DBError:
        raise  # the database is away: the engine retries the whole batch
    except exception.DCManagerException as exc:
        return failed(ctx, exc.message, {})
    except Exception:
        prestage.log_for(ctx).exception("failed in %s", ctx.state)
        outcome = failed(ctx, "internal error (see the dcmanager log)", {})
        if outcome.failure is not None and outcome.failure != FailureKind.RECOVERY:
            outcome.failure = FailureKind.INTERNAL
        return outcome
