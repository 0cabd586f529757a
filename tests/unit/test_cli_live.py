"""The live view of a strategy (``dcmanager.cli.live``), without a server or a terminal.

The view is rendered to a ``rich.console.Console`` writing to a ``StringIO``; what a
terminal would show of it is read back with :func:`screen`. Most tests use the prestage
strategy's description (``dcmanager.cli.strategy.PRESTAGE``); ``APP_UPDATE``, a made-up
type with other step states, checks that nothing in the view is prestage's own.
"""

import datetime
import io
import re

import pytest
from rich.console import Console

from dcmanager.cli import live
from dcmanager.cli.client import CommandError
from dcmanager.cli.strategy import PRESTAGE

NOW = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
GIB = 1024**3
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Another strategy type, as one to come might describe itself.
APP_UPDATE = live.StrategyKind(
    name="app-update",
    step_states=("queued", "uploading", "applying-app", "done", "broken", "left-out"),
    in_flight=frozenset({"uploading", "applying-app"}),
    finished=frozenset({"done", "broken", "left-out"}),
    not_started="queued",
    listed=(("broken", "Broken"),),
    end_states={"complete": 0, "failed": 3},
    deleting="deleting",
    target=lambda extra: f"app {extra['app']}" if extra.get("app") else None,
    flags=(("reapply", "reapply"),),
)


def step(step_id, cloud, state, details=None, progress=None, started_at=None) -> dict:
    return {
        "id": step_id,
        "cloud": cloud,
        "stage": 1,
        "state": state,
        "details": details,
        "progress": progress,
        "started-at": started_at,
        "finished-at": None,
    }


def strategy(state="applying", **extra) -> dict:
    return {
        "id": 1,
        "type": "prestage",
        "subcloud-apply-type": "parallel",
        "max-parallel-subclouds": 2,
        "stop-on-failure": False,
        "state": state,
        "created-at": "2025-01-02T03:00:00+00:00",
        "updated-at": None,
        "extra-args": {"prestage-software-version": "25.09", **extra},
    }


def app_strategy(state="applying") -> dict:
    return dict(strategy(state), type="app-update", **{"extra-args": {"app": "vault"}})


def terminal(width=120, height=25, color=False) -> Console:
    """A console that takes itself for a terminal, writing to a StringIO; without colour
    unless asked, so that what it shows is plain text."""
    return Console(
        file=io.StringIO(),
        width=width,
        height=height,
        force_terminal=True,
        color_system="standard" if color else None,
    )


def draw(renderable, width=120) -> list[str]:
    """The lines a terminal ``width`` columns wide shows of ``renderable``."""
    console = terminal(width)
    console.print(renderable)
    return console.file.getvalue().splitlines()


def screen(text: str) -> list[str]:
    """What a terminal shows once it has received ``text``. Knows what the live view
    sends: CR, LF, cursor up (``ESC[nA``), erase line (``ESC[2K``); ignores styles and
    cursor visibility. Trailing blank rows are dropped."""
    rows, row, col = [""], 0, 0
    for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]+", text):
        if token == "\n":
            row, col = row + 1, 0
            if row == len(rows):
                rows.append("")
        elif token == "\r":
            col = 0
        elif token == "\x1b[2K":
            rows[row] = ""
        elif up := re.fullmatch(r"\x1b\[(\d*)A", token):
            row = max(0, row - int(up.group(1) or 1))
        elif not token.startswith("\x1b"):
            rows[row] = rows[row][:col].ljust(col) + token + rows[row][col + len(token) :]
            col += len(token)
    while rows and not rows[-1].strip():
        rows.pop()
    return rows


def test_screen_emulation():
    assert screen("a\nb\n\r\x1b[2K\x1b[1A\x1b[2K\x1b[1A\x1b[2Kc\n") == ["c"]
    assert screen("\x1b[1mab\x1b[0m\rX\n\x1b[?25h") == ["Xb"]


class TestFormatting:
    @pytest.mark.parametrize(
        ("count", "text"),
        [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (5 * 1024**2, "5.0 MiB"),
            (int(1.2 * GIB), "1.2 GiB"),
            (3 * 1024**4, "3.0 TiB"),
            (2048 * 1024**5, "2048.0 PiB"),
        ],
    )
    def test_format_bytes(self, count, text):
        assert live.format_bytes(count) == text

    @pytest.mark.parametrize(
        ("progress", "text"),
        [
            (None, None),
            ({}, None),
            (
                {
                    "bytes_done": 0,
                    "bytes_total": 0,
                    "artifacts_done": 0,
                    "artifacts_total": 0,
                },
                None,
            ),
            (
                {
                    "bytes_done": int(1.2 * GIB),
                    "bytes_total": 2 * GIB,
                    "artifacts_done": 100,
                    "artifacts_total": 400,
                },
                "1.2/2.0 GiB, 100/400",
            ),
            ({"bytes_done": 512 * 1024, "bytes_total": 3 * GIB}, "0.0/3.0 GiB"),
            ({"bytes_done": 10, "bytes_total": 100}, "10/100 B"),
            ({"bytes_done": 1024**2, "bytes_total": 4 * 1024**2}, "1.0/4.0 MiB"),
            ({"artifacts_done": 7, "artifacts_total": 60}, "7/60"),
            ({"bytes_done": None, "bytes_total": GIB, "artifacts_total": None}, "0.0/1.0 GiB"),
        ],
    )
    def test_progress_summary(self, progress, text):
        assert live.progress_summary(progress) == text

    def test_state_counts_in_walking_order(self):
        steps = [
            step(1, "a", "complete"),
            step(2, "b", "initial"),
            step(3, "c", "zz-new-state"),
            step(4, "d", "prestaging-images"),
            step(5, "e", "complete"),
            step(6, "f", "failed"),
            step(7, "g", "aa-new-state"),
            step(8, "h", "prestage-precheck"),
        ]
        counts = live.state_counts(steps, PRESTAGE.step_states)
        assert list(counts.items()) == [
            ("initial", 1),
            ("prestage-precheck", 1),
            ("prestaging-images", 1),
            ("complete", 2),
            ("failed", 1),
            ("aa-new-state", 1),
            ("zz-new-state", 1),
        ]
        assert live.format_counts(counts).startswith("initial 1, prestage-precheck 1, ")
        assert live.format_counts({}) == "no steps"

    def test_state_counts_follow_the_kind(self):
        steps = [step(1, "a", "done"), step(2, "b", "queued"), step(3, "c", "uploading")]
        counts = live.state_counts(steps, APP_UPDATE.step_states)
        assert list(counts) == ["queued", "uploading", "done"]

    def test_finished_count(self):
        states = ["initial", "prestaging-packages", "complete", "failed", "aborted", "skipped"]
        steps = [step(i, f"s{i}", state) for i, state in enumerate(states)]
        assert live.finished_count(steps, PRESTAGE.finished) == 4
        assert live.finished_count(steps, APP_UPDATE.finished) == 0

    @pytest.mark.parametrize(
        ("done", "total", "width", "text"),
        [
            (0, 4, 8, "[........] 0/4 steps finished (0%)"),
            (3, 10, 10, "[###.......]  3/10 steps finished (30%)"),
            (2, 3, 6, "[####..] 2/3 steps finished (66%)"),
            (10, 10, 4, "[####] 10/10 steps finished (100%)"),
            (0, 0, 4, "[####] 0/0 steps finished (100%)"),
        ],
    )
    def test_progress_bar(self, done, total, width, text):
        assert live.progress_bar(done, total, width) == text

    @pytest.mark.parametrize(
        ("started", "text"),
        [
            (None, ""),
            ("", ""),
            ("garbage", ""),
            ("2025-01-02T03:04:05+00:00", "0:00"),
            ("2025-01-02T03:03:00+00:00", "1:05"),
            ("2025-01-02T03:03:00", "1:05"),  # naive: UTC
            ("2025-01-02T01:02:03+00:00", "2:02:02"),
            ("2025-01-02T04:00:00+00:00", "0:00"),  # clock skew: never negative
            ("2025-01-02T04:04:05+01:00", "0:00"),
        ],
    )
    def test_elapsed(self, started, text):
        assert live.elapsed(started, NOW) == text

    def test_headline(self):
        assert live.headline(PRESTAGE, strategy()) == (
            "Prestage strategy applying (parallel, max 2 at a time, release 25.09)"
        )
        everything = dict(
            strategy("initial", force=True, for_install=True),
            **{"stop-on-failure": True, "subcloud-apply-type": "serial"},
        )
        everything["max-parallel-subclouds"] = 1
        assert live.headline(PRESTAGE, everything) == (
            "Prestage strategy initial (serial, max 1 at a time, release 25.09, "
            "stop on failure, force, for install)"
        )
        deploy = live.headline(PRESTAGE, strategy(for_sw_deploy=True))
        assert deploy.endswith(", for sw deploy)")
        estimated = dict(strategy(), eta="2026-12-07T18:04:09.120000+00:00")
        assert live.headline(PRESTAGE, estimated).endswith(
            "release 25.09, ends about 18:04:09 UTC)"
        )

    def test_headline_of_another_kind(self):
        app = app_strategy()
        assert live.headline(APP_UPDATE, app) == (
            "App-update strategy applying (parallel, max 2 at a time, app vault)"
        )
        app["extra-args"] = {"reapply": True}
        app["type"] = None  # the kind's name stands in
        assert live.headline(APP_UPDATE, app) == (
            "App-update strategy applying (parallel, max 2 at a time, reapply)"
        )


class TestRenderView:
    def running(self):
        progress = {
            "bytes_done": GIB,
            "bytes_total": 2 * GIB,
            "artifacts_done": 200,
            "artifacts_total": 400,
        }
        return [
            step(1, "site1", "complete"),
            step(
                2,
                "a-long-name",
                "prestaging-packages",
                progress=progress,
                started_at="2025-01-02T03:02:05+00:00",
            ),
            step(3, "site3", "prestage-precheck", started_at="2025-01-02T03:04:00+00:00"),
            step(4, "site4", "initial"),
            step(5, "site5", "failed", details="prestage-precheck: boom"),
        ]

    def test_running(self):
        lines = draw(live.render_view(PRESTAGE, strategy(), self.running(), NOW, width=120))
        assert lines[0] == "Prestage strategy applying (parallel, max 2 at a time, release 25.09)"
        # A 40-column bar, 2/5 of it drawn (the rest is only coloured in).
        assert re.fullmatch(r"(━{16}) +2/5 steps finished \(40%\)", lines[1]), lines[1]
        assert lines[1].index("2/5") == 41
        assert lines[2] == (
            "initial 1, prestage-precheck 1, prestaging-packages 1, complete 1, failed 1"
        )
        assert lines[3] == "In flight (2):"
        assert lines[4:] == [
            "  a-long-name  prestaging-packages     2:00  1.0/2.0 GiB, 200/400",
            "  site3        prestage-precheck       0:05",
        ]

    def test_styles_on_a_colour_terminal(self):
        console = terminal(color=True)
        console.print(live.render_view(PRESTAGE, strategy(), self.running(), NOW))
        out = console.file.getvalue()
        assert "\x1b[1mPrestage strategy applying" in out  # bold headline
        assert "\x1b[36mprestaging-packages" in out  # states in cyan
        # The bar: the part done in cyan (green once all is), the rest in grey.
        assert "\x1b[36m" + "━" * 16 + "\x1b[0m\x1b[90m╺" in out
        console = terminal(color=True)
        console.print(live.render_view(PRESTAGE, strategy(), [step(1, "a", "failed")], NOW))
        assert "\x1b[32m" + "━" * 40 + "\x1b[0m 1/1 steps finished" in console.file.getvalue()

    def test_nothing_in_flight(self):
        steps = [step(1, "site1", "complete"), step(2, "site2", "initial")]
        lines = draw(live.render_view(PRESTAGE, strategy("complete"), steps, NOW))
        assert len(lines) == 3
        assert "1/2 steps finished (50%)" in lines[1]
        assert lines[2] == "initial 1, complete 1"

    def test_no_steps(self):
        lines = draw(live.render_view(PRESTAGE, strategy(), [], NOW))
        assert lines[1].endswith("0/0 steps finished (100%)")
        assert lines[2] == "no steps"

    def test_many_in_flight_are_cut(self):
        steps = [step(i, f"sc{i}", "prestaging-images") for i in range(1, 11)]
        lines = draw(live.render_view(PRESTAGE, strategy(), steps, NOW, max_steps=3))
        assert lines[3] == "In flight (10):"
        assert [line.split()[0] for line in lines[4:7]] == ["sc1", "sc2", "sc3"]
        assert lines[7:] == ["  ... and 7 more"]
        # A terminal too small for any: still one.
        lines = draw(live.render_view(PRESTAGE, strategy(), steps, NOW, max_steps=-5))
        assert lines[5] == "  ... and 9 more"

    def test_lines_never_wrap(self):
        steps = [
            step(1, "x" * 200, "prestaging-images", started_at="2025-01-02T03:00:00"),
            step(2, "short", "prestaging-images", progress={"artifacts_total": 9}),
        ]
        for width in (20, 40, 79):
            view = live.render_view(PRESTAGE, strategy(), steps, NOW, width=width)
            lines = draw(view, width)
            assert len(lines) == 6, lines  # as many lines as on a wide terminal
            assert all(len(line) <= width for line in lines), lines
            assert lines[4].endswith("…")
            # A line too long is cut at its end: the name stays.
            assert lines[5].startswith("  short ")

    def test_another_kind(self):
        steps = [
            step(1, "site1", "uploading", started_at="2025-01-02T03:04:00+00:00"),
            step(2, "site2", "done"),
            step(3, "site3", "queued"),
            # A prestage state means nothing to this kind: counted, never in flight.
            step(4, "site4", "prestaging-images"),
        ]
        lines = draw(live.render_view(APP_UPDATE, app_strategy(), steps, NOW))
        assert lines[0].startswith("App-update strategy applying (")
        assert lines[1].endswith("1/4 steps finished (25%)")
        assert lines[2] == "queued 1, uploading 1, done 1, prestaging-images 1"
        assert lines[3:] == ["In flight (1):", "  site1  uploading     0:05"]


class TestRenderChanges:
    def stamp(self) -> str:
        return NOW.astimezone().strftime("%H:%M:%S")

    def test_first_time(self):
        steps = [
            step(1, "site1", "initial"),
            step(2, "site2", "skipped", details="Subcloud is offline."),
            step(3, "site3", "prestage-precheck"),
        ]
        lines = live.render_changes(PRESTAGE, None, strategy(), steps, NOW)
        stamp = self.stamp()
        assert lines == [
            f"{stamp} Prestage strategy applying (parallel, max 2 at a time, release 25.09)",
            f"{stamp} site2: skipped: Subcloud is offline.",
            f"{stamp} site3: prestage-precheck",
            f"{stamp} [##########....................] 1/3 steps finished (33%)",
        ]

    def test_changes(self):
        before = [
            step(1, "site1", "prestaging-images"),
            step(2, "site2", "prestaging-packages", progress={"bytes_done": 1}),
            step(3, "site3", "initial"),
        ]
        after = [
            step(1, "site1", "complete"),
            step(2, "site2", "failed", details="prestaging-packages: boom"),
            step(3, "site3", "prestage-precheck"),
        ]
        lines = live.render_changes(PRESTAGE, (strategy(), before), strategy("failed"), after, NOW)
        stamp = self.stamp()
        assert lines == [
            f"{stamp} strategy: applying -> failed",
            f"{stamp} site1: prestaging-images -> complete",
            f"{stamp} site2: prestaging-packages -> failed: prestaging-packages: boom",
            f"{stamp} site3: initial -> prestage-precheck",
            f"{stamp} [####################..........] 2/3 steps finished (66%)",
        ]

    def test_no_change_no_line(self):
        steps = [step(1, "site1", "prestaging-packages", progress={"bytes_done": 1})]
        moved = [step(1, "site1", "prestaging-packages", progress={"bytes_done": 2})]
        assert live.render_changes(PRESTAGE, (strategy(), steps), strategy(), moved, NOW) == []

    def test_state_change_without_finishing_has_no_bar(self):
        before = [step(1, "site1", "initial")]
        after = [step(1, "site1", "prestage-precheck")]
        lines = live.render_changes(PRESTAGE, (strategy(), before), strategy(), after, NOW)
        assert lines == [f"{self.stamp()} site1: initial -> prestage-precheck"]

    def test_another_kind(self):
        steps = [step(1, "a", "queued"), step(2, "b", "broken", details="no chart")]
        lines = live.render_changes(APP_UPDATE, None, app_strategy(), steps, NOW)
        assert [line.split(" ", 1)[1] for line in lines] == [
            "App-update strategy applying (parallel, max 2 at a time, app vault)",
            "b: broken: no chart",
            "[###############...............] 1/2 steps finished (50%)",
        ]


class TestRenderSummary:
    def test_complete(self):
        steps = [step(1, "site1", "complete"), step(2, "site2", "complete")]
        assert live.render_summary(PRESTAGE, strategy("complete"), steps) == [
            "Prestage strategy complete: 2 steps: complete 2"
        ]

    def test_failed_and_skipped_with_details(self):
        steps = [
            step(1, "site1", "complete"),
            step(2, "site2", "failed", details="prestage-precheck: boom"),
            step(3, "site3", "skipped", details="Subcloud is offline."),
            step(4, "site4", "aborted"),
            step(5, "site5", "failed"),
        ]
        assert live.render_summary(PRESTAGE, strategy("failed"), steps) == [
            "Prestage strategy failed: 5 steps: complete 1, failed 2, aborted 1, skipped 1",
            "Failed:",
            "  site2: prestage-precheck: boom",
            "  site5: -",
            "Skipped:",
            "  site3: Subcloud is offline.",
        ]

    def test_one_step(self):
        summary = live.render_summary(PRESTAGE, strategy("aborted"), [step(1, "a", "aborted")])
        assert summary == ["Prestage strategy aborted: 1 step: aborted 1"]

    def test_another_kind(self):
        steps = [step(1, "a", "done"), step(2, "b", "broken", details="x"), step(3, "c", "failed")]
        assert live.render_summary(APP_UPDATE, app_strategy("failed"), steps) == [
            "App-update strategy failed: 3 steps: done 1, broken 1, failed 1",
            "Broken:",
            "  b: x",
        ]

    @pytest.mark.parametrize(
        ("state", "status"),
        [
            ("complete", 0),
            ("failed", 1),
            ("aborted", 1),
            ("initial", None),
            ("applying", None),
            ("abort requested", None),
            ("aborting", None),
        ],
    )
    def test_exit_status(self, state, status):
        assert live.exit_status(PRESTAGE, strategy(state)) == status

    def test_exit_status_deleting(self):
        with pytest.raises(CommandError, match="The strategy is being deleted."):
            live.exit_status(PRESTAGE, strategy("deleting"))

    def test_exit_status_of_another_kind(self):
        assert live.exit_status(APP_UPDATE, app_strategy("failed")) == 3
        assert live.exit_status(APP_UPDATE, app_strategy("aborted")) is None


class FakeStream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


class TestWatcher:
    """The polling loop, on canned answers instead of a server."""

    def snapshots(self):
        return [
            (strategy("initial"), [step(1, "site1", "initial"), step(2, "site2", "initial")]),
            (
                strategy("applying"),
                [
                    step(1, "site1", "prestaging-packages", progress={"artifacts_total": 4}),
                    step(2, "site2", "initial"),
                ],
            ),
            (
                strategy("failed"),
                [step(1, "site1", "complete"), step(2, "site2", "failed", details="x: boom")],
            ),
        ]

    def watcher(self, console, snapshots, kind=PRESTAGE):
        answers = iter(snapshots)
        sleeps = []
        watcher = live.Watcher(
            fetch=lambda: next(answers),
            kind=kind,
            console=console,
            interval=0.25,
            sleep=sleeps.append,
            now=lambda: NOW,
        )
        return watcher, sleeps

    def test_lines(self):
        console = live.console_for(FakeStream(False))
        watcher, sleeps = self.watcher(console, self.snapshots())
        assert watcher.run() == 1
        assert sleeps == [0.25, 0.25]
        out = console.file.getvalue()
        assert "\x1b" not in out
        text = re.sub(r"^\d\d:\d\d:\d\d ", "", out, flags=re.M)
        assert text.splitlines() == [
            "Prestage strategy initial (parallel, max 2 at a time, release 25.09)",
            "[..............................] 0/2 steps finished (0%)",
            "strategy: initial -> applying",
            "site1: initial -> prestaging-packages",
            "strategy: applying -> failed",
            "site1: prestaging-packages -> complete",
            "site2: initial -> failed: x: boom",
            "[##############################] 2/2 steps finished (100%)",
            "",
            "Prestage strategy failed: 2 steps: complete 1, failed 1",
            "Failed:",
            "  site2: x: boom",
        ]

    def test_lines_are_never_wrapped(self):
        long = "y" * 300
        snapshots = [(strategy("complete"), [step(1, "site1", "failed", details=long)])]
        console = live.console_for(FakeStream(False))
        watcher, _ = self.watcher(console, snapshots)
        watcher.run()
        assert f"site1: failed: {long}\n" in console.file.getvalue()
        assert f"  site1: {long}\n" in console.file.getvalue()

    def test_terminal(self):
        console = terminal(width=60, height=12)
        snapshots = self.snapshots()
        snapshots[-1] = (strategy("complete"), [step(1, "site1", "complete")] * 2)
        watcher, sleeps = self.watcher(console, snapshots)
        assert watcher.run() == 0
        assert sleeps == [0.25, 0.25]
        out = console.file.getvalue()
        assert out.startswith(HIDE_CURSOR + "Prestage strategy initial")
        assert out.endswith(SHOW_CURSOR + "\nPrestage strategy complete: 2 steps: complete 2\n"), (
            repr(out)
        )
        # Each frame was drawn over the one before: the screen shows the last one only.
        assert screen(out) == [
            "Prestage strategy complete (parallel, max 2 at a time, rele…",
            "━━━━━━━━━━━━━━━━━━━━ 2/2 steps finished (100%)",
            "complete 2",
            "",
            "Prestage strategy complete: 2 steps: complete 2",
        ]
        frames = [screen(frame) for frame in out.split("\r")]
        assert frames[1][-2:] == [
            "In flight (1):",
            f"  site1  prestaging-packages{' ' * 11}0/4",
        ]
        assert all(len(ESCAPE.sub("", line)) <= 60 for line in out.splitlines())

    def test_terminal_height_limits_the_steps_shown(self):
        steps = [step(i, f"sc{i}", "prestaging-images") for i in range(1, 11)]
        console = terminal(height=12)
        watcher, _ = self.watcher(console, [(strategy("failed"), steps)])
        watcher.run()
        shown = screen(console.file.getvalue())
        # 12 rows: the lines of the view and the summary's, and 4 steps.
        assert shown[3:9] == [
            "In flight (10):",
            *(f"  sc{i}  prestaging-images" for i in range(1, 5)),
            "  ... and 6 more",
        ]

    def test_another_kind(self):
        snapshots = [
            (app_strategy("applying"), [step(1, "a", "uploading"), step(2, "b", "queued")]),
            (
                app_strategy("failed"),
                [step(1, "a", "broken", details="no chart"), step(2, "b", "left-out")],
            ),
        ]
        console = live.console_for(FakeStream(False))
        watcher, _ = self.watcher(console, snapshots, kind=APP_UPDATE)
        assert watcher.run() == 3
        text = re.sub(r"^\d\d:\d\d:\d\d ", "", console.file.getvalue(), flags=re.M)
        assert text.splitlines()[-5:] == [
            "[##############################] 2/2 steps finished (100%)",
            "",
            "App-update strategy failed: 2 steps: broken 1, left-out 1",
            "Broken:",
            "  a: no chart",
        ]

    def test_first_error_shows_nothing(self):
        console = terminal()

        def fetch():
            raise CommandError("Connection failed")

        watcher = live.Watcher(fetch=fetch, kind=PRESTAGE, console=console)
        with pytest.raises(CommandError):
            watcher.run()
        assert console.file.getvalue() == ""

    def test_later_error_restores_the_cursor(self):
        answers = iter(self.snapshots()[:1])

        def fetch():
            for answer in answers:
                return answer
            raise CommandError("Connection failed")

        console = terminal()
        watcher = live.Watcher(fetch=fetch, kind=PRESTAGE, console=console, sleep=lambda _: None)
        with pytest.raises(CommandError):
            watcher.run()
        out = console.file.getvalue()
        assert out.startswith(HIDE_CURSOR)
        assert out.endswith("\n" + SHOW_CURSOR)
        # The last view stays, the error comes below it.
        assert screen(out)[0].startswith("Prestage strategy initial")

    def test_deleting_gives_up_after_showing_it(self):
        console = terminal()
        watcher, sleeps = self.watcher(console, [(strategy("deleting"), [])])
        with pytest.raises(CommandError, match="being deleted"):
            watcher.run()
        out = console.file.getvalue()
        assert "Prestage strategy deleting" in out
        assert out.endswith(SHOW_CURSOR)
        assert sleeps == []

    @pytest.mark.parametrize(
        ("tty", "term", "expected"),
        [(True, "xterm", True), (True, "dumb", False), (False, "xterm", False)],
    )
    def test_is_terminal(self, monkeypatch, tty, term, expected):
        monkeypatch.setenv("TERM", term)
        assert live.is_terminal(FakeStream(tty)) is expected
        assert live.is_terminal(object()) is False
        assert live.console_for(FakeStream(tty)).is_terminal is expected

    @pytest.mark.parametrize("variable", ["FORCE_COLOR", "TTY_COMPATIBLE"])
    def test_a_pipe_stays_a_pipe(self, monkeypatch, variable):
        """rich would take these for a terminal; the watch keeps a line per change."""
        monkeypatch.setenv(variable, "1")
        console = live.console_for(FakeStream(False))
        watcher, _ = self.watcher(console, self.snapshots())
        watcher.run()
        assert "\x1b" not in console.file.getvalue()
