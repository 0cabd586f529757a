"""Validation of strategy and prestage requests, in the order and with the messages of
the API contract (the first problem found is the one reported)."""

import base64
import binascii
import dataclasses
import re
from typing import Any

from dcmanager.api import validation
from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.states import ApplyType
from dcmanager.common.states import StepState
from dcmanager.common.states import StrategyType
from dcmanager.db import api as db_api
from dcmanager.db import releases as db_releases
from dcmanager.db.sqlalchemy import models
from dcmanager.orchestrator import prestage

DEFAULT_PARALLEL = 2
_RELEASE_RE = re.compile(r"[0-9]{2}\.[0-9]{2}")
NO_RELEASE = "No release in the release store: upload one first (dcmanager release upload)"
ACTIONS = ("apply", "abort")


class NoSteps(exception.Unprocessable):
    msg_fmt = "Strategy has no steps to apply"


@dataclasses.dataclass
class PrestageArgs:
    """The prestage arguments of a strategy or a standalone prestage."""

    release: str
    force: bool
    for_install: bool
    for_sw_deploy: bool
    password: bytes = dataclasses.field(repr=False)

    def extra_args(self) -> dict[str, Any]:
        """What is stored and shown as ``extra-args`` (never the password)."""
        return {
            "force": self.force,
            "prestage-software-version": self.release,
            "for_install": self.for_install,
            "for_sw_deploy": self.for_sw_deploy,
        }


@dataclasses.dataclass
class StrategyRequest:
    values: dict[str, Any]
    """Strategy columns, except the secret."""
    prestage: PrestageArgs
    steps: list[dict[str, Any]]
    """``subcloud_id``, ``state`` and ``details`` of each step, in order."""


def _bool(body: dict[str, Any], field: str) -> bool:
    return validation.parse_bool(body[field], field) if field in body else False


def _password(body: dict[str, Any]) -> bytes:
    value = body.get("sysadmin_password")
    if value is None or value == "":
        raise exception.Invalid("subcloud sysadmin_password required")
    try:
        if not isinstance(value, str):
            raise ValueError
        password = base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError, binascii.Error) as exc:
        raise exception.Invalid(
            "Failed to decode subcloud sysadmin_password, verify the password is base64 encoded"
        ) from exc
    if not password:
        raise exception.Invalid("subcloud sysadmin_password required")
    return password


def prestage_args(body: dict[str, Any], force: bool) -> PrestageArgs:
    """Release and password rules, then the install flags."""
    release = body.get("release")
    if release is not None and (not isinstance(release, str) or not _RELEASE_RE.fullmatch(release)):
        raise exception.Invalid(
            "Specified release format is not supported. Version format must be MM.mm."
        )
    password = _password(body)
    for_install = _bool(body, "for_install")
    for_sw_deploy = _bool(body, "for_sw_deploy")
    if for_install and for_sw_deploy:
        raise exception.Invalid("for_install and for_sw_deploy are mutually exclusive")
    return PrestageArgs(_stored_release(release), force, for_install, for_sw_deploy, password)


def _stored_release(release: str | None) -> str:
    """The release asked for, which must be in the release store; by default the one
    uploaded last."""
    if release is None:
        newest = db_releases.newest_version()
        if newest is None:
            raise exception.Invalid(NO_RELEASE)
        return newest
    if not db_releases.release_exists(release):
        raise exception.Invalid(
            f"Release {release} is not in the release store: upload it first "
            "(dcmanager release upload)"
        )
    return release


def _group(body: dict[str, Any]) -> models.SubcloudGroup | None:
    key = "subcloud_group" if "subcloud_group" in body else "group"
    if key not in body or body[key] is None:
        return None
    if body.get("cloud_name") is not None:
        raise exception.Invalid("cloud_name and subcloud_group are mutually exclusive")
    ref = body[key]
    if isinstance(ref, str) and validation.is_storable_text(ref):
        ref = validation.parse_ref(ref)
    elif not isinstance(ref, int) or isinstance(ref, bool):
        raise exception.Invalid("Invalid group_id")
    try:
        return db_api.subcloud_group_get(ref)
    except exception.SubcloudGroupNotFound as exc:
        raise exception.Invalid("Invalid group_id") from exc


def _max_parallel(body: dict[str, Any], apply_type: str, default: int) -> int:
    if apply_type == ApplyType.SERIAL:
        return 1
    if body.get("max-parallel-subclouds") is None:
        return default
    raw = body["max-parallel-subclouds"]
    value = validation.parse_int(raw)
    if value is None:
        raise exception.Invalid(f"max-parallel-subclouds invalid value. Value: {raw}")
    if not states.MIN_PARALLEL <= value <= states.MAX_PARALLEL:
        raise exception.Invalid(
            f"Invalid max-parallel-subclouds value: {value}. For {body.get('type')} strategy, "
            f"the value must be between {states.MIN_PARALLEL} and {states.MAX_PARALLEL}."
        )
    return value


def _scope(body: dict[str, Any], group: models.SubcloudGroup | None) -> list[dict[str, Any]]:
    """The strategy's steps: one per subcloud in scope, ineligible ones skipped."""
    cloud_name = body.get("cloud_name")
    if cloud_name is not None:
        if not isinstance(cloud_name, str) or not validation.is_storable_text(cloud_name):
            raise exception.Invalid(f"Subcloud {cloud_name} does not exist")
        try:
            subcloud = db_api.subcloud_get(cloud_name)
        except exception.SubcloudNotFound as exc:
            raise exception.Invalid(f"Subcloud {cloud_name} does not exist") from exc
        problem = prestage.eligibility_problem(subcloud)
        if problem:
            raise exception.Invalid(f"Prestage skipped '{cloud_name}': {problem}")
        subclouds = [subcloud]
    elif group is not None:
        subclouds = list(db_api.subcloud_group_subclouds(group.id))
    else:
        subclouds = list(db_api.subcloud_get_all())
    steps = []
    for subcloud in subclouds:
        problem = prestage.eligibility_problem(subcloud)
        steps.append(
            {
                "subcloud_id": subcloud.id,
                "state": str(StepState.SKIPPED if problem else StepState.INITIAL),
                "details": problem,
            }
        )
    if not any(step["state"] == StepState.INITIAL for step in steps):
        raise NoSteps()
    return steps


def validate_create(body: dict[str, Any]) -> StrategyRequest:
    force = _bool(body, "force")
    apply_type = body.get("subcloud-apply-type")
    if apply_type is not None and apply_type not in set(ApplyType):
        raise exception.Invalid("subcloud-apply-type invalid")
    group = _group(body)
    if apply_type is None:
        apply_type = group.update_apply_type if group else ApplyType.PARALLEL
    default_parallel = group.max_parallel_subclouds if group else DEFAULT_PARALLEL
    max_parallel = _max_parallel(body, apply_type, default_parallel)
    strategy_type = body.get("type")
    if strategy_type is None or strategy_type == "":
        raise exception.Invalid("type required")
    if strategy_type not in set(StrategyType):
        raise exception.Invalid("type invalid")
    args = prestage_args(body, force)
    stop_on_failure = _bool(body, "stop-on-failure")
    steps = _scope(body, group)
    return StrategyRequest(
        values={
            "type": str(strategy_type),
            "subcloud_apply_type": str(apply_type),
            "max_parallel_subclouds": max_parallel,
            "stop_on_failure": stop_on_failure,
            "extra_args": args.extra_args(),
        },
        prestage=args,
        steps=steps,
    )


def validate_action(body: dict[str, Any]) -> str:
    action = body.get("action")
    if action is None or action == "":
        raise exception.Invalid("action required")
    if action not in ACTIONS:
        raise exception.Invalid(f"Invalid action '{action}': must be one of {', '.join(ACTIONS)}")
    return action


def validate_standalone(body: dict[str, Any], subcloud: models.Subcloud) -> PrestageArgs:
    """A standalone prestage: the same rules, and the same eligibility, as a strategy."""
    force = _bool(body, "force")
    args = prestage_args(body, force)
    problem = prestage.eligibility_problem(subcloud)
    if problem and problem != prestage.ALREADY_PRESTAGING:
        raise exception.Invalid(f"Prestage skipped '{subcloud.name}': {problem}")
    return args
