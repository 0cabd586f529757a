"""The orchestration vocabulary shared by the API, the database layer, the engine and the
CLI: strategy types and apply types, every strategy, step and preparation state, the
prestage phases, the limits of a strategy, and the transitions allowed between states.

It sits at the bottom of the package and imports nothing of it. The engine moves
strategies and steps only along these tables (each move a compare-and-swap in the
database, which checks it against them); ``tests/unit/test_states.py`` walks the graphs, and
``tox -e states`` renders them (``python -m dcmanager.common.states``).
"""

import datetime
import enum
import sys
from collections.abc import Mapping


class ApplyType(enum.StrEnum):
    PARALLEL = "parallel"
    """Up to max-parallel-subclouds steps run at once."""
    SERIAL = "serial"
    """One step at a time (max-parallel-subclouds is 1)."""


class StrategyType(enum.StrEnum):
    PRESTAGE = "prestage"
    """Get a release's packages and container images onto subclouds ahead of time."""
    APP_UPDATE = "app-update"
    """Update an application to one version across subclouds (seed 000, fleet-wide)."""


class StrategyState(enum.StrEnum):
    INITIAL = "initial"
    """Created; its steps are planned and nothing runs until it is applied."""
    APPLYING = "applying"
    """Steps run, at most max-parallel-subclouds at a time."""
    PAUSING = "pausing"
    """An operator paused it: no step starts; the running ones finish."""
    PAUSED = "paused"
    """Paused with no step running; resuming it starts steps again."""
    ABORT_REQUESTED = "abort requested"
    """An operator asked to abort; the orchestrator has not acted on it yet."""
    ABORTING = "aborting"
    """Steps not started are aborted; running steps finish."""
    COMPLETE = "complete"
    """Every step completed (or was skipped)."""
    FAILED = "failed"
    """At least one step failed."""
    ABORTED = "aborted"
    """Aborted, and no step failed."""
    DELETING = "deleting"
    """Being removed with its steps and secrets."""


STRATEGY_TRANSITIONS: Mapping[StrategyState, frozenset[StrategyState]] = {
    StrategyState.INITIAL: frozenset({StrategyState.APPLYING, StrategyState.DELETING}),
    StrategyState.APPLYING: frozenset(
        {
            StrategyState.PAUSING,
            StrategyState.ABORT_REQUESTED,
            StrategyState.COMPLETE,
            StrategyState.FAILED,
            StrategyState.ABORTED,
        }
    ),
    # Paused once its running steps ended, or ended if no step was left to start.
    StrategyState.PAUSING: frozenset(
        {
            StrategyState.PAUSED,
            StrategyState.APPLYING,
            StrategyState.ABORT_REQUESTED,
            StrategyState.COMPLETE,
            StrategyState.FAILED,
            StrategyState.ABORTED,
        }
    ),
    StrategyState.PAUSED: frozenset({StrategyState.APPLYING, StrategyState.ABORT_REQUESTED}),
    StrategyState.ABORT_REQUESTED: frozenset({StrategyState.ABORTING}),
    StrategyState.ABORTING: frozenset({StrategyState.ABORTED, StrategyState.FAILED}),
    StrategyState.COMPLETE: frozenset({StrategyState.DELETING}),
    # retry-failed runs the failed steps again.
    StrategyState.FAILED: frozenset({StrategyState.APPLYING, StrategyState.DELETING}),
    StrategyState.ABORTED: frozenset({StrategyState.DELETING}),
    StrategyState.DELETING: frozenset(),
}

STRATEGY_FINISHED = frozenset({StrategyState.COMPLETE, StrategyState.FAILED, StrategyState.ABORTED})
# States an operator may delete a strategy from.
STRATEGY_DELETABLE = STRATEGY_FINISHED | {StrategyState.INITIAL}
# States of a strategy under way (its subclouds are taken): the orchestrator works on
# it, or it is paused.
STRATEGY_ACTIVE = frozenset(
    {
        StrategyState.APPLYING,
        StrategyState.PAUSING,
        StrategyState.PAUSED,
        StrategyState.ABORT_REQUESTED,
        StrategyState.ABORTING,
    }
)
# Where each action moves a strategy from (apply, pause, resume, abort, retry-failed).
STRATEGY_ACTIONS: Mapping[str, tuple[frozenset[StrategyState], StrategyState]] = {
    "apply": (frozenset({StrategyState.INITIAL}), StrategyState.APPLYING),
    "pause": (frozenset({StrategyState.APPLYING}), StrategyState.PAUSING),
    "resume": (frozenset({StrategyState.PAUSING, StrategyState.PAUSED}), StrategyState.APPLYING),
    "abort": (
        frozenset({StrategyState.APPLYING, StrategyState.PAUSING, StrategyState.PAUSED}),
        StrategyState.ABORT_REQUESTED,
    ),
    "retry-failed": (frozenset({StrategyState.FAILED}), StrategyState.APPLYING),
}


class StepState(enum.StrEnum):
    INITIAL = "initial"
    """Waiting for a free slot in the max-parallel window."""
    PRECHECK = "prestage-precheck"
    """Checking the subcloud can be prestaged: reachable, healthy, enough disk."""
    PREPARING_PACKAGES = "prestage-preparing-packages"
    """Waiting for the release's packages to be prepared (once per strategy)."""
    PRESTAGING_PACKAGES = "prestaging-packages"
    """Packages are being transferred to the subcloud."""
    PRESTAGING_IMAGES = "prestaging-images"
    """Container images are being transferred to the subcloud."""
    COMPLETE = "complete"
    """Prestaged."""
    FAILED = "failed"
    """Failed; ``details`` says in which state and why."""
    ABORTED = "aborted"
    """Never started: the strategy was aborted or stopped on a failure."""
    SKIPPED = "skipped"
    """Left out (not eligible at creation, or an app-update's site found already at
    the target version when its step started); ``details`` says why."""
    APP_UPDATE_PRECHECK = "app-update-precheck"
    """An app-update strategy's step checks the subcloud and the site's records of the
    application (every refusal of an update) and starts the update there."""
    APP_PRECHECK = "app-precheck"
    """Checking an application operation may run on the subcloud (reachable, the
    site's record of the application allows it) and choosing apply or rollback."""
    APP_UPLOADING = "app-uploading"
    """The application version's tarball is being put on the subcloud."""
    APP_APPLYING = "app-applying"
    """Its charts are being applied (Helm install / upgrade), phase by phase."""
    APP_ROLLING_BACK = "app-rolling-back"
    """Its releases are rolled back to the revisions the site ran this version at."""
    APP_CLEANUP = "app-cleanup"
    """The old version's releases that the new one lacks, and its files, are removed."""
    APP_RECOVERING = "app-recovering"
    """The update failed: the site is brought back to the version it ran."""
    APP_REMOVING = "app-removing"
    """The application's releases are uninstalled (its uninstall phase first)."""


class FailureKind(enum.StrEnum):
    """What ended a step's attempt in failure: a retry policy names the kinds it never
    retries (retrying cannot help them)."""

    PASSWORD = "password"
    """The site refused the sysadmin password."""
    SYSTEM_MODE = "system-mode"
    """The site's system mode does not allow the operation (a duplex site where
    controller-0 must be active)."""
    DISK = "disk"
    """Not enough free disk space at the site."""
    INELIGIBLE = "ineligible"
    """The subcloud cannot be acted on: gone, unmanaged, not deployed, or another
    prestage holds it."""
    HEALTH = "health"
    """The site's health check failed."""
    ALARMS = "alarms"
    """The site has management-affecting alarms."""
    UNREACHABLE = "unreachable"
    """The site went offline or stopped answering."""
    OPERATION = "operation"
    """The operation failed at the site (a transfer, an application phase)."""
    RECOVERY = "recovery"
    """An application update failed and so did the recovery of the site's earlier
    version (never retried: the site's application needs an operator)."""
    PREPARATION = "preparation"
    """The strategy's one preparation of the release's packages failed (never retried:
    it is not prepared again)."""
    INTERNAL = "internal"
    """An unexpected error in dcmanager (see its log)."""


# A step's details (``<state>: <reason>``) never exceed this many characters.
MAX_DETAILS = 1000
# The details of a step aborted before it started.
NOT_STARTED_ABORTED = "Not started: the strategy was aborted."
NOT_STARTED_STOPPED = "Not started: the strategy stops on failure and a step failed."
NOT_STARTED_BUDGET = "Not started: more steps failed than the strategy's failure budget ({})."


def failure_budget(stop_on_failure: bool, extra_args: Mapping | None) -> int | None:
    """How many steps of a strategy may fail before it starts no more (None: any
    number): 0 with stop-on-failure, else what max-failures came to at creation
    (``failure-budget`` in its arguments)."""
    if stop_on_failure:
        return 0
    return (extra_args or {}).get("failure-budget")


def over_budget(stop_on_failure: bool, extra_args: Mapping | None, failed: int) -> str | None:
    """Why a strategy with ``failed`` failed steps starts no more (what a step not
    started ends with), or None while it is within its failure budget."""
    budget = failure_budget(stop_on_failure, extra_args)
    if budget is None or failed <= budget:
        return None
    return NOT_STARTED_STOPPED if stop_on_failure else NOT_STARTED_BUDGET.format(budget)


NOT_STARTED_WINDOW = "Not started: the maintenance window closed at {}."


def _window_time(extra_args: Mapping | None, key: str) -> datetime.datetime | None:
    """A bound of the strategy's maintenance window (stored as ISO 8601 UTC), as naive
    UTC like the engine's clock."""
    value = (extra_args or {}).get(key)
    if value is None:
        return None
    return datetime.datetime.fromisoformat(value).astimezone(datetime.UTC).replace(tzinfo=None)


def window_start(extra_args: Mapping | None) -> datetime.datetime | None:
    """The strategy's ``start-after`` (naive UTC), if it has one."""
    return _window_time(extra_args, "start-after")


def window_not_open(extra_args: Mapping | None, now: datetime.datetime) -> bool:
    """Whether ``now`` is before the strategy's ``start-after``: no step starts yet."""
    start = window_start(extra_args)
    return start is not None and now < start


def window_closed(extra_args: Mapping | None, now: datetime.datetime) -> str | None:
    """Why no more steps start once the strategy's ``no-new-steps-after`` has passed
    (what a step not started ends with), or None before it."""
    end = _window_time(extra_args, "no-new-steps-after")
    if end is None or now < end:
        return None
    return NOT_STARTED_WINDOW.format(extra_args["no-new-steps-after"])


# How many subclouds a strategy (or a group's default) may work on at once.
MIN_PARALLEL = 1
MAX_PARALLEL = 5000

# The prestage phases in the order a step walks them.
PRESTAGE_PHASES = (
    StepState.PRECHECK,
    StepState.PREPARING_PACKAGES,
    StepState.PRESTAGING_PACKAGES,
    StepState.PRESTAGING_IMAGES,
)
# The states a step of an app-update strategy may walk, in order.
APP_UPDATE_PHASES = (
    StepState.APP_UPDATE_PRECHECK,
    StepState.APP_UPLOADING,
    StepState.APP_APPLYING,
    StepState.APP_ROLLING_BACK,
    StepState.APP_CLEANUP,
    StepState.APP_RECOVERING,
)
# Each strategy type's table of step states: a step starts in the first.
STRATEGY_PHASES: Mapping[StrategyType, tuple[StepState, ...]] = {
    StrategyType.PRESTAGE: PRESTAGE_PHASES,
    StrategyType.APP_UPDATE: APP_UPDATE_PHASES,
}
# The states of a step running an application operation on its subcloud.
APP_PHASES = (
    StepState.APP_UPDATE_PRECHECK,
    StepState.APP_PRECHECK,
    StepState.APP_UPLOADING,
    StepState.APP_APPLYING,
    StepState.APP_ROLLING_BACK,
    StepState.APP_CLEANUP,
    StepState.APP_RECOVERING,
    StepState.APP_REMOVING,
)
STEP_ACTIVE = frozenset(PRESTAGE_PHASES) | frozenset(APP_PHASES)
# The states a strategy's steps may be in (of every type), in the order the API lists
# them; the other states are those of standalone application operations.
STRATEGY_STEP_STATES = tuple(
    state
    for state in StepState
    if state not in APP_PHASES or any(state in phases for phases in STRATEGY_PHASES.values())
)
STEP_FINISHED = frozenset(
    {StepState.COMPLETE, StepState.FAILED, StepState.ABORTED, StepState.SKIPPED}
)

STEP_TRANSITIONS: Mapping[StepState, frozenset[StepState]] = {
    # A step waiting for its retry whose strategy starts no more steps ends failed, as
    # its last attempt did.
    StepState.INITIAL: frozenset(
        {
            StepState.PRECHECK,
            StepState.APP_UPDATE_PRECHECK,
            StepState.APP_PRECHECK,
            StepState.ABORTED,
            StepState.FAILED,
        }
    ),
    # A prestage step stops where it is when its strategy is aborted (a transfer under
    # way is cancelled at the subcloud).
    # A failure the strategy's retry policy retries takes the step back to initial, to
    # wait for its next attempt without a place in the window.
    StepState.PRECHECK: frozenset(
        {StepState.PREPARING_PACKAGES, StepState.FAILED, StepState.ABORTED, StepState.INITIAL}
    ),
    StepState.PREPARING_PACKAGES: frozenset(
        {StepState.PRESTAGING_PACKAGES, StepState.FAILED, StepState.ABORTED, StepState.INITIAL}
    ),
    StepState.PRESTAGING_PACKAGES: frozenset(
        {StepState.PRESTAGING_IMAGES, StepState.FAILED, StepState.ABORTED, StepState.INITIAL}
    ),
    StepState.PRESTAGING_IMAGES: frozenset(
        {StepState.COMPLETE, StepState.FAILED, StepState.ABORTED, StepState.INITIAL}
    ),
    # An app-update strategy's step: skipped when the site runs the target already
    # (or lacks the application); refused by the site's records, it fails.
    # Aborted when the strategy was aborted before the update began at the site.
    # Its retry policy may take it back to initial from the states it fails in (the
    # site's records put back first).
    StepState.APP_UPDATE_PRECHECK: frozenset(
        {
            StepState.APP_UPLOADING,
            StepState.SKIPPED,
            StepState.FAILED,
            StepState.ABORTED,
            StepState.INITIAL,
        }
    ),
    # Seed 000: upload, then apply (never applied at the site, or a simplex site) or
    # roll back (an inactive record of the version), then clean up; a failure after
    # the upload recovers the version the site ran.
    StepState.APP_PRECHECK: frozenset(
        {
            StepState.APP_UPLOADING,
            StepState.APP_APPLYING,
            StepState.APP_REMOVING,
            StepState.COMPLETE,
            StepState.FAILED,
        }
    ),
    StepState.APP_UPLOADING: frozenset(
        {
            StepState.APP_APPLYING,
            StepState.APP_ROLLING_BACK,
            StepState.APP_RECOVERING,
            StepState.FAILED,
            StepState.INITIAL,
        }
    ),
    StepState.APP_APPLYING: frozenset(
        {StepState.APP_CLEANUP, StepState.APP_RECOVERING, StepState.COMPLETE, StepState.FAILED}
    ),
    StepState.APP_ROLLING_BACK: frozenset(
        {StepState.APP_CLEANUP, StepState.APP_RECOVERING, StepState.FAILED}
    ),
    StepState.APP_CLEANUP: frozenset({StepState.COMPLETE, StepState.FAILED}),
    StepState.APP_RECOVERING: frozenset({StepState.FAILED, StepState.INITIAL}),
    StepState.APP_REMOVING: frozenset({StepState.COMPLETE, StepState.FAILED}),
    StepState.COMPLETE: frozenset(),
    # Only an operator's retry-failed moves a failed step again (a new attempt).
    StepState.FAILED: frozenset({StepState.INITIAL}),
    StepState.ABORTED: frozenset(),
    StepState.SKIPPED: frozenset(),
}


class PreparationState(enum.StrEnum):
    """States of a strategy's one preparation of the release's packages."""

    RUNNING = "running"
    """A worker is preparing (or was, until its lease expired)."""
    DONE = "done"
    """Prepared; steps may prestage packages."""
    FAILED = "failed"
    """Preparation failed; every step waiting on it fails with its reason."""


class InvalidTransition(Exception):
    """A move the tables above do not allow: a bug in the engine, never user input."""


def check_strategy_transition(source: StrategyState, target: StrategyState) -> None:
    if target not in STRATEGY_TRANSITIONS[StrategyState(source)]:
        raise InvalidTransition(f"strategy: {source} -> {target}")


def check_step_transition(source: StepState, target: StepState) -> None:
    if target not in STEP_TRANSITIONS[StepState(source)]:
        raise InvalidTransition(f"step: {source} -> {target}")


def first_phase(strategy_type: str) -> StepState:
    """The state a step of a ``strategy_type`` strategy starts in."""
    return STRATEGY_PHASES[StrategyType(strategy_type)][0]


def next_phase(state: StepState) -> StepState:
    """The state after a successful ``state`` (a prestage phase)."""
    index = PRESTAGE_PHASES.index(state)
    if index + 1 < len(PRESTAGE_PHASES):
        return PRESTAGE_PHASES[index + 1]
    return StepState.COMPLETE


def to_dot() -> str:
    """Both graphs in Graphviz dot syntax."""
    lines = ["digraph dcmanager_states {", "  rankdir=LR;", "  node [shape=box];"]
    for name, transitions in (("strategy", STRATEGY_TRANSITIONS), ("step", STEP_TRANSITIONS)):
        lines.append(f'  subgraph "cluster_{name}" {{')
        lines.append(f'    label="{name}";')
        for source, targets in transitions.items():
            lines.append(f'    "{name}:{source}" [label="{source}"];')
            for target in sorted(targets):
                lines.append(f'    "{name}:{source}" -> "{name}:{target}";')
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(to_dot())
