"""``dcmanager prestage-strategy ...`` and ``dcmanager strategy-step ...`` commands, and
the live view of a running strategy (``prestage-strategy watch`` / ``show --watch``).

The live view is drawn by pure functions (``render_view``, ``render_changes``,
``render_summary``...) from the strategy and step dictionaries of the API, so that it can
be tested without a terminal or a server; :class:`Watcher` only polls and writes.
"""

import argparse
import base64
import dataclasses
import datetime
import getpass
import os
import shutil
import time
import urllib.parse
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import TextIO

from cliff import command
from cliff import lister
from cliff import show

from dcmanager.cli.client import CommandError
from dcmanager.cli.client import quote
from dcmanager.common.states import STEP_ACTIVE
from dcmanager.common.states import STEP_FINISHED
from dcmanager.common.states import StepState
from dcmanager.common.states import StrategyState

STRATEGY_TYPE = "prestage"
STRATEGY_PATH = "/sw-update-strategy"
STEPS_PATH = f"{STRATEGY_PATH}/steps"
TYPE_QUERY = f"?type={STRATEGY_TYPE}"

PASSWORD_PROMPT = "Enter the sysadmin password for the subcloud: "
CONFIRM_PROMPT = "Re-enter the sysadmin password to confirm: "
PASSWORD_ATTEMPTS = 3

# Strategy states the watch ends in, and its exit status for each.
EXIT_STATUS = {
    str(StrategyState.COMPLETE): 0,
    str(StrategyState.FAILED): 1,
    str(StrategyState.ABORTED): 1,
}
# Steps are counted in the order a step walks its states.
STATE_ORDER = tuple(str(state) for state in StepState)
FINISHED = frozenset(str(state) for state in STEP_FINISHED)
IN_FLIGHT = frozenset(str(state) for state in STEP_ACTIVE)

# (column, how to read it from the API's strategy)
STRATEGY_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("strategy_type", lambda s: s.get("type")),
    ("subcloud_apply_type", lambda s: s.get("subcloud-apply-type")),
    ("max_parallel_subclouds", lambda s: s.get("max-parallel-subclouds")),
    ("stop_on_failure", lambda s: s.get("stop-on-failure")),
    (
        "prestage_software_version",
        lambda s: (s.get("extra-args") or {}).get("prestage-software-version"),
    ),
    ("state", lambda s: s.get("state")),
    ("created_at", lambda s: s.get("created-at")),
    ("updated_at", lambda s: s.get("updated-at")),
)

STEP_LIST_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("cloud", lambda s: s.get("cloud")),
    ("stage", lambda s: s.get("stage")),
    ("state", lambda s: s.get("state")),
    ("details", lambda s: s.get("details")),
    ("started_at", lambda s: s.get("started-at")),
    ("finished_at", lambda s: s.get("finished-at")),
    ("progress", lambda s: progress_summary(s.get("progress"))),
    # Last, so that the StarlingX columns keep their places; --marker takes it.
    ("id", lambda s: s.get("id")),
)

STEP_DETAIL_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("id", lambda s: s.get("id")),
    *STEP_LIST_FIELDS[:-1],
    ("created_at", lambda s: s.get("created-at")),
    ("updated_at", lambda s: s.get("updated-at")),
)


def _detail(fields, item: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    return tuple(name for name, _ in fields), tuple(read(item) for _, read in fields)


def strategy_detail(strategy: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    """Columns and values of ``prestage-strategy show``."""
    return _detail(STRATEGY_FIELDS, strategy)


def step_detail(step: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    """Columns and values of ``strategy-step show``."""
    return _detail(STEP_DETAIL_FIELDS, step)


def step_rows(steps: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], list[tuple]]:
    """Columns and rows of ``strategy-step list``."""
    columns = tuple(name for name, _ in STEP_LIST_FIELDS)
    return columns, [tuple(read(step) for _, read in STEP_LIST_FIELDS) for step in steps]


# --- formatting ----------------------------------------------------------------------

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _unit(total: int) -> tuple[str, int]:
    """The binary unit to show ``total`` bytes in, and its size."""
    size = 1
    for unit in _UNITS[:-1]:
        if total < size * 1024:
            return unit, size
        size *= 1024
    return _UNITS[-1], size


def format_bytes(count: int) -> str:
    """``1288490188`` → ``1.2 GiB``; bytes below 1 KiB as a whole number."""
    unit, size = _unit(count)
    return f"{count} B" if size == 1 else f"{count / size:.1f} {unit}"


def progress_summary(progress: dict[str, Any] | None) -> str | None:
    """A step's transfer progress as ``1.2/2.0 GiB, 100/400``; None when it has none.

    Both amounts are in the unit of the total; either part is left out when its total is
    unknown (0).
    """
    if not progress:
        return None
    parts = []
    bytes_done, bytes_total = progress.get("bytes_done") or 0, progress.get("bytes_total") or 0
    if bytes_total:
        unit, size = _unit(bytes_total)
        if size == 1:
            parts.append(f"{bytes_done}/{bytes_total} B")
        else:
            parts.append(f"{bytes_done / size:.1f}/{bytes_total / size:.1f} {unit}")
    done, total = progress.get("artifacts_done") or 0, progress.get("artifacts_total") or 0
    if total:
        parts.append(f"{done}/{total}")
    return ", ".join(parts) or None


def state_counts(steps: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many steps are in each state: known states in the order a step walks them,
    then any other state (a newer server's) by name; states no step is in are left out."""
    counts: dict[str, int] = {}
    for step in steps:
        counts[step["state"]] = counts.get(step["state"], 0) + 1
    rank = {state: index for index, state in enumerate(STATE_ORDER)}
    return dict(sorted(counts.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def format_counts(counts: dict[str, int]) -> str:
    """``complete 3, failed 1``; ``no steps`` when there are none."""
    return ", ".join(f"{state} {count}" for state, count in counts.items()) or "no steps"


def finished_count(steps: Sequence[dict[str, Any]]) -> int:
    return sum(1 for step in steps if step["state"] in FINISHED)


def progress_bar(done: int, total: int, width: int = 30) -> str:
    """``[#########.....................]  3/10 steps finished (30%)``."""
    fraction = done / total if total else 1.0
    filled = min(width, int(width * fraction))
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] "
        f"{done:>{len(str(total))}}/{total} steps finished ({int(fraction * 100)}%)"
    )


def _parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def elapsed(started_at: str | None, now: datetime.datetime) -> str:
    """Time since ``started_at`` (ISO 8601) as ``M:SS`` or ``H:MM:SS``; ``""`` if unknown."""
    start = _parse_time(started_at)
    if start is None:
        return ""
    seconds = max(0, int((now - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def strategy_headline(strategy: dict[str, Any]) -> str:
    """``Prestage strategy applying (parallel, max 2 at a time, release 25.09)``."""
    extra = strategy.get("extra-args") or {}
    how = [
        str(strategy.get("subcloud-apply-type")),
        f"max {strategy.get('max-parallel-subclouds')} at a time",
    ]
    if extra.get("prestage-software-version"):
        how.append(f"release {extra['prestage-software-version']}")
    if strategy.get("stop-on-failure"):
        how.append("stop on failure")
    if extra.get("force"):
        how.append("force")
    if extra.get("for_install"):
        how.append("for install")
    if extra.get("for_sw_deploy"):
        how.append("for sw deploy")
    kind = str(strategy.get("type") or STRATEGY_TYPE).capitalize()
    return f"{kind} strategy {strategy.get('state')} ({', '.join(how)})"


def _fit(line: str, width: int) -> str:
    """The line cut to the terminal's width, so that it never wraps (a wrapped line
    would break redrawing in place)."""
    if width <= 0 or len(line) < width:
        return line
    return line[: max(0, width - 4)] + "..."


def render_view(
    strategy: dict[str, Any],
    steps: Sequence[dict[str, Any]],
    now: datetime.datetime,
    width: int = 80,
    max_steps: int = 20,
) -> list[str]:
    """The lines of the live view: headline, progress bar, counts per state, and the
    steps in flight (at most ``max_steps`` of them) with their progress and time."""
    lines = [
        strategy_headline(strategy),
        progress_bar(finished_count(steps), len(steps), width=max(10, min(40, width - 40))),
        format_counts(state_counts(steps)),
    ]
    running = [step for step in steps if step["state"] in IN_FLIGHT]
    if running:
        lines.append(f"In flight ({len(running)}):")
        shown = running[: max(1, max_steps)]
        name_width = max(len(str(step["cloud"])) for step in shown)
        state_width = max(len(step["state"]) for step in shown)
        for step in shown:
            cells = [
                f"  {step['cloud']:<{name_width}}",
                f"{step['state']:<{state_width}}",
                elapsed(step.get("started-at"), now).rjust(7),
            ]
            summary = progress_summary(step.get("progress"))
            if summary:
                cells.append(summary)
            lines.append("  ".join(cells).rstrip())
        if len(running) > len(shown):
            lines.append(f"  ... and {len(running) - len(shown)} more")
    return [_fit(line, width) for line in lines]


def redraw(lines: Sequence[str], previous_count: int) -> str:
    """ANSI text that replaces the ``previous_count`` lines drawn last with ``lines``:
    back to the start of the first old line, clear to the end of the screen, draw."""
    move = f"\x1b[{previous_count}F\x1b[J" if previous_count else ""
    return move + "".join(f"{line}\n" for line in lines)


def _step_change(step: dict[str, Any], before: str | None) -> str:
    change = f"{before} -> {step['state']}" if before else step["state"]
    line = f"{step['cloud']}: {change}"
    if step["state"] in FINISHED and step.get("details"):
        line += f": {step['details']}"
    return line


def render_changes(
    previous: tuple[dict[str, Any], Sequence[dict[str, Any]]] | None,
    strategy: dict[str, Any],
    steps: Sequence[dict[str, Any]],
    now: datetime.datetime,
) -> list[str]:
    """The lines to print for what changed since ``previous`` (strategy, steps), one
    line per change, for output that is not a terminal. The first time (``previous``
    None): the headline, the progress bar, and every step that is not ``initial``."""
    stamp = now.astimezone().strftime("%H:%M:%S")
    lines = []
    if previous is None:
        lines.append(strategy_headline(strategy))
        lines.extend(_step_change(step, None) for step in steps if step["state"] != "initial")
        lines.append(progress_bar(finished_count(steps), len(steps)))
    else:
        old_strategy, old_steps = previous
        if old_strategy.get("state") != strategy.get("state"):
            lines.append(f"strategy: {old_strategy.get('state')} -> {strategy.get('state')}")
        before = {step["id"]: step["state"] for step in old_steps}
        for step in steps:
            if before.get(step["id"]) != step["state"]:
                lines.append(_step_change(step, before.get(step["id"])))
        if finished_count(old_steps) != finished_count(steps) or len(old_steps) != len(steps):
            lines.append(progress_bar(finished_count(steps), len(steps)))
    return [f"{stamp} {line}" for line in lines]


def render_summary(strategy: dict[str, Any], steps: Sequence[dict[str, Any]]) -> list[str]:
    """The final report: the outcome, counts per state, and the failed (then skipped)
    steps with their details."""
    lines = [
        f"{str(strategy.get('type') or STRATEGY_TYPE).capitalize()} strategy "
        f"{strategy.get('state')}: {len(steps)} step{'' if len(steps) == 1 else 's'}: "
        f"{format_counts(state_counts(steps))}"
    ]
    for state, title in (("failed", "Failed"), ("skipped", "Skipped")):
        chosen = [step for step in steps if step["state"] == state]
        if chosen:
            lines.append(f"{title}:")
            lines.extend(f"  {step['cloud']}: {step.get('details') or '-'}" for step in chosen)
    return lines


def exit_status(strategy: dict[str, Any]) -> int | None:
    """The watch's exit status once the strategy has ended; None while it has not.

    :raises CommandError: the strategy is being deleted (it will never end).
    """
    state = strategy.get("state")
    if state == StrategyState.DELETING:
        raise CommandError("The strategy is being deleted.")
    return EXIT_STATUS.get(state)


# --- the live view -------------------------------------------------------------------

HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass
class Watcher:
    """Polls the strategy and its steps until the strategy ends and shows them: the view
    redrawn in place on a terminal, a line per change otherwise; then the summary."""

    fetch: Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]
    out: TextIO
    interval: float = 1.0
    tty: bool = False
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime.datetime] = _utcnow
    terminal_size: Callable[[], os.terminal_size] = shutil.get_terminal_size

    def run(self) -> int:
        previous = None
        drawn = 0
        if self.tty:
            self.out.write(HIDE_CURSOR)
        try:
            while True:
                strategy, steps = self.fetch()
                if self.tty:
                    columns, rows = self.terminal_size()
                    lines = render_view(strategy, steps, self.now(), columns, rows - 8)
                    self.out.write(redraw(lines, drawn))
                    drawn = len(lines)
                else:
                    for line in render_changes(previous, strategy, steps, self.now()):
                        self.out.write(line + "\n")
                self.out.flush()
                previous = (strategy, steps)
                status = exit_status(strategy)
                if status is not None:
                    self.out.write("\n".join(["", *render_summary(strategy, steps)]) + "\n")
                    return status
                self.sleep(self.interval)
        finally:
            if self.tty:
                self.out.write(SHOW_CURSOR)
                self.out.flush()


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"invalid interval: '{value}' (seconds, above 0)")
    return number


def _add_watch_options(parser, with_flag: bool) -> None:
    if with_flag:
        parser.add_argument(
            "--watch",
            action="store_true",
            help="Follow the strategy live until it ends; exit 0 if it completes, 1 if it "
            "fails or is aborted.",
        )
    parser.add_argument(
        "--interval",
        type=_positive_float,
        default=1.0,
        metavar="SECONDS",
        help="Seconds between polls when watching (default 1).",
    )


def watch(app, interval: float) -> int:
    """Run the live view of the prestage strategy; its exit status."""
    client = app.client

    def fetch():
        strategy = client.get(STRATEGY_PATH + TYPE_QUERY)
        # After the strategy: once it has ended, so have all its steps.
        steps = client.get(STEPS_PATH + TYPE_QUERY)["strategy-steps"]
        return strategy, steps

    return Watcher(fetch, app.stdout, interval, tty=_is_tty(app.stdout)).run()


# --- the prestage arguments (shared with ``subcloud prestage``) -------------------------


def add_prestage_options(parser) -> None:
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


def prestage_body(parsed_args, stderr: TextIO) -> dict[str, Any]:
    """The prestage fields of a request: the password (prompted for if not given) in
    base64, and the options given."""
    password = parsed_args.sysadmin_password
    if password is None:
        password = prompt_password(stderr)
    body: dict[str, Any] = {"sysadmin_password": encode_password(password)}
    if parsed_args.release is not None:
        body["release"] = parsed_args.release
    for option in ("force", "for_install", "for_sw_deploy"):
        if getattr(parsed_args, option):
            body[option] = True
    return body


# --- prestage-strategy ---------------------------------------------------------------


class CreatePrestageStrategy(show.ShowOne):
    """Create a prestage strategy: for one subcloud, a group, or every subcloud."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "cloud_name", nargs="?", help="The one subcloud to prestage (default: all)."
        )
        parser.add_argument(
            "--subcloud-apply-type",
            choices=("parallel", "serial"),
            help="Prestage the subclouds one at a time or several at once.",
        )
        parser.add_argument(
            "--max-parallel-subclouds",
            type=int,
            metavar="N",
            help="Most subclouds prestaged at once (default: the group's, or 2).",
        )
        parser.add_argument(
            "--stop-on-failure",
            action="store_true",
            help="Start no more subclouds after the first failure.",
        )
        parser.add_argument("--group", help="Name or id of the subcloud group to prestage.")
        add_prestage_options(parser)
        return parser

    def take_action(self, parsed_args):
        body: dict[str, Any] = {"type": STRATEGY_TYPE}
        if parsed_args.cloud_name is not None:
            body["cloud_name"] = parsed_args.cloud_name
        if parsed_args.subcloud_apply_type is not None:
            body["subcloud-apply-type"] = parsed_args.subcloud_apply_type
        if parsed_args.max_parallel_subclouds is not None:
            body["max-parallel-subclouds"] = parsed_args.max_parallel_subclouds
        if parsed_args.stop_on_failure:
            body["stop-on-failure"] = True
        if parsed_args.group is not None:
            body["subcloud_group"] = parsed_args.group
        body.update(prestage_body(parsed_args, self.app.stderr))
        return strategy_detail(self.app.client.post(STRATEGY_PATH, body))


class ShowPrestageStrategy(show.ShowOne):
    """Show the prestage strategy, or follow it live with --watch."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_watch_options(parser, with_flag=True)
        return parser

    def run(self, parsed_args):
        if parsed_args.watch:
            parsed_args = self._run_before_hooks(parsed_args)
            return watch(self.app, parsed_args.interval)
        return super().run(parsed_args)

    def take_action(self, parsed_args):
        return strategy_detail(self.app.client.get(STRATEGY_PATH + TYPE_QUERY))


class WatchPrestageStrategy(command.Command):
    """Follow the prestage strategy live until it ends: exit 0 if it completes, 1 if it
    fails or is aborted."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_watch_options(parser, with_flag=False)
        return parser

    def take_action(self, parsed_args):
        return watch(self.app, parsed_args.interval)


class _StrategyAction(show.ShowOne):
    action: str

    def take_action(self, parsed_args):
        path = f"{STRATEGY_PATH}/actions{TYPE_QUERY}"
        return strategy_detail(self.app.client.post(path, {"action": self.action}))


class ApplyPrestageStrategy(_StrategyAction):
    """Apply the prestage strategy (from its initial state)."""

    action = "apply"


class AbortPrestageStrategy(_StrategyAction):
    """Abort the prestage strategy: steps not started are aborted, running ones finish."""

    action = "abort"


class DeletePrestageStrategy(show.ShowOne):
    """Delete the prestage strategy (unless it is running)."""

    def take_action(self, parsed_args):
        return strategy_detail(self.app.client.delete(STRATEGY_PATH + TYPE_QUERY))


# --- strategy-step -------------------------------------------------------------------


class ListSteps(lister.Lister):
    """List the steps of the current strategy, one per subcloud, in order."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--state", help="Only the steps in this state.")
        parser.add_argument("--limit", type=int, metavar="N", help="At most N steps.")
        parser.add_argument(
            "--marker", type=int, metavar="ID", help="Only the steps after the step with this id."
        )
        return parser

    def take_action(self, parsed_args):
        query = {
            key: getattr(parsed_args, key)
            for key in ("state", "limit", "marker")
            if getattr(parsed_args, key) is not None
        }
        path = STEPS_PATH + (f"?{urllib.parse.urlencode(query)}" if query else "")
        return step_rows(self.app.client.get(path)["strategy-steps"])


class ShowStep(show.ShowOne):
    """Show the step of one subcloud in the current strategy."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("cloud_name", help="Name of the subcloud.")
        return parser

    def take_action(self, parsed_args):
        return step_detail(self.app.client.get(f"{STEPS_PATH}/{quote(parsed_args.cloud_name)}"))
