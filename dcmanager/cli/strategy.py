"""``dcmanager prestage-strategy ...`` commands, the show / watch / apply / abort /
delete commands every strategy type shares, and how strategies and their steps are
shown (``dcmanager strategy-step ...`` is :mod:`dcmanager.cli.strategy_step`).

``prestage-strategy watch`` and ``show --watch`` follow the strategy with the live view
of :mod:`dcmanager.cli.live`, told what a prestage strategy is by :data:`PRESTAGE`
(:mod:`dcmanager.cli.app_strategy` tells it what an app-update strategy is).
"""

import argparse
import base64
import getpass
import urllib.parse
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TextIO

from cliff import command
from cliff import show

from dcmanager.cli import live
from dcmanager.cli import retry
from dcmanager.cli.client import Client
from dcmanager.cli.client import CommandError
from dcmanager.cli.client import add_yes_option
from dcmanager.common.states import PRESTAGE_PHASES
from dcmanager.common.states import STEP_ACTIVE
from dcmanager.common.states import STEP_FINISHED
from dcmanager.common.states import StepState
from dcmanager.common.states import StrategyState

STRATEGY_TYPE = "prestage"
STRATEGY_PATH = "/sw-update-strategy"
STEPS_PATH = f"{STRATEGY_PATH}/steps"

PASSWORD_PROMPT = "Enter the sysadmin password for the subcloud: "
CONFIRM_PROMPT = "Re-enter the sysadmin password to confirm: "
PASSWORD_ATTEMPTS = 3

# Strategy states the watch ends in, and its exit status for each (every strategy type).
EXIT_STATUS = {
    str(StrategyState.COMPLETE): 0,
    str(StrategyState.FAILED): 1,
    str(StrategyState.ABORTED): 1,
}


def _extra(key: str) -> Callable[[dict], Any]:
    return lambda s: (s.get("extra-args") or {}).get(key)


# (column, how to read it from the API's strategy), labelled as StarlingX's client does.
COMMON_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("strategy type", lambda s: s.get("type")),
    ("subcloud apply type", lambda s: s.get("subcloud-apply-type")),
    ("max parallel subclouds", lambda s: s.get("max-parallel-subclouds")),
    ("stop on failure", lambda s: s.get("stop-on-failure")),
)
TIME_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("state", lambda s: s.get("state")),
    ("created_at", lambda s: s.get("created-at")),
    ("updated_at", lambda s: s.get("updated-at")),
)
# Each type's own fields, from its ``extra-args``, between the common ones and the times.
TYPE_FIELDS: dict[str, tuple[tuple[str, Callable[[dict], Any]], ...]] = {
    "prestage": (("prestage software version", _extra("prestage-software-version")),),
    "app-update": (
        ("app", _extra("app")),
        ("app version", _extra("version")),
        ("require prestaged", lambda s: bool((s.get("extra-args") or {}).get("require-prestaged"))),
    ),
}

STEP_LIST_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("cloud", lambda s: s.get("cloud")),
    ("stage", lambda s: s.get("stage")),
    ("state", lambda s: s.get("state")),
    ("details", lambda s: s.get("details")),
    ("started_at", lambda s: s.get("started-at")),
    ("finished_at", lambda s: s.get("finished-at")),
    ("progress", lambda s: live.progress_summary(s.get("progress"))),
    # After the StarlingX columns, so that they keep their places.
    ("attempt", lambda s: s.get("attempt")),
    # Last: --marker takes it.
    ("id", lambda s: s.get("id")),
)

STEP_DETAIL_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("id", lambda s: s.get("id")),
    *STEP_LIST_FIELDS[:-1],
    ("retry_at", lambda s: s.get("retry-at")),
    ("history", lambda s: retry.history_text(s.get("history") or [])),
    ("created_at", lambda s: s.get("created-at")),
    ("updated_at", lambda s: s.get("updated-at")),
)


def _detail(fields, item: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    return tuple(name for name, _ in fields), tuple(read(item) for _, read in fields)


def strategy_detail(strategy: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    """Columns and values of ``prestage-strategy show`` (or another type's)."""
    # The estimated end, while the engine has one (an applying strategy).
    eta = (("eta", lambda s: s["eta"]),) if strategy.get("eta") else ()
    return _detail(COMMON_FIELDS + _own_fields(strategy) + TIME_FIELDS + eta, strategy)


def preview_detail(plan: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    """Columns and values of ``create --dry-run``: the strategy create would make, what
    it would move, and its steps in the order they would start."""
    totals = plan["totals"]
    fields = (
        (("dry run", lambda p: True),)
        + COMMON_FIELDS
        + _own_fields(plan)
        + (
            ("subclouds in scope", lambda p: totals["in-scope"]),
            ("to run", lambda p: totals["to-run"]),
            ("skipped", lambda p: totals["skipped"]),
        )
    )
    if "bytes-to-move" in totals:
        fields += (
            ("bytes to move", lambda p: f"{totals['bytes-to-move'] / 1024**3:.1f} GiB"),
            ("images to move", lambda p: totals["images-to-move"]),
        )
    fields += (("steps", lambda p: "\n".join(_planned_step(step) for step in p["steps"])),)
    return _detail(fields, plan)


def _planned_step(step: Mapping[str, Any]) -> str:
    """``sc1: initial (1.2 GiB, 3 images)`` or ``sc2: skipped: Subcloud is offline.``"""
    text = f"{step['cloud']}: {step['state']}"
    if step.get("details"):
        return f"{text}: {step['details']}"
    if step.get("bytes-to-move") is not None:
        text += f" ({step['bytes-to-move'] / 1024**3:.1f} GiB, {step['images-to-move']} images)"
    return text


def _own_fields(strategy: Mapping[str, Any]) -> tuple[tuple[str, Callable[[dict], Any]], ...]:
    """The fields of the strategy's type and of the options it was given."""
    own = TYPE_FIELDS.get(strategy.get("type"), ())
    extra = strategy.get("extra-args") or {}
    if extra.get("apps"):
        own += (("apps", lambda s: _apps_text(s["extra-args"]["apps"])),)
    if "max-failures" in extra:
        own = (("max failures", lambda s: _budget_text(s["extra-args"])),) + own
    if "retry" in extra:
        own = (("retry", lambda s: retry.policy_text(s["extra-args"]["retry"])),) + own
    for key in ("no-new-steps-after", "start-after"):
        if key in extra:
            own = ((key.replace("-", " "), _extra(key)),) + own
    return own


def _budget_text(extra: Mapping[str, Any]) -> str:
    """``3``, or ``10% (2 steps)`` for a percentage (what it came to at creation)."""
    wanted, budget = extra["max-failures"], extra.get("failure-budget")
    if not isinstance(wanted, str):
        return str(wanted)
    return f"{wanted} ({budget} step{'' if budget == 1 else 's'})"


def _apps_text(apps: Sequence[Mapping[str, str]]) -> str:
    return ", ".join(f"{entry['app']} {entry['version']}" for entry in apps)


def step_detail(step: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    """Columns and values of ``strategy-step show``."""
    return _detail(STEP_DETAIL_FIELDS, step)


def step_rows(steps: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], list[tuple]]:
    """Columns and rows of ``strategy-step list``."""
    columns = tuple(name for name, _ in STEP_LIST_FIELDS)
    return columns, [tuple(read(step) for _, read in STEP_LIST_FIELDS) for step in steps]


def _prestage_target(extra_args: Mapping[str, Any]) -> str | None:
    release = extra_args.get("prestage-software-version")
    if not release:
        return None
    apps = extra_args.get("apps")
    return f"release {release}" + (f" and the images of {_apps_text(apps)}" if apps else "")


def step_states(phases: Sequence[StepState]) -> tuple[str, ...]:
    """A strategy type's step states in the order a step walks them."""
    ends = (StepState.COMPLETE, StepState.FAILED, StepState.ABORTED, StepState.SKIPPED)
    return tuple(str(state) for state in (StepState.INITIAL, *phases, *ends))


# What the live view shows of a prestage strategy.
PRESTAGE = live.StrategyKind(
    name=STRATEGY_TYPE,
    step_states=step_states(PRESTAGE_PHASES),
    in_flight=frozenset(str(state) for state in STEP_ACTIVE),
    finished=frozenset(str(state) for state in STEP_FINISHED),
    not_started=str(StepState.INITIAL),
    listed=((str(StepState.FAILED), "Failed"), (str(StepState.SKIPPED), "Skipped")),
    end_states=EXIT_STATUS,
    deleting=str(StrategyState.DELETING),
    target=_prestage_target,
    flags=(("force", "force"), ("for_install", "for install"), ("for_sw_deploy", "for sw deploy")),
)


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"invalid interval: '{value}' (seconds, above 0)")
    return number


def _add_watch_options(parser: argparse.ArgumentParser, with_flag: bool) -> None:
    if with_flag:
        parser.add_argument(
            "--watch",
            action="store_true",
            help="Follow the strategy live until it ends; exit 0 if it completes, 1 if it "
            "fails or is aborted.",
        )
    parser.add_argument(
        "--interval",
        type=positive_float,
        default=1.0,
        metavar="SECONDS",
        help="Seconds between polls when watching (default 1).",
    )


def _type_query(kind: live.StrategyKind) -> str:
    return f"?type={urllib.parse.quote(kind.name)}"


def watch(
    client: Client, stdout: TextIO, interval: float, kind: live.StrategyKind = PRESTAGE
) -> int:
    """Follow the strategy of type ``kind`` live on ``stdout`` until it ends; the exit
    status (0 complete, 1 failed or aborted)."""
    query = _type_query(kind)

    def fetch() -> live.Snapshot:
        strategy = client.get(STRATEGY_PATH + query)
        # After the strategy: once it has ended, so have all its steps.
        steps = client.get(STEPS_PATH + query)["strategy-steps"]
        return strategy, steps

    return live.Watcher(fetch, kind, live.console_for(stdout), interval).run()


# --- the prestage arguments (shared with ``subcloud prestage``) -------------------------


def add_prestage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sysadmin-password",
        metavar="PASSWORD",
        help="The subclouds' sysadmin password (prompted for, without echo, when omitted).",
    )
    parser.add_argument(
        "--release", metavar="MM.mm", help="Release to prestage (default: the system controller's)."
    )
    purpose = parser.add_mutually_exclusive_group()
    purpose.add_argument(
        "--for-install", action="store_true", help="Prestage for a reinstall of the subcloud."
    )
    purpose.add_argument(
        "--for-sw-deploy", action="store_true", help="Prestage for a software deployment."
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="Prestage despite management-affecting alarms on the subcloud.",
    )
    parser.add_argument(
        "--app",
        action="append",
        dest="apps",
        metavar="NAME[@VERSION]",
        help="Also prestage the images this application version needs (default version: "
        "latest); repeat for more applications.",
    )


def prompt_password(stderr: TextIO) -> str:
    """Ask for the password twice, without echo; a few attempts.

    :raises CommandError: no password was entered, or the two never matched.
    """
    for _ in range(PASSWORD_ATTEMPTS):
        try:
            password = getpass.getpass(PASSWORD_PROMPT)
            if not password:
                stderr.write("The password cannot be empty.\n")
                continue
            if getpass.getpass(CONFIRM_PROMPT) != password:
                stderr.write("The passwords do not match.\n")
                continue
        except EOFError as exc:
            raise CommandError(
                "No sysadmin password: give --sysadmin-password or enter it when prompted."
            ) from exc
        return password
    raise CommandError(f"No sysadmin password after {PASSWORD_ATTEMPTS} attempts.")


def encode_password(password: str) -> str:
    return base64.b64encode(password.encode("utf-8")).decode("ascii")


def prestage_body(
    parsed_args: argparse.Namespace, stderr: TextIO, prompt: bool = True
) -> dict[str, Any]:
    """The prestage fields of a request: the password (prompted for if not given,
    unless ``prompt`` is False) in base64, and the options given."""
    password = parsed_args.sysadmin_password
    if password is None and prompt:
        password = prompt_password(stderr)
    body: dict[str, Any] = {}
    if password is not None:
        body["sysadmin_password"] = encode_password(password)
    if parsed_args.release is not None:
        body["release"] = parsed_args.release
    for option in ("force", "for_install", "for_sw_deploy"):
        if getattr(parsed_args, option):
            body[option] = True
    if parsed_args.apps:
        body["apps"] = parsed_args.apps
    return body


# --- prestage-strategy ---------------------------------------------------------------


def add_scope_options(parser: argparse.ArgumentParser, verb: str) -> None:
    """The options of a strategy's create that every type shares (the subclouds it
    covers and how many it works on at once); ``verb`` says what it does to them."""
    parser.add_argument(
        "--subcloud-apply-type",
        choices=("parallel", "serial"),
        help=f"{verb.capitalize()} the subclouds one at a time or several at once.",
    )
    parser.add_argument(
        "--max-parallel-subclouds",
        type=int,
        metavar="N",
        help=f"Most subclouds to {verb} at once (default: the group's, or 2).",
    )
    parser.add_argument(
        "--stop-on-failure",
        action="store_true",
        help="Start no more subclouds after the first failure.",
    )
    parser.add_argument(
        "--max-failures",
        metavar="N|N%",
        help="Start no more subclouds once more than N (or N percent of those in scope) "
        "have failed; the strategy then ends failed. --stop-on-failure is 0.",
    )
    parser.add_argument(
        "--start-after",
        metavar="TIME",
        help="Start no subcloud before this ISO 8601 time (UTC unless it says, e.g. "
        "2026-12-24T22:00:00Z).",
    )
    parser.add_argument(
        "--no-new-steps-after",
        metavar="TIME",
        help="Start no subcloud after this ISO 8601 time; those not started then end "
        "aborted (running ones finish).",
    )
    parser.add_argument("--group", help=f"Name or id of the subcloud group to {verb}.")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Show what create would do (its steps, the subclouds skipped and why, what "
        "each would move) and create nothing.",
    )


def create_or_preview(
    client: Client, body: dict[str, Any], dry_run: bool
) -> tuple[tuple[str, ...], tuple]:
    """POST the create, or its plan preview with ``dry_run``; the columns to show."""
    if dry_run:
        return preview_detail(client.post(f"{STRATEGY_PATH}?dry_run=true", body))
    return strategy_detail(client.post(STRATEGY_PATH, body))


def scope_body(parsed_args: argparse.Namespace) -> dict[str, Any]:
    """The request fields of :func:`add_scope_options` and the subcloud given."""
    body: dict[str, Any] = {}
    if parsed_args.cloud_name is not None:
        body["cloud_name"] = parsed_args.cloud_name
    if parsed_args.subcloud_apply_type is not None:
        body["subcloud-apply-type"] = parsed_args.subcloud_apply_type
    if parsed_args.max_parallel_subclouds is not None:
        body["max-parallel-subclouds"] = parsed_args.max_parallel_subclouds
    if parsed_args.stop_on_failure:
        body["stop-on-failure"] = True
    if parsed_args.max_failures is not None:
        wanted = parsed_args.max_failures
        body["max-failures"] = int(wanted) if wanted.isdigit() else wanted
    for option in ("start_after", "no_new_steps_after"):
        if getattr(parsed_args, option) is not None:
            body[option.replace("_", "-")] = getattr(parsed_args, option)
    if parsed_args.group is not None:
        body["subcloud_group"] = parsed_args.group
    return body


class CreatePrestageStrategy(show.ShowOne):
    """Create a prestage strategy: for one subcloud, a group, or every subcloud."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "cloud_name", nargs="?", help="The one subcloud to prestage (default: all)."
        )
        add_scope_options(parser, "prestage")
        add_prestage_options(parser)
        retry.add_retry_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple]:
        body: dict[str, Any] = {"type": STRATEGY_TYPE, **scope_body(parsed_args)}
        # A preview needs no password: it is not asked for.
        body.update(prestage_body(parsed_args, self.app.stderr, prompt=not parsed_args.dry_run))
        if policy := retry.retry_body(parsed_args):
            body["retry"] = policy
        return create_or_preview(self.app.client, body, parsed_args.dry_run)


class ShowStrategy(show.ShowOne):
    """Show the strategy of this command's type, or follow it live with --watch."""

    kind = PRESTAGE

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_watch_options(parser, with_flag=True)
        return parser

    def run(self, parsed_args: argparse.Namespace) -> int:
        if parsed_args.watch:
            parsed_args = self._run_before_hooks(parsed_args)
            return watch(self.app.client, self.app.stdout, parsed_args.interval, self.kind)
        return super().run(parsed_args)

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple]:
        return strategy_detail(self.app.client.get(STRATEGY_PATH + _type_query(self.kind)))


class WatchStrategy(command.Command):
    """Follow the strategy live until it ends: exit 0 if it completes, 1 if it fails or
    is aborted."""

    kind = PRESTAGE

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_watch_options(parser, with_flag=False)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        return watch(self.app.client, self.app.stdout, parsed_args.interval, self.kind)


class StrategyAction(show.ShowOne):
    kind = PRESTAGE
    action: str

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_yes_option(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple]:
        path = f"{STRATEGY_PATH}/actions{_type_query(self.kind)}"
        return strategy_detail(self.app.client.post(path, {"action": self.action}))


class DeleteStrategy(show.ShowOne):
    """Delete the strategy (unless it is running)."""

    kind = PRESTAGE

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_yes_option(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple]:
        return strategy_detail(self.app.client.delete(STRATEGY_PATH + _type_query(self.kind)))


class ShowPrestageStrategy(ShowStrategy):
    """Show the prestage strategy, or follow it live with --watch."""


class WatchPrestageStrategy(WatchStrategy):
    """Follow the prestage strategy live until it ends: exit 0 if it completes, 1 if it
    fails or is aborted."""


class ApplyPrestageStrategy(StrategyAction):
    """Apply the prestage strategy (from its initial state)."""

    action = "apply"


class PausePrestageStrategy(StrategyAction):
    """Pause the prestage strategy: no step starts; running ones finish."""

    action = "pause"


class ResumePrestageStrategy(StrategyAction):
    """Resume the paused prestage strategy."""

    action = "resume"


class AbortPrestageStrategy(StrategyAction):
    """Abort the prestage strategy: steps not started are aborted, running ones finish."""

    action = "abort"


class RetryFailedPrestageStrategy(StrategyAction):
    """Run the failed prestage strategy's failed steps again (one more attempt each)."""

    action = "retry-failed"


class DeletePrestageStrategy(DeleteStrategy):
    """Delete the prestage strategy (unless it is running)."""
