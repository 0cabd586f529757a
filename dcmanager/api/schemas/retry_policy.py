"""A strategy's retry policy as a create request gives it: checked, and stored whole
with its defaults (:mod:`dcmanager.orchestrator.retries` applies it)."""

from collections.abc import Mapping
from typing import Any

from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.states import FailureKind

# What a policy never retries unless it says otherwise: retrying cannot help.
DEFAULT_NEVER = (
    FailureKind.PASSWORD,
    FailureKind.SYSTEM_MODE,
    FailureKind.DISK,
    FailureKind.INELIGIBLE,
)
# Each number of a policy: its default, and the range it must be in.
_NUMBERS: dict[str, tuple[float, float, float]] = {
    "attempts": (3, 1, 100),
    "initial-interval": (30.0, 0.0, 86400.0),
    "backoff": (2.0, 1.0, 10.0),
    "max-interval": (600.0, 0.0, 86400.0),
}
_FIELDS = (*_NUMBERS, "never", "phases")


def _number(where: str, field: str, value: Any) -> float:
    _, low, high = _NUMBERS[field]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if field == "attempts":
        ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or not low <= value <= high:
        kind = "an integer" if field == "attempts" else "a number"
        raise exception.Invalid(
            f"Invalid {where}{field} '{value}': must be {kind} from {low:g} to {high:g}"
        )
    return int(value) if field == "attempts" else float(value)


def _timing(where: str, given: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    numbers = {field: _number(where, field, given[field]) for field in _NUMBERS if field in given}
    merged = {**base, **numbers}
    if "max-interval" not in numbers and merged["max-interval"] < merged["initial-interval"]:
        # A longer first wait than the default longest: the waits do not grow.
        numbers["max-interval"] = merged["max-interval"] = merged["initial-interval"]
    if merged["max-interval"] < merged["initial-interval"]:
        raise exception.Invalid(
            f"Invalid {where}max-interval {merged['max-interval']:g}: less than its "
            f"initial-interval {merged['initial-interval']:g}"
        )
    return numbers


def validate(value: Any, phases: tuple[states.StepState, ...]) -> dict[str, Any]:
    """A retry policy from a create body, defaults filled in (as stored and shown).

    :param phases: the strategy type's phases (those ``phases`` may name).
    :raises Invalid: what is wrong with it.
    """
    if not isinstance(value, dict):
        raise exception.Invalid("Invalid retry: must be an object (attempts, initial-interval...)")
    unknown = sorted(set(value) - set(_FIELDS))
    if unknown:
        raise exception.Invalid(
            f"Invalid retry: unknown field(s) {', '.join(map(str, unknown))}; "
            f"known: {', '.join(_FIELDS)}"
        )
    policy: dict[str, Any] = {field: default for field, (default, _, _) in _NUMBERS.items()}
    policy.update(_timing("retry ", value, policy))
    never = value.get("never", list(DEFAULT_NEVER))
    kinds = [str(kind) for kind in FailureKind]
    if not isinstance(never, list) or not all(kind in kinds for kind in never):
        raise exception.Invalid(
            f"Invalid retry never '{never}': must be a list of failure kinds ({', '.join(kinds)})"
        )
    policy["never"] = sorted(set(never))
    overrides = value.get("phases") or {}
    names = [str(phase) for phase in phases]
    if not isinstance(overrides, dict) or not all(
        phase in names and isinstance(override, dict) for phase, override in overrides.items()
    ):
        raise exception.Invalid(
            "Invalid retry phases: must map phases of the strategy "
            f"({', '.join(names)}) to objects of attempts, initial-interval, backoff, "
            "max-interval"
        )
    policy["phases"] = {}
    for phase, override in overrides.items():
        unknown = sorted(set(override) - set(_NUMBERS))
        if unknown:
            raise exception.Invalid(
                f"Invalid retry phases {phase}: unknown field(s) {', '.join(map(str, unknown))}"
            )
        policy["phases"][phase] = _timing(f"retry phases {phase} ", override, policy)
    return policy
