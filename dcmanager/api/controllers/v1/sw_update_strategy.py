"""``/v1.0/sw-update-strategy``: the orchestration strategy, its actions and steps.

Controllers read ``type``, ``limit``, ``marker`` and ``state`` from the query string
themselves: a method argument could be filled from the body too.
"""

import pecan
from oslo_utils import timeutils

from dcmanager.api import validation
from dcmanager.api import views
from dcmanager.api.controllers import base
from dcmanager.api.schemas import sw_update_strategy as schema
from dcmanager.common import crypt
from dcmanager.common import exception
from dcmanager.common import policy
from dcmanager.common import states
from dcmanager.db import orchestration as db
from dcmanager.db import retries as db_retries
from dcmanager.db import tallies
from dcmanager.orchestrator import planning

POLICY = "dc_api:sw_update_strategy:%s"
MAX_STEPS_LIMIT = 10000


def _authorize(action: str) -> None:
    policy.authorize(POLICY % action, pecan.request.context)


def _no_deeper(path: tuple[str, ...]) -> None:
    if path:
        pecan.abort(404)


def _current_strategy():
    return db.strategy_get(pecan.request.GET.get("type") or None)


def _notify(strategy) -> None:
    pecan.request.orchestrator.strategy_changed(pecan.request.context, strategy.id)


# What each action does to a strategy, as an error says it could not be done.
ACTIONS_DONE = {
    "apply": "applied",
    "pause": "paused",
    "resume": "resumed",
    "abort": "aborted",
    "retry-failed": "retried",
}


class ActionsController:
    """``POST /sw-update-strategy/actions {"action": "apply" | "pause" | "resume" |
    "abort" | "retry-failed"}`` (see :data:`dcmanager.common.states.STRATEGY_ACTIONS`)."""

    @pecan.expose(generic=True, template="json")
    def index(self, *path: str, **query: str) -> None:
        base.method_not_allowed("POST")

    @index.when(method="POST", template="json")
    def index_post(self, *path: str, **query: str) -> dict:
        _no_deeper(path)
        # Whether the caller may act at all, before the body says how.
        policy.authorize_any([POLICY % action for action in schema.ACTIONS], pecan.request.context)
        action = schema.validate_action(validation.json_body())
        _authorize(action)
        strategy = _current_strategy()
        if action == "retry-failed":
            strategy = db_retries.strategy_retry_failed(strategy.id, timeutils.utcnow())
        else:
            sources, target = states.STRATEGY_ACTIONS[action]
            strategy = db.strategy_transition(
                strategy.id,
                sources,
                target,
                ACTIONS_DONE[action],
                {"started_at": timeutils.utcnow()} if action == "apply" else None,
            )
        _notify(strategy)
        return views.strategy(strategy)


def _dry_run() -> bool:
    """``?dry_run=true``: a plan preview (create's answer, stored nowhere)."""
    raw = pecan.request.GET.get("dry_run")
    return validation.parse_bool(raw, "dry_run") if raw is not None else False


def _steps_query() -> tuple[int | None, int | None, str | None]:
    query = pecan.request.GET
    limit, marker = validation.parse_page(query, MAX_STEPS_LIMIT, "a step")
    state = query.get("state")
    if state is not None and state not in states.STRATEGY_STEP_STATES:
        raise exception.Invalid(
            f"Invalid state '{state}': must be one of {', '.join(states.STRATEGY_STEP_STATES)}"
        )
    return limit, marker, state


class StepController:
    """``GET /sw-update-strategy/steps/{cloud_name}``."""

    def __init__(self, cloud_name: str) -> None:
        self.cloud_name = cloud_name

    @pecan.expose(generic=True, template="json")
    def index(self, *path: str, **query: str) -> None:
        _no_deeper(path)
        base.method_not_allowed("GET")

    @index.when(method="GET", template="json")
    def index_get(self, *path: str, **query: str) -> dict:
        _no_deeper(path)
        _authorize("get")
        step, cloud = db.step_get_by_cloud(_current_strategy().id, self.cloud_name)
        return views.strategy_step(step, cloud)


class StepsController:
    """``GET /sw-update-strategy/steps[?limit=&marker=&state=]``."""

    @pecan.expose(generic=True, template="json")
    def index(self, *path: str, **query: str) -> None:
        _no_deeper(path)
        base.method_not_allowed("GET")

    @index.when(method="GET", template="json")
    def index_get(self, *path: str, **query: str) -> dict:
        _no_deeper(path)
        _authorize("get")
        strategy = _current_strategy()
        limit, marker, state = _steps_query()
        steps = db.steps_get(strategy.id, limit=limit, marker=marker, state=state)
        return {"strategy-steps": [views.strategy_step(step, cloud) for step, cloud in steps]}

    @pecan.expose()
    def _route(self, args: list[str], request) -> tuple:
        """Every name under ``/steps`` is a cloud name (even ``index``): pecan would
        otherwise never pass it to ``index``."""
        if args and args[0]:
            return StepController(args[0]).index, args[1:]
        return self.index, args[1:]


class SummaryController:
    """``GET /sw-update-strategy/summary``: the strategy with its steps counted by
    state, its running transfers' bytes and the bytes its steps moved, without listing
    the steps (what a live view polls: its size and its cost do not grow with the
    fleet; the counts are kept as the steps move, see :mod:`dcmanager.db.tallies`)."""

    @pecan.expose(generic=True, template="json")
    def index(self, *path: str, **query: str) -> None:
        _no_deeper(path)
        base.method_not_allowed("GET")

    @index.when(method="GET", template="json")
    def index_get(self, *path: str, **query: str) -> dict:
        _no_deeper(path)
        _authorize("get")
        strategy = _current_strategy()
        counts, finished = tallies.counts(strategy.id)
        done, total = db.transfers_in_flight(strategy.id)
        return {
            "strategy": views.strategy(strategy),
            "step-counts": counts,
            "transfers": {"bytes-done": done, "bytes-total": total, "bytes-moved": finished + done},
        }


class StrategyController:
    """``/sw-update-strategy``: show, create, delete."""

    actions = ActionsController()
    steps = StepsController()
    summary = SummaryController()

    @pecan.expose(generic=True, template="json")
    def index(self, *path: str, **query: str) -> None:
        _no_deeper(path)
        base.method_not_allowed("GET, POST, DELETE")

    @index.when(method="GET", template="json")
    def index_get(self, *path: str, **query: str) -> dict:
        _no_deeper(path)
        _authorize("get")
        return views.strategy(_current_strategy())

    @index.when(method="POST", template="json")
    def index_post(self, *path: str, **query: str) -> dict:
        _no_deeper(path)
        _authorize("create")
        conf = pecan.request.conf
        dry_run = _dry_run()
        request = schema.validate_create(validation.json_body(), planning.LOOKUPS, dry_run)
        if dry_run:
            return views.strategy_preview(
                planning.preview(request.values, request.group_id, request.cloud_name)
            )
        values = dict(request.values)
        if request.prestage is not None:
            values["secret"] = crypt.encrypt(conf, request.prestage.password)
        return views.strategy(
            planning.create_strategy(values, request.group_id, request.cloud_name)
        )

    @index.when(method="DELETE", template="json")
    def index_delete(self, *path: str, **query: str) -> dict:
        _no_deeper(path)
        _authorize("delete")
        strategy = db.strategy_transition(
            _current_strategy().id,
            states.STRATEGY_DELETABLE,
            states.StrategyState.DELETING,
            "deleted",
            # The password goes at once, not when the orchestrator removes the rows.
            {"secret": None},
        )
        _notify(strategy)
        return views.strategy(strategy)
