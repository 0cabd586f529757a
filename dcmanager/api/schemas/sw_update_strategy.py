"""Validation of strategy and prestage requests, in the order and with the messages of
the API contract (the first problem found is the one reported).

Shapes and types only: the two checks the contract places among them that need stored
state (the group exists, the release is in the store) are asked of a :class:`Lookups`
the caller passes, and which subclouds a strategy covers is planned by
:mod:`dcmanager.orchestrator.planning`.
"""

import base64
import binascii
import dataclasses
import datetime
import enum
import re
from typing import Any
from typing import Protocol

from dcmanager.api import validation
from dcmanager.api.schemas import maintenance_window
from dcmanager.api.schemas import retry_policy
from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.states import ApplyType
from dcmanager.common.states import StrategyType

DEFAULT_PARALLEL = 2
_RELEASE_RE = re.compile(r"[0-9]{2}\.[0-9]{2}")
ACTIONS = tuple(states.STRATEGY_ACTIONS)
INVALID_GROUP = "Invalid group_id"


class Group(Protocol):
    """What a strategy takes from its subcloud group."""

    id: int
    update_apply_type: str
    max_parallel_subclouds: int


class Lookups(Protocol):
    """The stored state validation consults, at the point the contract says."""

    def group(self, ref: int | str) -> Group | None:
        """The group of this id or name, or None."""

    def release(self, version: str | None) -> str:
        """The release to prestage: ``version``, or by default the one uploaded last.

        :raises Invalid: it is not in the release store (or the store is empty).
        """

    def app_version(self, name: str, wanted: str, include_prerelease: bool) -> str:
        """The catalog's version of application ``name`` that ``wanted`` (a version or
        ``latest``) names.

        :raises Invalid: the catalog has no such application or version.
        """


@dataclasses.dataclass
class PrestageArgs:
    """The prestage arguments of a strategy or a standalone prestage."""

    release: str
    force: bool
    for_install: bool
    for_sw_deploy: bool
    password: bytes = dataclasses.field(repr=False)
    apps: list[dict[str, str]] = dataclasses.field(default_factory=list)
    """Applications (``app``, resolved ``version``) whose images are prestaged too."""

    def extra_args(self) -> dict[str, Any]:
        """What is stored and shown as ``extra-args`` (never the password)."""
        args: dict[str, Any] = {
            "force": self.force,
            "prestage-software-version": self.release,
            "for_install": self.for_install,
            "for_sw_deploy": self.for_sw_deploy,
        }
        if self.apps:
            args["apps"] = self.apps
        return args


@dataclasses.dataclass
class AppUpdateArgs:
    """The arguments of an app-update strategy: the version is resolved at create."""

    app: str
    version: str
    require_prestaged: bool = False
    """Only sites a prestage put the version's images on are updated."""

    def extra_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"app": self.app, "version": self.version}
        if self.require_prestaged:
            args["require-prestaged"] = True
        return args


# The longest application name and version the catalog stores.
MAX_APP_NAME = 63
MAX_APP_VERSION = 64
# The most applications a prestage may prestage the images of.
MAX_PRESTAGE_APPS = 20
# Fields of a prestage that an app-update strategy refuses rather than ignores.
PRESTAGE_ONLY = ("release", "sysadmin_password", "for_install", "for_sw_deploy", "force", "apps")


@dataclasses.dataclass
class StrategyRequest:
    values: dict[str, Any]
    """Strategy columns, except the secret."""
    prestage: PrestageArgs | None
    """A prestage strategy's arguments (None for another type)."""
    group_id: int | None
    """The group in scope, if one was named."""
    cloud_name: str | None
    """The one subcloud in scope, if one was named (not yet looked up)."""


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


def prestage_args(
    body: dict[str, Any], force: bool, lookups: Lookups, password_required: bool = True
) -> PrestageArgs:
    """Release and password rules, then the install flags, then the release's presence
    in the store.

    :param password_required: False for a plan preview, which needs none (one given is
        checked all the same).
    """
    release = body.get("release")
    if release is not None and (not isinstance(release, str) or not _RELEASE_RE.fullmatch(release)):
        raise exception.Invalid(
            "Specified release format is not supported. Version format must be MM.mm."
        )
    given = body.get("sysadmin_password") not in (None, "")
    password = _password(body) if given or password_required else b""
    for_install = _bool(body, "for_install")
    for_sw_deploy = _bool(body, "for_sw_deploy")
    if for_install and for_sw_deploy:
        raise exception.Invalid("for_install and for_sw_deploy are mutually exclusive")
    stored = lookups.release(release)
    apps = _apps(body, lookups)
    return PrestageArgs(stored, force, for_install, for_sw_deploy, password, apps)


def _apps(body: dict[str, Any], lookups: Lookups) -> list[dict[str, str]]:
    """``apps``: applications whose images are prestaged with the release's, each
    ``NAME``, ``NAME@VERSION`` or ``NAME@latest`` (the default), resolved now."""
    given = body.get("apps")
    if given is None or given == []:
        return []
    if isinstance(given, str):
        given = [given]  # one form field
    if (
        not isinstance(given, list)
        or len(given) > MAX_PRESTAGE_APPS
        or not all(isinstance(item, str) for item in given)
    ):
        raise exception.Invalid(
            f"Invalid apps: a list of at most {MAX_PRESTAGE_APPS} NAME, NAME@VERSION or NAME@latest"
        )
    resolved: dict[str, str] = {}
    for item in given:
        name, _, wanted = item.partition("@")
        if not validation.is_short_text(name, MAX_APP_NAME, allow_empty=False) or not (
            validation.is_short_text(wanted, MAX_APP_VERSION)
        ):
            raise exception.Invalid(f"Invalid app '{item}': NAME, NAME@VERSION or NAME@latest")
        if name in resolved:
            raise exception.Invalid(f"Application {name} is named more than once in apps")
        resolved[name] = lookups.app_version(name, wanted or "latest", False)
    return [{"app": name, "version": version} for name, version in resolved.items()]


def _group(body: dict[str, Any], lookups: Lookups) -> Group | None:
    key = "subcloud_group" if "subcloud_group" in body else "group"
    if key not in body or body[key] is None:
        return None
    if body.get("cloud_name") is not None:
        raise exception.Invalid("cloud_name and subcloud_group are mutually exclusive")
    ref = body[key]
    if isinstance(ref, str) and validation.is_storable_text(ref):
        ref = validation.parse_ref(ref)
    elif not isinstance(ref, int) or isinstance(ref, bool):
        raise exception.Invalid(INVALID_GROUP)
    group = lookups.group(ref)
    if group is None:
        raise exception.Invalid(INVALID_GROUP)
    return group


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


_PERCENT = re.compile(r"(\d{1,3})%")


def _max_failures(body: dict[str, Any], stop_on_failure: bool) -> int | str | None:
    """A number of steps (0 or more), or a percentage of the steps that will run
    (``"10%"``), resolved when the strategy is planned."""
    raw = body.get("max-failures")
    if raw is None:
        return None
    if stop_on_failure:
        raise exception.Invalid(
            "stop-on-failure and max-failures exclude each other (stop-on-failure is "
            "max-failures 0)"
        )
    value = validation.parse_int(raw) if not isinstance(raw, str) else None
    if value is not None and value >= 0:
        return value
    match = _PERCENT.fullmatch(raw) if isinstance(raw, str) else None
    if match and int(match.group(1)) <= 100:
        return f"{int(match.group(1))}%"
    raise exception.Invalid(
        f"Invalid max-failures '{raw}': must be a number of steps (0 or more) or a "
        "percentage of them ('10%')"
    )


def _retry(value: Any, strategy_type: str) -> dict[str, Any]:
    """The retry policy, defaults filled in; its phases are the strategy type's."""
    return retry_policy.validate(value, states.STRATEGY_PHASES[StrategyType(strategy_type)])


def _cloud_name(body: dict[str, Any]) -> str | None:
    cloud_name = body.get("cloud_name")
    if cloud_name is not None and (
        not isinstance(cloud_name, str) or not validation.is_storable_text(cloud_name)
    ):
        raise exception.Invalid(f"Subcloud {cloud_name} does not exist")
    return cloud_name


def _enum(body: dict[str, Any], field: str, choices: type[enum.StrEnum]) -> str | None:
    """The field's value if it is one of ``choices`` (a list or a map never is)."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or value not in set(choices):
        raise exception.Invalid(f"{field} invalid")
    return value


def app_update_args(body: dict[str, Any], lookups: Lookups) -> AppUpdateArgs:
    """The application, then the version (default ``latest``) and whether ``latest``
    may be a pre-release, then the catalog's answer."""
    for field in PRESTAGE_ONLY:
        if body.get(field) is not None and body[field] is not False:
            raise exception.Invalid(f"{field} does not apply to an app-update strategy")
    app = body.get("app")
    if app is None or app == "":
        raise exception.Invalid("app required")
    if not validation.is_short_text(app, MAX_APP_NAME, allow_empty=False):
        raise exception.Invalid(f"Invalid app '{app}': must be an application's name")
    wanted = body.get("version")
    if wanted is None or wanted == "":
        wanted = "latest"
    if not validation.is_short_text(wanted, MAX_APP_VERSION, allow_empty=False):
        raise exception.Invalid(f"Invalid version '{wanted}': must be a version or 'latest'")
    prerelease = _bool(body, "include_prerelease")
    require_prestaged = _bool(body, "require-prestaged")
    return AppUpdateArgs(app, lookups.app_version(app, wanted, prerelease), require_prestaged)


def validate_create(
    body: dict[str, Any], lookups: Lookups, dry_run: bool = False
) -> StrategyRequest:
    """A create request (``dry_run``: a plan preview, which needs no password)."""
    force = _bool(body, "force")
    apply_type = _enum(body, "subcloud-apply-type", ApplyType)
    group = _group(body, lookups)
    if apply_type is None:
        apply_type = group.update_apply_type if group else ApplyType.PARALLEL
    default_parallel = group.max_parallel_subclouds if group else DEFAULT_PARALLEL
    max_parallel = _max_parallel(body, apply_type, default_parallel)
    if body.get("type") is None or body.get("type") == "":
        raise exception.Invalid("type required")
    strategy_type = _enum(body, "type", StrategyType)
    if strategy_type == StrategyType.APP_UPDATE:
        args: PrestageArgs | AppUpdateArgs = app_update_args(body, lookups)
    else:
        args = prestage_args(body, force, lookups, password_required=not dry_run)
    stop_on_failure = _bool(body, "stop-on-failure")
    max_failures = _max_failures(body, stop_on_failure)
    extra_args = args.extra_args()
    if max_failures is not None:
        extra_args = {**extra_args, "max-failures": max_failures}
    if body.get("retry") is not None:
        extra_args = {**extra_args, "retry": _retry(body["retry"], strategy_type)}
    extra_args.update(maintenance_window.validate(body, datetime.datetime.now(datetime.UTC)))
    return StrategyRequest(
        values={
            "type": str(strategy_type),
            "subcloud_apply_type": str(apply_type),
            "max_parallel_subclouds": max_parallel,
            "stop_on_failure": stop_on_failure,
            "extra_args": extra_args,
        },
        prestage=args if isinstance(args, PrestageArgs) else None,
        group_id=group.id if group else None,
        cloud_name=_cloud_name(body),
    )


def validate_action(body: dict[str, Any]) -> str:
    action = body.get("action")
    if action is None or action == "":
        raise exception.Invalid("action required")
    if not isinstance(action, str) or action not in ACTIONS:
        raise exception.Invalid(f"Invalid action '{action}': must be one of {', '.join(ACTIONS)}")
    return action


def validate_standalone(body: dict[str, Any], lookups: Lookups) -> PrestageArgs:
    """A standalone prestage: the same rules as a strategy's prestage arguments."""
    return prestage_args(body, _bool(body, "force"), lookups)
