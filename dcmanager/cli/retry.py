"""The CLI's side of a strategy's retry policy: the create options that build it, and
how a strategy and a step show it."""

import argparse
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from dcmanager.common.states import FailureKind

KINDS = tuple(str(kind) for kind in FailureKind)


def _phase_attempts(value: str) -> tuple[str, int]:
    phase, _, attempts = value.partition("=")
    if not phase or not attempts.isdigit():
        raise argparse.ArgumentTypeError(f"invalid phase attempts: '{value}' (PHASE=N)")
    return phase, int(attempts)


def _kinds(value: str) -> list[str]:
    kinds = [kind for kind in value.split(",") if kind]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown failure kind(s) {', '.join(unknown)}: one of {', '.join(KINDS)}"
        )
    return kinds


def add_retry_options(parser: argparse.ArgumentParser) -> None:
    """The options of a strategy's retry policy (any of them gives it one)."""
    group = parser.add_argument_group(
        "retry", "Run a subcloud's failed step again, after a growing wait (no slot held)."
    )
    group.add_argument(
        "--retry-attempts", type=int, metavar="N", help="Attempts per subcloud (default 3)."
    )
    group.add_argument(
        "--retry-interval", type=float, metavar="SECONDS", help="Wait before the second (30)."
    )
    group.add_argument(
        "--retry-backoff", type=float, metavar="FACTOR", help="Each wait times this (2)."
    )
    group.add_argument(
        "--retry-max-interval", type=float, metavar="SECONDS", help="The longest wait (600)."
    )
    group.add_argument(
        "--retry-phase",
        action="append",
        type=_phase_attempts,
        metavar="PHASE=N",
        help="Attempts for a failure in this phase instead; repeat for more phases.",
    )
    group.add_argument(
        "--never-retry",
        type=_kinds,
        metavar="KIND[,KIND]",
        help="Failure kinds never retried (default password,system-mode,disk,ineligible; "
        "an empty value retries every kind).",
    )


def retry_body(parsed_args: argparse.Namespace) -> dict[str, Any] | None:
    """The request's ``retry`` from the options, or None if none was given."""
    policy: dict[str, Any] = {}
    for option, field in (
        ("retry_attempts", "attempts"),
        ("retry_interval", "initial-interval"),
        ("retry_backoff", "backoff"),
        ("retry_max_interval", "max-interval"),
        ("never_retry", "never"),
    ):
        if getattr(parsed_args, option) is not None:
            policy[field] = getattr(parsed_args, option)
    if parsed_args.retry_phase:
        policy["phases"] = {phase: {"attempts": n} for phase, n in parsed_args.retry_phase}
    return policy or None


def policy_text(policy: Mapping[str, Any]) -> str:
    """``3 attempts, waits 30 s x2 up to 600 s; never: disk, password``, and each
    phase's own attempts."""
    text = (
        f"{policy['attempts']} attempts, waits {policy['initial-interval']:g} s "
        f"x{policy['backoff']:g} up to {policy['max-interval']:g} s"
    )
    for phase, own in (policy.get("phases") or {}).items():
        text += f"; {phase}: " + ", ".join(f"{k} {v:g}" for k, v in own.items())
    never = policy.get("never") or []
    return text + (f"; never: {', '.join(never)}" if never else "")


def history_text(history: Sequence[Mapping[str, Any]]) -> str:
    """One line per earlier attempt: ``#1 2026-...: [kind] details``."""
    return "\n".join(
        f"#{entry['attempt']} {entry.get('ended-at') or '-'}: "
        + (f"[{entry['failure']}] " if entry.get("failure") else "")
        + (entry.get("details") or "")
        for entry in history
    )
