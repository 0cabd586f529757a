"""The live view of a running strategy, for every strategy type.

``dcmanager <type>-strategy watch`` (and ``show --watch``) polls the strategy and its
steps, as ``GET /sw-update-strategy`` and ``GET /sw-update-strategy/steps`` return them,
until the strategy ends, and shows them:

* on a terminal, a view redrawn in place by :class:`rich.live.Live`: the headline, a
  progress bar, the counts per state, and the steps in flight;
* otherwise (a pipe, a file, ``TERM=dumb``), one line per change, without escape codes;

then the summary; the exit status is 0 if the strategy completed, 1 if it failed or was
aborted.

What differs between strategy types (their step states, the arguments their headline
shows) comes from a :class:`StrategyKind`. The view is drawn by pure functions (strategy,
steps and time in; text or a rich renderable out), so that it can be tested without a
terminal or a server; :class:`Watcher` only polls and writes.
"""

import contextlib
import dataclasses
import datetime
import os
import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TextIO

from rich.console import Console
from rich.console import Group
from rich.console import RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from dcmanager.cli.client import CommandError

Strategy = Mapping[str, Any]
Step = Mapping[str, Any]
Snapshot = tuple[Strategy, Sequence[Step]]


def _no_target(extra_args: Mapping[str, Any]) -> str | None:
    return None


@dataclasses.dataclass(frozen=True)
class StrategyKind:
    """What the live view needs to know of one strategy type: its vocabulary of step and
    strategy states, and how its headline describes its ``extra-args``."""

    name: str
    """The API's ``type`` (``prestage``); the headline starts with it."""
    step_states: tuple[str, ...]
    """Every step state, in the order a step walks them: counts are shown in this order
    (states of a newer server after them, by name)."""
    in_flight: frozenset[str]
    """States of a running step: the view lists those steps with their progress."""
    finished: frozenset[str]
    """States a step ends in: they count as done in the progress bar."""
    not_started: str
    """The state of a step not started yet: not reported when a line-by-line watch
    begins."""
    listed: tuple[tuple[str, str], ...]
    """(step state, title): the steps the summary names, with their details, in order."""
    end_states: Mapping[str, int]
    """The strategy states the watch ends in, and its exit status for each."""
    deleting: str
    """The strategy state in which it will never end: the watch gives up."""
    target: Callable[[Mapping[str, Any]], str | None] = _no_target
    """What the strategy applies (``release 25.09``), read from its ``extra-args``."""
    flags: tuple[tuple[str, str], ...] = ()
    """(``extra-args`` key, word): the words the headline shows for the keys set."""


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


def progress_summary(progress: Mapping[str, Any] | None) -> str | None:
    """A step's transfer progress (the API's ``StepProgress``) as ``1.2/2.0 GiB,
    100/400``; None when it has none.

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


def state_counts(steps: Sequence[Step], order: Sequence[str]) -> dict[str, int]:
    """How many steps are in each state: the states of ``order`` in that order, then any
    other state (a newer server's) by name; states no step is in are left out."""
    counts: dict[str, int] = {}
    for step in steps:
        counts[step["state"]] = counts.get(step["state"], 0) + 1
    rank = {state: index for index, state in enumerate(order)}
    return dict(sorted(counts.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def format_counts(counts: Mapping[str, int]) -> str:
    """``complete 3, failed 1``; ``no steps`` when there are none."""
    return ", ".join(f"{state} {count}" for state, count in counts.items()) or "no steps"


def finished_count(steps: Sequence[Step], finished: Collection[str]) -> int:
    """How many of ``steps`` are in one of the ``finished`` states."""
    return sum(1 for step in steps if step["state"] in finished)


def _fraction(done: int, total: int) -> float:
    return done / total if total else 1.0


def finished_text(done: int, total: int) -> str:
    """`` 3/10 steps finished (30%)``: ``done`` padded to the width of ``total``."""
    percent = int(_fraction(done, total) * 100)
    return f"{done:>{len(str(total))}}/{total} steps finished ({percent}%)"


def progress_bar(done: int, total: int, width: int = 30) -> str:
    """``[#########.....................]  3/10 steps finished (30%)``, for output that is
    not a terminal."""
    filled = min(width, int(width * _fraction(done, total)))
    return f"[{'#' * filled}{'.' * (width - filled)}] {finished_text(done, total)}"


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


def _title(kind: StrategyKind, strategy: Strategy) -> str:
    return f"{str(strategy.get('type') or kind.name).capitalize()} strategy"


def headline(kind: StrategyKind, strategy: Strategy) -> str:
    """``Prestage strategy applying (parallel, max 2 at a time, release 25.09)``: the
    state, how the steps run, what the strategy applies, then its options."""
    extra = strategy.get("extra-args") or {}
    how = [
        str(strategy.get("subcloud-apply-type")),
        f"max {strategy.get('max-parallel-subclouds')} at a time",
    ]
    target = kind.target(extra)
    if target:
        how.append(target)
    if strategy.get("stop-on-failure"):
        how.append("stop on failure")
    how.extend(word for key, word in kind.flags if extra.get(key))
    if strategy.get("eta"):
        how.append(f"ends about {strategy['eta'][11:19]} UTC")
    return f"{_title(kind, strategy)} {strategy.get('state')} ({', '.join(how)})"


def exit_status(kind: StrategyKind, strategy: Strategy) -> int | None:
    """The watch's exit status once the strategy has ended; None while it has not.

    :raises CommandError: the strategy is being deleted (it will never end).
    """
    state = strategy.get("state")
    if state == kind.deleting:
        raise CommandError("The strategy is being deleted.")
    return kind.end_states.get(state)


# --- the view on a terminal ----------------------------------------------------------


def _line(text: str, style: str = "") -> Text:
    """One line of the view: cut with an ellipsis rather than wrapped."""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def _bar(done: int, total: int, width: int) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=width, no_wrap=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    grid.add_row(
        ProgressBar(
            total=total or 1,
            completed=done if total else 1,
            width=width,
            complete_style="cyan",
            finished_style="green",
        ),
        finished_text(done, total),
    )
    return grid


def _in_flight(steps: Sequence[Step], now: datetime.datetime) -> list[Text]:
    """A line per step, in aligned columns: cloud, state, time in flight, progress. A line
    too long is cut at its end (the progress first), so that names and states stay."""
    name_width = max(len(str(step["cloud"])) for step in steps)
    state_width = max(len(str(step["state"])) for step in steps)
    lines = []
    for step in steps:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"  {step['cloud']!s:<{name_width}}  ")
        line.append(str(step["state"]), style="cyan")
        line.append(" " * (state_width - len(str(step["state"]))))
        line.append(f"  {elapsed(step.get('started-at'), now):>7}")
        summary = progress_summary(step.get("progress"))
        if summary:
            line.append(f"  {summary}")
        line.rstrip()
        lines.append(line)
    return lines


def render_view(
    kind: StrategyKind,
    strategy: Strategy,
    steps: Sequence[Step],
    now: datetime.datetime,
    width: int = 80,
    max_steps: int = 20,
) -> RenderableType:
    """The live view: headline, progress bar, counts per state, and the steps in flight
    (at most ``max_steps`` of them, at least one) with their time and progress. The bar's
    length follows ``width``, the console's; longer lines are cut, never wrapped."""
    parts: list[RenderableType] = [
        _line(headline(kind, strategy), "bold"),
        _bar(finished_count(steps, kind.finished), len(steps), max(10, min(40, width - 40))),
        _line(format_counts(state_counts(steps, kind.step_states))),
    ]
    running = [step for step in steps if step["state"] in kind.in_flight]
    if running:
        shown = running[: max(1, max_steps)]
        parts.append(_line(f"In flight ({len(running)}):"))
        parts.extend(_in_flight(shown, now))
        if len(running) > len(shown):
            parts.append(_line(f"  ... and {len(running) - len(shown)} more"))
    return Group(*parts)


# --- a line per change, and the summary ----------------------------------------------


def _step_change(kind: StrategyKind, step: Step, before: str | None) -> str:
    change = f"{before} -> {step['state']}" if before else step["state"]
    line = f"{step['cloud']}: {change}"
    if step["state"] in kind.finished and step.get("details"):
        line += f": {step['details']}"
    return line


def render_changes(
    kind: StrategyKind,
    previous: Snapshot | None,
    strategy: Strategy,
    steps: Sequence[Step],
    now: datetime.datetime,
) -> list[str]:
    """The lines to print for what changed since ``previous`` (strategy, steps), one
    line per change, for output that is not a terminal. The first time (``previous``
    None): the headline, every step that has started or ended, and the progress bar."""
    lines = []
    done = finished_count(steps, kind.finished)
    if previous is None:
        lines.append(headline(kind, strategy))
        lines.extend(
            _step_change(kind, step, None) for step in steps if step["state"] != kind.not_started
        )
        lines.append(progress_bar(done, len(steps)))
    else:
        old_strategy, old_steps = previous
        if old_strategy.get("state") != strategy.get("state"):
            lines.append(f"strategy: {old_strategy.get('state')} -> {strategy.get('state')}")
        before = {step["id"]: step["state"] for step in old_steps}
        for step in steps:
            if before.get(step["id"]) != step["state"]:
                lines.append(_step_change(kind, step, before.get(step["id"])))
        if finished_count(old_steps, kind.finished) != done or len(old_steps) != len(steps):
            lines.append(progress_bar(done, len(steps)))
    stamp = now.astimezone().strftime("%H:%M:%S")
    return [f"{stamp} {line}" for line in lines]


def render_summary(kind: StrategyKind, strategy: Strategy, steps: Sequence[Step]) -> list[str]:
    """The final report: the outcome, counts per state, and the steps of the states
    ``kind.listed`` names (failed, skipped...) with their details."""
    lines = [
        f"{_title(kind, strategy)} {strategy.get('state')}: "
        f"{len(steps)} step{'' if len(steps) == 1 else 's'}: "
        f"{format_counts(state_counts(steps, kind.step_states))}"
    ]
    for state, title in kind.listed:
        chosen = [step for step in steps if step["state"] == state]
        if chosen:
            lines.append(f"{title}:")
            lines.extend(f"  {step['cloud']}: {step.get('details') or '-'}" for step in chosen)
    return lines


# --- polling -------------------------------------------------------------------------


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal the view can be redrawn on (not ``TERM=dumb``)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def console_for(stream: TextIO) -> Console:
    """A console writing to ``stream``, a terminal only if :func:`is_terminal` says so:
    output to a pipe or a file stays a line per change, whatever ``FORCE_COLOR`` or
    ``TTY_COMPATIBLE`` say."""
    return Console(file=stream, force_terminal=is_terminal(stream))


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


Draw = Callable[[Strategy, Sequence[Step]], None]


@dataclasses.dataclass
class Watcher:
    """Polls the strategy and its steps until the strategy ends and shows them: the view
    redrawn in place on a terminal console, a line per change otherwise; then the
    summary."""

    fetch: Callable[[], Snapshot]
    kind: StrategyKind
    console: Console
    interval: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime.datetime] = _utcnow

    def run(self) -> int:
        """Watch to the end; the exit status (see :func:`exit_status`).

        :raises CommandError: the strategy is being deleted, or the server could not be
            asked.
        """
        redraw = self.console.is_terminal and not self.console.is_dumb_terminal
        strategy, steps = self.fetch()  # before drawing: a first error shows no view
        with self._live() if redraw else self._lines() as draw:
            while True:
                draw(strategy, steps)
                status = exit_status(self.kind, strategy)
                if status is not None:
                    break
                self.sleep(self.interval)
                strategy, steps = self.fetch()
        summary = render_summary(self.kind, strategy, steps)
        self.console.out("")
        self.console.out(
            summary[0], style="bold green" if status == 0 else "bold red", highlight=False
        )
        for line in summary[1:]:
            self.console.out(line, highlight=False)
        return status

    @contextlib.contextmanager
    def _live(self) -> Iterator[Draw]:
        """The view, redrawn in place after each poll (by this thread: no refresh
        thread); the cursor hidden meanwhile."""
        with Live(
            console=self.console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="ellipsis",
        ) as live:

            def draw(strategy: Strategy, steps: Sequence[Step]) -> None:
                width, height = self.console.size
                view = render_view(self.kind, strategy, steps, self.now(), width, height - 8)
                live.update(view, refresh=True)

            yield draw

    @contextlib.contextmanager
    def _lines(self) -> Iterator[Draw]:
        """A line per change since the poll before."""
        previous: Snapshot | None = None

        def draw(strategy: Strategy, steps: Sequence[Step]) -> None:
            nonlocal previous
            for line in render_changes(self.kind, previous, strategy, steps, self.now()):
                self.console.out(line, highlight=False)
            self.console.file.flush()
            previous = (strategy, steps)

        yield draw
