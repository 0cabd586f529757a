"""What each prestage phase does, as functions from a step to its outcome.

Every action is idempotent: it may run again for the same step after a restart or on
another worker (an operation already started is polled, not started again; a
preparation already done is not redone). Actions never wait: a phase that takes time
starts an operation and returns ``Wait.OPERATION``; the engine polls it later.
"""

import dataclasses
import datetime
import enum
import logging
from collections.abc import Callable
from typing import Any

from oslo_config import cfg
from oslo_db import exception as db_exc

from dcmanager.apps import site
from dcmanager.common import exception
from dcmanager.common import logcontext
from dcmanager.common.states import MAX_DETAILS
from dcmanager.common.states import FailureKind
from dcmanager.common.states import PreparationState
from dcmanager.common.states import StepState
from dcmanager.common.subcloud_states import AvailabilityStatus
from dcmanager.common.subcloud_states import DeployStatus
from dcmanager.common.subcloud_states import ManagementState
from dcmanager.common.subcloud_states import PrestageStatus
from dcmanager.db.sqlalchemy import models
from dcmanager.drivers import base as driver_base
from dcmanager.orchestrator import retries

LOG = logging.getLogger(__name__)

ALREADY_PRESTAGING = "Subcloud is already prestaging."
ALARMS_MESSAGE = (
    "Subcloud has management affecting alarm(s). Please resolve the alarm "
    "condition(s) or use --force option and try again."
)


def eligibility_problem(subcloud: models.Subcloud) -> str | None:
    """Why the subcloud cannot be prestaged now, or None (checked at strategy creation,
    and again, fresh, when its step starts)."""
    if subcloud.availability_status != AvailabilityStatus.ONLINE:
        return "Subcloud is offline."
    if subcloud.management_state != ManagementState.MANAGED:
        return "Subcloud is not managed."
    if subcloud.deploy_status != DeployStatus.COMPLETE:
        return f"Subcloud deploy status is {subcloud.deploy_status}, not complete."
    if subcloud.prestage_status == PrestageStatus.PRESTAGING:
        return ALREADY_PRESTAGING
    return None


def merge_versions(current: str | None, release: str) -> str:
    """``prestage-versions`` after ``release`` was prestaged (sorted, no repeats)."""
    versions = {v for v in (current or "").split(",") if v}
    versions.add(release)
    return ",".join(sorted(versions))


def merge_apps(current: list[str] | None, apps: tuple[tuple[str, str], ...]) -> list[str]:
    """The subcloud's prestaged application versions after these (sorted, no repeats)."""
    return sorted({*(current or []), *(site.app_label(app, version) for app, version in apps)})


@dataclasses.dataclass
class StepContext:
    """What a worker knows about a step it holds (loaded when it claims it)."""

    step_id: int
    strategy_id: int | None
    subcloud_id: int
    subcloud_name: str
    endpoint: str
    state: StepState
    operation: dict[str, str] | None
    request: driver_base.PrestageRequest | None
    """A prestage's request (None for an application operation)."""
    prestage_versions: str | None
    app: dict[str, Any] | None = None
    """An application operation's arguments (see ``dcmanager.orchestrator.appsteps``)."""
    details: str | None = None
    """The step's details as last recorded."""
    unreachable_since: float | None = None
    """When (monotonic clock) the subcloud stopped answering this step, if it did."""
    attempt: int = 1
    """The attempt under way (see :mod:`dcmanager.orchestrator.retries`)."""
    history: list[dict[str, Any]] | None = None
    """The earlier attempts' outcomes."""
    retry: Any = None
    """The strategy's :class:`~dcmanager.orchestrator.retries.RetryPolicy`, if it has one."""
    phase_started_at: datetime.datetime | None = None
    """When the step entered its state (None for a step older than the measure)."""
    timings: dict[str, dict[str, float]] | None = None
    """What each phase it left took (see :func:`dcmanager.orchestrator.eta.phase_passed`)."""


def log_for(ctx: StepContext, logger: logging.Logger = LOG) -> logging.LoggerAdapter:
    """``logger`` with the step's context on every line."""
    return logcontext.bind(logger, ctx.strategy_id, ctx.subcloud_name, ctx.step_id)


class Wait(enum.Enum):
    OPERATION = "operation"
    """An operation runs on the subcloud; poll it later."""
    PREPARATION = "preparation"
    """Another worker prepares the release's packages; look again later."""


@dataclasses.dataclass
class Outcome:
    """What an action decided. ``state`` None: the step stays where it is and waits."""

    state: StepState | None = None
    operation: dict[str, str] | None = None
    progress: dict[str, int] | None = None
    details: str | None = None
    subcloud: dict[str, Any] | None = None
    wait: Wait | None = None
    app_records: list[tuple[int, dict[str, Any] | None]] = dataclasses.field(default_factory=list)
    """Changes to the site's application records (see ``StepChange.app_records``)."""
    failure: FailureKind | None = None
    """A failed step's kind of failure (whether its retry policy may retry it)."""
    retry_values: dict[str, Any] | None = None
    """Set when the failure is retried: the step's columns for its wait (the engine's)."""


@dataclasses.dataclass
class Environment:
    """What actions may use besides the step itself."""

    conf: cfg.ConfigOpts
    owner: str
    driver: Callable[[StepContext], driver_base.SubcloudDriver]
    subcloud: Callable[[StepContext], models.Subcloud | None]
    """The subcloud as the database has it now."""
    other_active_step: Callable[[StepContext], bool]
    claim_preparation: Callable[[StepContext], tuple[models.PrestagePreparation, bool]]
    """The strategy's preparation row, and whether this call took it to prepare."""
    preparation_state: Callable[[StepContext], models.PrestagePreparation | None]
    start_preparation: Callable[[StepContext], None]
    """Prepare the packages in the background (once per strategy, or for a standalone
    step); the steps waiting on it are woken when it ends."""
    standalone_preparation: Callable[[StepContext], str | None | bool]
    """A standalone step's preparation: False if not finished (or never started), None
    once done, or the reason it failed."""
    app_images: Callable[[StepContext], list[str]]
    """The images the step's applications need at its subcloud (see
    :func:`dcmanager.apps.images.for_apps`)."""
    clock: Callable[[], float]
    """Monotonic seconds."""


def fail(
    ctx: StepContext,
    reason: str,
    touch_subcloud: bool = True,
    kind: FailureKind = FailureKind.OPERATION,
) -> Outcome:
    """The step fails in its current state; the subcloud shows why (unless the failure
    is that another prestage holds it)."""
    details = f"{ctx.state}: {reason}"[:MAX_DETAILS]
    subcloud = (
        {"prestage_status": str(PrestageStatus.FAILED), "error_description": reason}
        if touch_subcloud
        else None
    )
    return Outcome(state=StepState.FAILED, details=details, subcloud=subcloud, failure=kind)


def operation_key(ctx: StepContext, kind: driver_base.OperationKind) -> str:
    """The idempotency key of the step's ``kind`` operation in its current attempt: the
    same on every worker (a new owner that starts it again finds it started), another
    for the next attempt (which must not find the failed one). A first attempt's is
    ``<step>:<kind>``, as before attempts were counted, so that a step replayed across
    an upgrade finds its operation."""
    if ctx.attempt == 1:
        return f"{ctx.step_id}:{kind}"
    return f"{ctx.step_id}:{ctx.attempt}:{kind}"


def _starting(ctx: StepContext) -> dict[str, Any] | None:
    """Subcloud columns to set when the step really starts (its first precheck)."""
    if ctx.state == StepState.PRECHECK and ctx.operation is None:
        return {
            "prestage_status": str(PrestageStatus.PRESTAGING),
            "prestage_software_version": ctx.request.release,
            "error_description": None,
        }
    return None


def run_operation(
    ctx: StepContext,
    env: Environment,
    kind: driver_base.OperationKind,
    finish: Callable[[driver_base.Operation], Outcome],
    request: driver_base.PrestageRequest | driver_base.AppRequest | None = None,
    failed: Callable[[str, dict[str, Any]], Outcome] | None = None,
) -> Outcome:
    """Start the phase's operation (with ``request``, by default the step's prestage
    request), or poll the one in flight; ``finish`` decides once it succeeded, and
    ``failed`` (given the reason and what the operation reported; by default the
    step fails) once it failed or the subcloud stopped answering."""
    if failed is None:

        def failed(reason: str, result: dict[str, Any]) -> Outcome:
            return fail(ctx, reason)

    driver = env.driver(ctx)
    try:
        if ctx.operation and ctx.operation.get("kind") == kind:
            operation = driver.poll(ctx.operation)
        else:
            operation = driver.start(kind, request or ctx.request, operation_key(ctx, kind))
    except driver_base.SubcloudUnreachable as exc:
        subcloud = env.subcloud(ctx)
        if subcloud is None or subcloud.availability_status == AvailabilityStatus.OFFLINE:
            return _unreachable(
                failed(f"Subcloud {ctx.subcloud_name} went offline ({exc.message}).", {})
            )
        now = env.clock()
        if ctx.unreachable_since is None:
            ctx.unreachable_since = now
        elif now - ctx.unreachable_since > env.conf.orchestrator.unreachable_timeout:
            return _unreachable(
                failed(
                    f"Subcloud {ctx.subcloud_name} did not answer for "
                    f"{env.conf.orchestrator.unreachable_timeout:.0f} s ({exc.message}).",
                    {},
                )
            )
        # Not (yet) offline for the audit: try again at the next poll.
        return Outcome(operation=ctx.operation, wait=Wait.OPERATION, subcloud=_starting(ctx))
    ctx.unreachable_since = None
    if not operation.done:
        progress = operation.progress.to_dict() if operation.progress else None
        return Outcome(
            operation=operation.handle(),
            progress=progress,
            wait=Wait.OPERATION,
            subcloud=_starting(ctx),
        )
    if operation.error:
        return failed(operation.error, operation.result)
    outcome = finish(operation)
    if outcome.progress is None and operation.progress is not None:
        outcome.progress = operation.progress.to_dict()
    return outcome


def _unreachable(outcome: Outcome) -> Outcome:
    """A failure for want of an answer is of that kind, whatever phase it ended; but a
    kind never retried stays (a recovery that failed because the site went away left
    its application for an operator all the same)."""
    if outcome.failure is not None and outcome.failure not in retries.NEVER_RETRIED:
        outcome.failure = FailureKind.UNREACHABLE
    return outcome


def precheck(ctx: StepContext, env: Environment) -> Outcome:
    subcloud = env.subcloud(ctx)
    if subcloud is None:
        return fail(
            ctx, f"Subcloud {ctx.subcloud_name} no longer exists.", False, FailureKind.INELIGIBLE
        )
    if subcloud.management_state != ManagementState.MANAGED:
        return fail(ctx, f"Subcloud {ctx.subcloud_name} is unmanaged.", kind=FailureKind.INELIGIBLE)
    if env.other_active_step(ctx):
        # A strategy step leaves the subcloud to the prestage that holds it; a standalone
        # prestage set "prestaging" itself and must say it failed.
        return fail(
            ctx,
            f"Subcloud {ctx.subcloud_name} is already prestaging.",
            touch_subcloud=ctx.strategy_id is None,
            kind=FailureKind.INELIGIBLE,
        )
    problem = eligibility_problem(subcloud)
    if problem and problem != ALREADY_PRESTAGING:
        offline = subcloud.availability_status != AvailabilityStatus.ONLINE
        return fail(
            ctx, problem, kind=FailureKind.UNREACHABLE if offline else FailureKind.INELIGIBLE
        )

    def evaluate(operation: driver_base.Operation) -> Outcome:
        info = driver_base.SystemInfo.from_dict(operation.result)
        if info.health_problem:
            return fail(
                ctx, f"Subcloud health check failed: {info.health_problem}", kind=FailureKind.HEALTH
            )
        if info.system_mode == "duplex" and ctx.request.for_install and not info.controller0_active:
            return fail(
                ctx,
                "Prestage for install on a duplex subcloud needs controller-0 active.",
                kind=FailureKind.SYSTEM_MODE,
            )
        if info.management_alarms and not ctx.request.force:
            return fail(ctx, ALARMS_MESSAGE, kind=FailureKind.ALARMS)
        release = ctx.request.release
        needed = 0 if release in info.prestaged_versions else info.needed_bytes or 0
        if info.free_disk_bytes < needed:
            return fail(
                ctx,
                f"Not enough free disk space for release {release}: "
                f"{info.free_disk_bytes / 1024**3:.1f} GiB free, "
                f"{needed / 1024**3:.1f} GiB needed.",
                kind=FailureKind.DISK,
            )
        return Outcome(state=StepState.PREPARING_PACKAGES, subcloud=_starting(ctx))

    return run_operation(ctx, env, driver_base.OperationKind.PRECHECK, evaluate)


def prepare_packages(ctx: StepContext, env: Environment) -> Outcome:
    """Wait for the release's packages to be prepared: once per strategy (whichever
    worker takes the preparation row prepares, in the background), or for itself when
    the step is a standalone prestage."""
    go = Outcome(state=StepState.PRESTAGING_PACKAGES)
    wait = Outcome(wait=Wait.PREPARATION)
    if ctx.strategy_id is None:
        result = env.standalone_preparation(ctx)
        if result is False:
            env.start_preparation(ctx)
            return wait
        return go if result is None else fail(ctx, result, kind=FailureKind.PREPARATION)
    row = env.preparation_state(ctx)
    if row is None or row.state == PreparationState.RUNNING:
        row, taken = env.claim_preparation(ctx)
        if taken:
            env.start_preparation(ctx)
            return wait
    if row.state == PreparationState.DONE:
        return go
    if row.state == PreparationState.FAILED:
        return fail(
            ctx, row.details or "preparing the packages failed", kind=FailureKind.PREPARATION
        )
    return wait


def prestage_packages(ctx: StepContext, env: Environment) -> Outcome:
    return run_operation(
        ctx,
        env,
        driver_base.OperationKind.PACKAGES,
        lambda operation: Outcome(state=StepState.PRESTAGING_IMAGES),
    )


def prestage_images(ctx: StepContext, env: Environment) -> Outcome:
    """The release's images, and those of the applications the prestage names (found
    when the transfer starts)."""
    request = ctx.request
    starting = not (ctx.operation and ctx.operation.get("kind") == driver_base.OperationKind.IMAGES)
    if request.apps and starting:
        request = dataclasses.replace(request, images=tuple(env.app_images(ctx)))

    def complete(operation: driver_base.Operation) -> Outcome:
        skipped = operation.result.get("skipped")
        subcloud = env.subcloud(ctx)
        values = {
            "prestage_status": str(PrestageStatus.COMPLETE),
            "prestage_versions": merge_versions(
                (subcloud or ctx).prestage_versions, ctx.request.release
            ),
            "error_description": None,
        }
        if request.apps:
            current = subcloud.prestage_apps if subcloud is not None else None
            values["prestage_apps"] = merge_apps(current, request.apps)
        return Outcome(
            state=StepState.COMPLETE,
            details=f"{StepState.PRESTAGING_IMAGES}: skipped: {skipped}" if skipped else None,
            subcloud=values,
        )

    return run_operation(ctx, env, driver_base.OperationKind.IMAGES, complete, request)


def _size(count: int) -> str:
    return f"{count / 1024**2:.1f} MiB"


# The operation each prestage state runs at the subcloud.
OPERATION_OF = {
    StepState.PRECHECK: driver_base.OperationKind.PRECHECK,
    StepState.PRESTAGING_PACKAGES: driver_base.OperationKind.PACKAGES,
    StepState.PRESTAGING_IMAGES: driver_base.OperationKind.IMAGES,
}


def _cancel(ctx: StepContext, env: Environment) -> tuple[str, dict[str, int] | None]:
    """Cancel the state's operation at the subcloud: what to say of it, and its last
    progress. Without a recorded handle it is cancelled by its key, in case its start
    reached the subcloud but the answer did not come back (an unknown key is nothing
    to cancel)."""
    kind = OPERATION_OF.get(ctx.state)
    if kind is None:
        return "", None
    handle = ctx.operation
    if not handle or handle.get("kind") != kind:
        handle = {"kind": str(kind), "id": operation_key(ctx, kind)}
    try:
        operation = env.driver(ctx).cancel(handle)
    except exception.DCManagerException as exc:  # unreachable, or refused
        return f" (the cancel did not reach the subcloud: {exc.message})", None
    progress = operation.progress
    if progress is None or not progress.bytes_total:
        return ("" if operation.done else " (cancel requested at the subcloud)"), None
    moved = f"{_size(progress.bytes_done)} of {_size(progress.bytes_total)} transferred"
    if not operation.done:
        moved = f"cancel requested at the subcloud; {moved} so far"
    return f" ({moved}; the next prestage resumes from there)", progress.to_dict()


def abort(ctx: StepContext, env: Environment) -> Outcome:
    """The strategy was aborted: the step stops where it is. An operation under way is
    cancelled at the subcloud; what it transferred stays there, and the next prestage
    of the release resumes from it."""
    said, progress = _cancel(ctx, env)
    details = f"{ctx.state}: aborted{said}"[:MAX_DETAILS]
    touched = ctx.state != StepState.PRECHECK
    if not touched:
        # The precheck marks the subcloud prestaging at its first attempt, answered or
        # not, unless another prestage holds it.
        row = env.subcloud(ctx)
        touched = (
            row is not None
            and row.prestage_status == PrestageStatus.PRESTAGING
            and not env.other_active_step(ctx)
        )
    subcloud = (
        {
            "prestage_status": str(PrestageStatus.FAILED),
            "error_description": f"Prestage aborted in {ctx.state}{said}."[:MAX_DETAILS],
        }
        if touched
        else None
    )
    return Outcome(state=StepState.ABORTED, details=details, progress=progress, subcloud=subcloud)


ACTIONS: dict[StepState, Callable[[StepContext, Environment], Outcome]] = {
    StepState.PRECHECK: precheck,
    StepState.PREPARING_PACKAGES: prepare_packages,
    StepState.PRESTAGING_PACKAGES: prestage_packages,
    StepState.PRESTAGING_IMAGES: prestage_images,
}


def act(ctx: StepContext, env: Environment) -> Outcome:
    """Run the action of the step's state. Errors become the step's failure: a step
    never hangs on an error."""
    try:
        return ACTIONS[ctx.state](ctx, env)
    except db_exc.DBError:
        raise  # the database is away: the engine retries the whole batch
    except exception.DCManagerException as exc:
        return fail(ctx, exc.message, kind=getattr(exc, "failure_kind", FailureKind.OPERATION))
    except Exception:
        log_for(ctx).exception("failed in %s", ctx.state)
        return fail(ctx, "internal error (see the dcmanager log)", kind=FailureKind.INTERNAL)
