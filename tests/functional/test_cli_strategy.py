"""``dcmanager prestage-strategy ...``, ``strategy-step ...`` and ``subcloud prestage``.

As in ``test_cli``: the CLI runs in-process against ``live_api`` and the tests check what
the user sees. Without the ``roles`` fixture nothing runs a strategy, so its state stays
where the API put it; with ``roles`` strategies really run on simulated subclouds.
The live view's rendering is tested on its own in ``tests/unit/test_cli_live.py``.
"""

import base64
import json
import re
from typing import Any

import pytest
import yaml
from sqlalchemy import orm
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.cli import live
from dcmanager.cli import strategy as cli_strategy
from dcmanager.common import crypt
from dcmanager.db import api as db_api
from dcmanager.db import orchestration as db_orchestration
from dcmanager.db.sqlalchemy import models
from tests import tallies as test_tallies
from tests.functional import strategy_helpers as sh
from tests.functional.test_cli import CLI
from tests.functional.test_cli import SUBCLOUD_FIELDS
from tests.functional.test_cli import Result
from tests.functional.test_cli import closed_port
from tests.functional.test_cli import run_cli
from tests.unit.test_cli_live import HIDE_CURSOR
from tests.unit.test_cli_live import SHOW_CURSOR
from tests.unit.test_cli_live import screen

PASSWORD = "Pr3stage-S3cret!"
ENCODED = base64.b64encode(PASSWORD.encode()).decode()
DEFAULT_RELEASE = "25.09"

STRATEGY_FIELDS = [
    "strategy type",
    "subcloud apply type",
    "max parallel subclouds",
    "stop on failure",
    "prestage software version",
    "state",
    "created_at",
    "updated_at",
]
STEP_LIST_COLUMNS = [
    "cloud",
    "stage",
    "state",
    "details",
    "started_at",
    "finished_at",
    "progress",
    "attempt",
    "id",
]
STEP_FIELDS = [
    "id",
    "cloud",
    "stage",
    "state",
    "details",
    "started_at",
    "finished_at",
    "progress",
    "attempt",
    "retry_at",
    "history",
    "created_at",
    "updated_at",
]
NEW_COMMANDS = (
    "prestage-strategy create",
    "prestage-strategy show",
    "prestage-strategy watch",
    "prestage-strategy apply",
    "prestage-strategy pause",
    "prestage-strategy resume",
    "prestage-strategy abort",
    "prestage-strategy retry-failed",
    "prestage-strategy delete",
    "strategy-step list",
    "strategy-step show",
    "subcloud prestage",
)
NO_STRATEGY = "Strategy of type 'prestage' not found"
FAILURE = "prestaging-packages: simulated failure of the packages transfer (fail=packages)"
GIB = 1024**3


# Every test, with or without the ``cli`` fixture, runs the CLI in a clean environment.
pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def no_prompt(monkeypatch):
    """Fail the test if the CLI asks for the password."""

    def getpass(prompt=""):
        raise AssertionError(f"unexpected password prompt: {prompt!r}")

    monkeypatch.setattr("getpass.getpass", getpass)


@pytest.fixture
def prompt(monkeypatch):
    """Answers the password prompts in order; records the prompts."""

    class Prompt:
        def __init__(self):
            self.answers: list = []
            self.prompts: list[str] = []

        def __call__(self, prompt=""):
            self.prompts.append(prompt)
            answer = self.answers.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return answer

    answering = Prompt()
    monkeypatch.setattr("getpass.getpass", answering)
    return answering


def add_online(api, *names: str, group: str | None = None, managed: bool = True) -> None:
    """Register subclouds and mark them online (and managed), as the audit would."""
    for name in names:
        body = {"name": name, "endpoint": f"simulated://{name}"}
        if group:
            body["group"] = group
        subcloud = api.post_json("/v1.0/subclouds", body).json
        db_api.subcloud_update(
            subcloud["id"],
            {
                "availability_status": "online",
                "management_state": "managed" if managed else "unmanaged",
            },
        )


def create(cli: CLI, *options: str) -> dict:
    return cli.json("prestage-strategy", "create", f"--sysadmin-password={PASSWORD}", *options)


def strategy_secret(conf) -> bytes:
    return crypt.decrypt(conf, db_orchestration.strategy_find().secret)


def step_names(cli: CLI, *options: str) -> list[str]:
    return [row["cloud"] for row in cli.json("strategy-step", "list", *options)]


def table_fields(out: str) -> dict[str, str]:
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()]
    cells = [row for row in cells if len(row) == 2]
    assert cells[0] == ["Field", "Value"]
    return dict(cells[1:])


def assert_no_password(result: Result) -> None:
    assert PASSWORD not in result.output, result
    assert ENCODED not in result.output, result


def run_beside_engine(cli: CLI, *command: str) -> Result:
    """Run a command while the engine runs in this process (``roles``): the engine's and
    the audit's log records may reach the CLI's stderr, so only the exit status and
    stdout are the CLI's own."""
    return cli.run(*command)


def engine_json(cli: CLI, *command: str) -> Any:
    """``-f json`` output of a command that must succeed, beside the engine."""
    result = run_beside_engine(cli, *command, "-f", "json")
    assert result.rc == 0, result
    return result.json


def set_state(db, state: str) -> None:
    """Put the strategy in ``state`` behind the API's back (no engine runs here)."""
    with orm.Session(db) as session, session.begin():
        session.execute(update(models.Strategy).values(state=state))


# --- commands --------------------------------------------------------------------------


def test_help_lists_every_command(capsys):
    result = run_cli(capsys, ["help"])
    assert result.rc == 0, result
    for name in NEW_COMMANDS:
        assert f"  {name} " in result.out, name


@pytest.mark.parametrize(
    "command",
    [
        ["prestage-strategy", "show"],
        ["prestage-strategy", "watch"],
        ["prestage-strategy", "show", "--watch"],
        ["prestage-strategy", "apply"],
        ["prestage-strategy", "create", "--sysadmin-password", PASSWORD],
        ["strategy-step", "list"],
        ["subcloud", "prestage", "site1", "--sysadmin-password", PASSWORD],
    ],
)
def test_unreachable_server(capsys, command):
    port = closed_port()
    result = CLI(capsys, f"http://127.0.0.1:{port}").fail(*command, message="Connection failed")
    assert_no_password(result)


class TestCreate:
    def test_defaults_cover_every_subcloud(self, cli, api, conf, no_prompt):
        add_online(api, "site1", "site2")
        created = create(cli)
        assert list(created) == STRATEGY_FIELDS
        assert created["strategy type"] == "prestage"
        assert created["subcloud apply type"] == "parallel"
        assert created["max parallel subclouds"] == 2
        assert created["stop on failure"] is False
        assert created["prestage software version"] == DEFAULT_RELEASE
        assert created["state"] == "initial"
        assert created["created_at"] is not None
        assert cli.json("prestage-strategy", "show") == created
        assert step_names(cli) == ["site1", "site2"]
        # Sent base64-encoded: the server decoded the password itself.
        assert strategy_secret(conf) == PASSWORD.encode()
        extra = api.get(sh.STRATEGY).json["extra-args"]
        assert extra == {
            "force": False,
            "prestage-software-version": DEFAULT_RELEASE,
            "for_install": False,
            "for_sw_deploy": False,
        }

    def test_every_option_for_one_subcloud(self, cli, api):
        add_online(api, "site1", "site2")
        created = create(
            cli,
            "--subcloud-apply-type=parallel",
            "--max-parallel-subclouds=5",
            "--stop-on-failure",
            "--release=24.09",
            "--for-sw-deploy",
            "--force",
            "site2",
        )
        assert created["subcloud apply type"] == "parallel"
        assert created["max parallel subclouds"] == 5
        assert created["stop on failure"] is True
        assert created["prestage software version"] == "24.09"
        assert step_names(cli) == ["site2"]
        extra = api.get(sh.STRATEGY).json["extra-args"]
        assert extra["force"] is True
        assert extra["for_sw_deploy"] is True
        assert extra["for_install"] is False

    def test_for_install(self, cli, api):
        add_online(api, "site1")
        create(cli, "--for-install")
        extra = api.get(sh.STRATEGY).json["extra-args"]
        assert (extra["for_install"], extra["for_sw_deploy"], extra["force"]) == (
            True,
            False,
            False,
        )

    def test_serial_means_one_at_a_time(self, cli, api):
        add_online(api, "site1", "site2")
        created = create(cli, "--subcloud-apply-type", "serial", "--max-parallel-subclouds", "9")
        assert created["subcloud apply type"] == "serial"
        assert created["max parallel subclouds"] == 1

    @pytest.mark.parametrize("ref", ["edge", "2"])
    def test_group_and_its_defaults(self, cli, api, ref):
        cli.add_group("edge", "--update_apply_type=serial", "--max_parallel_subclouds=1")
        add_online(api, "site1")
        add_online(api, "site2", "site3", group="edge")
        created = create(cli, "--group", ref)
        assert created["subcloud apply type"] == "serial"
        assert created["max parallel subclouds"] == 1
        assert step_names(cli) == ["site2", "site3"]

    def test_group_defaults_can_be_overridden(self, cli, api):
        cli.add_group("edge", "--max_parallel_subclouds=7")
        add_online(api, "site1", group="edge")
        created = create(cli, "--group=edge", "--max-parallel-subclouds=50")
        assert created["max parallel subclouds"] == 50

    def test_ineligible_group_members_are_skipped(self, cli, api):
        add_online(api, "site1")
        add_online(api, "site2", managed=False)
        create(cli)
        steps = {row["cloud"]: row for row in cli.json("strategy-step", "list")}
        assert steps["site1"]["state"] == "initial"
        assert steps["site2"]["state"] == "skipped"
        assert steps["site2"]["details"] == "Subcloud is not managed."

    def test_table_output(self, cli, api):
        add_online(api, "site1")
        result = cli.ok("prestage-strategy", "create", "--sysadmin-password", PASSWORD)
        fields = table_fields(result.out)
        assert list(fields) == STRATEGY_FIELDS
        assert fields["strategy type"] == "prestage"
        assert fields["state"] == "initial"
        assert_no_password(result)

    def test_already_exists(self, cli, api):
        add_online(api, "site1")
        first = create(cli)
        result = cli.fail(
            "prestage-strategy",
            "create",
            f"--sysadmin-password={PASSWORD}",
            message="Strategy of type: 'prestage' already exists",
        )
        assert_no_password(result)
        assert cli.json("prestage-strategy", "show") == first

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (
                ["--release=25.9"],
                "Specified release format is not supported. Version format must be MM.mm.",
            ),
            (["--sysadmin-password="], "subcloud sysadmin_password required"),
            (
                ["--max-parallel-subclouds=0"],
                "Invalid max-parallel-subclouds value: 0. For prestage strategy, "
                "the value must be between 1 and 5000.",
            ),
            (
                ["--max-parallel-subclouds=5001"],
                "Invalid max-parallel-subclouds value: 5001.",
            ),
            (
                ["--group=Default", "site1"],
                "cloud_name and subcloud_group are mutually exclusive",
            ),
            (["--group=nope"], "Invalid group_id"),
            (["--group=99"], "Invalid group_id"),
            (["nope"], "Subcloud nope does not exist"),
            (["site2"], "Prestage skipped 'site2': Subcloud is not managed."),
            (["site3"], "Prestage skipped 'site3': Subcloud is offline."),
        ],
    )
    def test_rejected_by_the_server(self, cli, api, options, message):
        add_online(api, "site1")
        add_online(api, "site2", managed=False)
        cli.add_subcloud("site3")
        cli.ok("subcloud", "manage", "site3")
        result = cli.fail(
            "prestage-strategy",
            "create",
            f"--sysadmin-password={PASSWORD}",
            *options,
            message=message,
        )
        assert_no_password(result)
        cli.fail("prestage-strategy", "show", message=NO_STRATEGY)

    def test_nothing_to_prestage(self, cli, api):
        add_online(api, "site1", managed=False)
        cli.fail(
            "prestage-strategy",
            "create",
            f"--sysadmin-password={PASSWORD}",
            message="Strategy has no steps to apply",
        )
        cli.fail("prestage-strategy", "show", message=NO_STRATEGY)

    def test_no_subclouds_at_all(self, cli):
        cli.fail(
            "prestage-strategy",
            "create",
            f"--sysadmin-password={PASSWORD}",
            message="Strategy has no steps to apply",
        )

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--subcloud-apply-type", "diagonal"], "invalid choice: 'diagonal'"),
            (["--max-parallel-subclouds", "many"], "invalid int value: 'many'"),
            (
                ["--for-install", "--for-sw-deploy"],
                "argument --for-sw-deploy: not allowed with argument --for-install",
            ),
            (["site1", "site2"], "unrecognized arguments: site2"),
        ],
    )
    def test_rejected_by_the_cli(self, cli, api, no_prompt, options, message):
        add_online(api, "site1")
        result = cli.run("prestage-strategy", "create", f"--sysadmin-password={PASSWORD}", *options)
        assert result.rc == 2, result
        assert message in result.err
        cli.fail("prestage-strategy", "show", message=NO_STRATEGY)


class TestDryRun:
    def test_a_preview_asks_no_password_and_creates_nothing(self, cli, api, no_prompt):
        add_online(api, "site1", "site2")
        add_online(api, "site3", managed=False)
        release = api.get("/v1.0/releases/25.09").json

        plan = cli.json("prestage-strategy", "create", "--dry-run", "--release=25.09")

        assert plan["dry run"] is True
        assert (plan["subclouds in scope"], plan["to run"], plan["skipped"]) == (3, 2, 1)
        assert plan["bytes to move"] == f"{2 * release['bytes'] / 1024**3:.1f} GiB"
        assert plan["images to move"] == 2 * release["image-count"]
        each = f"({release['bytes'] / 1024**3:.1f} GiB, {release['image-count']} images)"
        assert plan["steps"].splitlines() == [
            f"site1: initial {each}",
            f"site2: initial {each}",
            "site3: skipped: Subcloud is not managed.",
        ]
        api.get(sh.STRATEGY, status=404)


class TestPasswordPrompt:
    def test_prompted_twice_without_echo(self, cli, api, conf, prompt):
        add_online(api, "site1")
        prompt.answers = [PASSWORD, PASSWORD]
        result = cli.ok("prestage-strategy", "create", "-f", "json")
        assert prompt.prompts == [cli_strategy.PASSWORD_PROMPT, cli_strategy.CONFIRM_PROMPT]
        assert result.json["state"] == "initial"
        assert strategy_secret(conf) == PASSWORD.encode()
        assert_no_password(result)

    def test_mismatch_and_empty_are_asked_again(self, cli, api, conf, prompt):
        add_online(api, "site1")
        prompt.answers = ["", PASSWORD, "typo", PASSWORD, PASSWORD]
        result = cli.run("prestage-strategy", "create", "-f", "json")
        assert result.rc == 0, result
        assert "The password cannot be empty." in result.err
        assert "The passwords do not match." in result.err
        assert len(prompt.prompts) == 5
        assert strategy_secret(conf) == PASSWORD.encode()
        assert_no_password(result)

    def test_gives_up_after_three_attempts(self, cli, api, prompt):
        add_online(api, "site1")
        prompt.answers = ["a", "b", "", "c", "d"]
        result = cli.fail(
            "prestage-strategy", "create", message="No sysadmin password after 3 attempts."
        )
        assert len(prompt.prompts) == 5
        assert "The passwords do not match." in result.err
        assert "The password cannot be empty." in result.err
        cli.fail("prestage-strategy", "show", message=NO_STRATEGY)

    def test_end_of_input(self, cli, api, prompt):
        add_online(api, "site1")
        prompt.answers = [EOFError()]
        cli.fail("prestage-strategy", "create", message="give --sysadmin-password")
        cli.fail("prestage-strategy", "show", message=NO_STRATEGY)

    def test_non_ascii_password(self, cli, api, conf, no_prompt):
        add_online(api, "site1")
        cli.ok("prestage-strategy", "create", "--sysadmin-password", "pässwörd€")
        assert strategy_secret(conf) == "pässwörd€".encode()

    def test_subcloud_prestage_prompts(self, cli, api, db, conf, prompt):
        add_online(api, "site1")
        prompt.answers = [PASSWORD, PASSWORD]
        shown = cli.json("subcloud", "prestage", "site1")
        assert shown["prestage_status"] == "prestaging"
        assert len(prompt.prompts) == 2
        with orm.Session(db) as session:
            step = session.scalars(select(models.StrategyStep)).one()
        assert crypt.decrypt(conf, step.secret) == PASSWORD.encode()


class TestPasswordNeverShown:
    def test_in_any_format(self, cli, api, roles):
        sh.add_subclouds(api, ["site1", "site2"])
        commands = [
            ["prestage-strategy", "create", "--sysadmin-password", PASSWORD],
            ["prestage-strategy", "show"],
            *(["prestage-strategy", "show", "-f", fmt] for fmt in ("json", "yaml", "value")),
            ["prestage-strategy", "show", "-f", "shell"],
            ["strategy-step", "list"],
            ["strategy-step", "list", "-f", "yaml"],
            ["prestage-strategy", "apply"],
            ["prestage-strategy", "watch", "--interval", "0.05"],
            ["prestage-strategy", "show", "--watch", "--interval", "0.05"],
            ["strategy-step", "list", "-f", "json"],
            ["subcloud", "show", "site1", "-f", "json"],
            ["prestage-strategy", "delete"],
        ]
        for command in commands:
            result = run_beside_engine(cli, *command)
            assert result.rc == 0, result
            assert_no_password(result)
        # Once the strategy is gone, a standalone prestage (twice: the second is refused).
        sh.wait_for(lambda: cli.run("prestage-strategy", "show").rc == 1, what="deletion")
        for _ in range(2):
            result = run_beside_engine(
                cli, "subcloud", "prestage", "site2", "--sysadmin-password", PASSWORD
            )
            assert_no_password(result)

    @pytest.mark.parametrize(
        "command",
        [
            ["prestage-strategy", "create", f"--sysadmin-password={PASSWORD}"],
            ["subcloud", "prestage", "site1", f"--sysadmin-password={PASSWORD}"],
        ],
    )
    def test_not_in_debug_output(self, cli, api, command):
        add_online(api, "site1")
        result = cli.run("-v", "-v", *command)
        assert result.rc == 0, result
        # The password given on the command line is in argv, never in what is printed.
        assert ENCODED not in result.output, result


class TestShow:
    def test_no_strategy(self, cli):
        cli.fail("prestage-strategy", "show", message=NO_STRATEGY)
        cli.fail("prestage-strategy", "show", "-f", "json", message=NO_STRATEGY)

    def test_formats(self, cli, api):
        add_online(api, "site1")
        created = create(cli)
        fields = table_fields(cli.ok("prestage-strategy", "show").out)
        assert list(fields) == STRATEGY_FIELDS
        assert fields["subcloud apply type"] == "parallel"
        assert fields["prestage software version"] == DEFAULT_RELEASE
        assert yaml.safe_load(cli.ok("prestage-strategy", "show", "-f", "yaml").out) == created
        out = cli.ok(
            "prestage-strategy", "show", "-f", "value", "-c", "state", "-c", "strategy type"
        )
        assert out.out.splitlines() == ["prestage", "initial"]

    def test_matches_the_api(self, cli, api):
        add_online(api, "site1")
        create(cli, "--max-parallel-subclouds=3", "--stop-on-failure")
        raw = api.get(sh.STRATEGY).json
        shown = cli.json("prestage-strategy", "show")
        assert shown == {
            "strategy type": raw["type"],
            "subcloud apply type": raw["subcloud-apply-type"],
            "max parallel subclouds": 3,
            "stop on failure": True,
            "prestage software version": raw["extra-args"]["prestage-software-version"],
            "state": raw["state"],
            "created_at": raw["created-at"],
            "updated_at": raw["updated-at"],
        }


class TestActions:
    """No engine runs here: the strategy stays in the state each action leaves it in."""

    @pytest.fixture(autouse=True)
    def site(self, api):
        add_online(api, "site1", "site2")

    def test_apply_abort(self, cli):
        create(cli)
        applied = cli.json("prestage-strategy", "apply")
        assert list(applied) == STRATEGY_FIELDS
        assert applied["state"] == "applying"
        cli.fail(
            "prestage-strategy", "apply", message="Strategy in state applying cannot be applied"
        )
        cli.fail(
            "prestage-strategy", "delete", message="Strategy in state applying cannot be deleted"
        )
        assert cli.json("prestage-strategy", "show")["state"] == "applying"
        aborted = cli.json("prestage-strategy", "abort")
        assert aborted["state"] == "abort requested"
        cli.fail(
            "prestage-strategy",
            "abort",
            message="Strategy in state abort requested cannot be aborted",
        )

    def test_max_failures_is_shown_with_what_it_came_to(self, cli, api):
        created = create(cli, "--max-failures", "50%")
        assert created["max failures"] == "50% (1 step)"
        extra = api.get(sh.STRATEGY).json["extra-args"]
        assert (extra["max-failures"], extra["failure-budget"]) == ("50%", 1)

    def test_max_failures_as_a_number(self, cli, api):
        assert create(cli, "--max-failures", "2")["max failures"] == "2"
        assert api.get(sh.STRATEGY).json["extra-args"]["failure-budget"] == 2

    def test_retry_options_make_the_policy_and_show_it(self, cli, api):
        created = create(
            cli,
            "--retry-attempts=4",
            "--retry-interval=10",
            "--retry-backoff=3",
            "--retry-max-interval=120",
            "--retry-phase=prestaging-images=6",
            "--never-retry=password,disk",
        )
        assert created["retry"] == (
            "4 attempts, waits 10 s x3 up to 120 s; prestaging-images: attempts 6; "
            "never: disk, password"
        )
        assert api.get(sh.STRATEGY).json["extra-args"]["retry"] == {
            "attempts": 4,
            "initial-interval": 10.0,
            "backoff": 3.0,
            "max-interval": 120.0,
            "never": ["disk", "password"],
            "phases": {"prestaging-images": {"attempts": 6}},
        }

    def test_a_maintenance_window_is_given_and_shown(self, cli, api):
        created = create(
            cli,
            "--start-after=2099-12-24T23:00:00+01:00",
            "--no-new-steps-after=2099-12-25T04:00:00Z",
        )
        assert created["start after"] == "2099-12-24T22:00:00+00:00"
        assert created["no new steps after"] == "2099-12-25T04:00:00+00:00"
        extra = api.get(sh.STRATEGY).json["extra-args"]
        assert extra["start-after"] == "2099-12-24T22:00:00+00:00"

    def test_a_bad_window_is_refused(self, cli, api):
        result = cli.run(
            "prestage-strategy", "create", f"--sysadmin-password={PASSWORD}", "--start-after=soon"
        )
        assert result.rc != 0
        assert "Invalid start-after 'soon': must be an ISO 8601 time" in result.err, result
        api.get(sh.STRATEGY, status=404)

    def test_no_retry_option_no_policy(self, cli, api):
        assert "retry" not in create(cli)
        assert "retry" not in api.get(sh.STRATEGY).json["extra-args"]

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--retry-phase=images"], "invalid phase attempts: 'images' (PHASE=N)"),
            (["--never-retry=disk,oops"], "unknown failure kind(s) oops: one of password"),
            (
                ["--retry-phase=app-applying=2"],
                "Invalid retry phases: must map phases of the strategy",
            ),
            (["--retry-attempts=0"], "Invalid retry attempts '0'"),
        ],
    )
    def test_a_bad_retry_option_is_refused(self, cli, api, options, message):
        result = cli.run("prestage-strategy", "create", f"--sysadmin-password={PASSWORD}", *options)
        assert result.rc != 0
        assert message in result.err, result
        api.get(sh.STRATEGY, status=404)

    def test_pause_resume(self, cli):
        create(cli)
        cli.fail("prestage-strategy", "pause", message="Strategy in state initial cannot be paused")
        cli.json("prestage-strategy", "apply")
        assert cli.json("prestage-strategy", "pause")["state"] == "pausing"
        cli.fail("prestage-strategy", "pause", message="Strategy in state pausing cannot be paused")
        assert cli.json("prestage-strategy", "resume")["state"] == "applying"
        cli.fail(
            "prestage-strategy", "resume", message="Strategy in state applying cannot be resumed"
        )
        assert cli.json("prestage-strategy", "pause", "--yes")["state"] == "pausing"
        assert cli.json("prestage-strategy", "abort")["state"] == "abort requested"

    def test_yes_is_accepted_as_starlingx_scripts_pass_it(self, cli):
        create(cli)
        assert cli.json("prestage-strategy", "apply", "--yes")["state"] == "applying"
        assert cli.json("prestage-strategy", "abort", "--yes")["state"] == "abort requested"

    def test_delete_with_yes(self, cli):
        create(cli)
        assert cli.json("prestage-strategy", "delete", "--yes")["state"] == "deleting"

    def test_abort_before_apply(self, cli):
        create(cli)
        cli.fail(
            "prestage-strategy", "abort", message="Strategy in state initial cannot be aborted"
        )
        assert cli.json("prestage-strategy", "show")["state"] == "initial"

    def test_delete_initial(self, cli):
        create(cli)
        deleted = cli.json("prestage-strategy", "delete")
        assert list(deleted) == STRATEGY_FIELDS
        assert deleted["state"] == "deleting"
        cli.fail(
            "prestage-strategy", "delete", message="Strategy in state deleting cannot be deleted"
        )
        cli.fail(
            "prestage-strategy", "apply", message="Strategy in state deleting cannot be applied"
        )

    @pytest.mark.parametrize("state", ["complete", "failed", "aborted"])
    def test_delete_finished(self, cli, db, state):
        create(cli)
        set_state(db, state)
        fields = table_fields(cli.ok("prestage-strategy", "delete").out)
        assert fields["state"] == "deleting"

    @pytest.mark.parametrize("action", ["apply", "abort", "delete"])
    def test_no_strategy(self, cli, action):
        cli.fail("prestage-strategy", action, message=NO_STRATEGY)

    def test_table_output(self, cli):
        create(cli)
        fields = table_fields(cli.ok("prestage-strategy", "apply").out)
        assert fields["state"] == "applying"


class TestSteps:
    @pytest.fixture(autouse=True)
    def strategy(self, cli, api):
        add_online(api, "site1", "site2", "site3")
        add_online(api, "site4", managed=False)
        create(cli)

    def test_list(self, cli, api):
        rows = cli.json("strategy-step", "list")
        assert [list(row) for row in rows] == [STEP_LIST_COLUMNS] * 4
        raw = sh.steps(api)
        assert rows[0] == {
            "cloud": "site1",
            "stage": 1,
            "state": "initial",
            "details": None,
            "started_at": None,
            "finished_at": None,
            "progress": None,
            "attempt": 1,
            "id": raw["site1"]["id"],
        }
        assert [(r["cloud"], r["state"]) for r in rows] == [
            ("site1", "initial"),
            ("site2", "initial"),
            ("site3", "initial"),
            ("site4", "skipped"),
        ]
        assert rows[3]["details"] == "Subcloud is not managed."

    def test_table(self, cli):
        lines = cli.ok("strategy-step", "list").out.splitlines()
        assert [c.strip() for c in lines[1].strip("|").split("|")] == STEP_LIST_COLUMNS
        assert [c.strip() for c in lines[3].strip("|").split("|")][:3] == [
            "site1",
            "1",
            "initial",
        ]

    def test_filter_and_paging(self, cli, api):
        ids = {name: step["id"] for name, step in sh.steps(api).items()}
        assert step_names(cli, "--state", "skipped") == ["site4"]
        assert step_names(cli, "--state=complete") == []
        assert step_names(cli, "--limit", "2") == ["site1", "site2"]
        assert step_names(cli, "--marker", str(ids["site2"])) == ["site3", "site4"]
        assert step_names(cli, "--limit=1", f"--marker={ids['site1']}") == ["site2"]
        assert step_names(cli, "--state=initial", f"--marker={ids['site1']}", "--limit=5") == [
            "site2",
            "site3",
        ]

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--state", "bogus"], "Invalid state 'bogus': must be one of initial"),
            (["--limit", "0"], "Invalid limit '0': must be an integer from 1 to 10000"),
            (["--limit", "10001"], "Invalid limit '10001'"),
        ],
    )
    def test_rejected_by_the_server(self, cli, options, message):
        cli.fail("strategy-step", "list", *options, message=message)

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--limit", "x"], "invalid int value: 'x'"),
            (["--marker", "x"], "invalid int value: 'x'"),
        ],
    )
    def test_rejected_by_the_cli(self, cli, options, message):
        result = cli.run("strategy-step", "list", *options)
        assert result.rc == 2, result
        assert message in result.err

    def test_progress(self, cli, db, api):
        progress = {
            "bytes_done": int(1.2 * GIB),
            "bytes_total": 2 * GIB,
            "artifacts_done": 100,
            "artifacts_total": 400,
        }
        with orm.Session(db) as session, session.begin():
            session.execute(
                update(models.StrategyStep)
                .where(models.StrategyStep.id == sh.steps(api)["site2"]["id"])
                .values(state="prestaging-packages", progress=progress)
            )
        test_tallies.recount()
        rows = {row["cloud"]: row for row in cli.json("strategy-step", "list")}
        assert rows["site2"]["progress"] == "1.2/2.0 GiB, 100/400"
        assert rows["site2"]["state"] == "prestaging-packages"
        assert rows["site1"]["progress"] is None
        assert "1.2/2.0 GiB, 100/400" in cli.ok("strategy-step", "list").out

    def test_show_progress(self, cli, db, api):
        progress = {"bytes_done": 0, "bytes_total": GIB, "artifacts_done": 0, "artifacts_total": 9}
        with orm.Session(db) as session, session.begin():
            session.execute(
                update(models.StrategyStep)
                .where(models.StrategyStep.id == sh.steps(api)["site2"]["id"])
                .values(state="prestaging-packages", progress=progress)
            )
        test_tallies.recount()
        shown = cli.json("strategy-step", "show", "site2")
        assert shown["progress"] == "0.0/1.0 GiB, 0/9"

    def test_show(self, cli, api):
        raw = sh.steps(api)["site4"]
        shown = cli.json("strategy-step", "show", "site4")
        assert list(shown) == STEP_FIELDS
        assert shown == {
            "id": raw["id"],
            "cloud": "site4",
            "stage": 1,
            "state": "skipped",
            "details": "Subcloud is not managed.",
            "started_at": raw["started-at"],
            "finished_at": raw["finished-at"],
            "progress": None,
            "attempt": 1,
            "retry_at": None,
            "history": "",
            "created_at": raw["created-at"],
            "updated_at": raw["updated-at"],
        }
        fields = table_fields(cli.ok("strategy-step", "show", "site1").out)
        assert list(fields) == STEP_FIELDS
        assert fields["state"] == "initial"

    @pytest.mark.parametrize(
        ("cloud", "message"),
        [
            ("nope", "Strategy step not found"),
            # Sent as one path segment, so none of them strips back to "site1".
            ("site1?x=1", "Strategy step not found"),
            ("site1#frag", "Strategy step not found"),
            ("site1%20", "Strategy step not found"),
            ("a/b", "The resource could not be found: /v1.0/sw-update-strategy/steps/a/b"),
        ],
    )
    def test_show_unknown(self, cli, cloud, message):
        cli.fail("strategy-step", "show", cloud, message=message)

    def test_show_dot_reference(self, cli):
        cli.fail("strategy-step", "show", "..", message="Invalid name or id '..'")


class TestStepsWithoutStrategy:
    def test_list(self, cli):
        cli.fail("strategy-step", "list", message="Strategy not found")
        cli.fail("strategy-step", "list", "--state=failed", message="Strategy not found")

    def test_show(self, cli):
        cli.fail("strategy-step", "show", "site1", message="Strategy not found")

    def test_show_missing_argument(self, cli):
        result = cli.run("strategy-step", "show")
        assert result.rc == 2, result
        assert "the following arguments are required: cloud_name" in result.err


class TestSubcloudPrestage:
    def test_every_option(self, cli, api, db, conf, no_prompt):
        add_online(api, "site1")
        result = cli.ok(
            "subcloud",
            "prestage",
            "site1",
            "--sysadmin-password",
            PASSWORD,
            "--force",
            "--release",
            "24.09",
            "--for-install",
            "-f",
            "json",
        )
        shown = result.json
        assert list(shown) == SUBCLOUD_FIELDS
        assert shown["name"] == "site1"
        assert shown["prestage_status"] == "prestaging"
        with orm.Session(db) as session:
            step = session.scalars(select(models.StrategyStep)).one()
        assert step.strategy_id is None
        assert step.extra_args == {
            "force": True,
            "prestage-software-version": "24.09",
            "for_install": True,
            "for_sw_deploy": False,
        }
        assert crypt.decrypt(conf, step.secret) == PASSWORD.encode()
        assert_no_password(result)

    def test_by_id_table(self, cli, api, db):
        add_online(api, "site1")
        result = cli.ok(
            "subcloud", "prestage", "1", "--sysadmin-password", PASSWORD, "--for-sw-deploy"
        )
        fields = table_fields(result.out)
        assert list(fields) == SUBCLOUD_FIELDS
        assert fields["prestage_status"] == "prestaging"
        with orm.Session(db) as session:
            step = session.scalars(select(models.StrategyStep)).one()
        assert step.extra_args["for_sw_deploy"] is True
        assert step.extra_args["prestage-software-version"] == DEFAULT_RELEASE

    def test_already_prestaging(self, cli, api):
        add_online(api, "site1")
        cli.ok("subcloud", "prestage", "site1", "--sysadmin-password", PASSWORD)
        cli.fail(
            "subcloud",
            "prestage",
            "site1",
            "--sysadmin-password",
            PASSWORD,
            message="Subcloud site1 is already prestaging",
        )

    def test_in_a_strategy(self, cli, api):
        add_online(api, "site1")
        create(cli)
        cli.fail(
            "subcloud",
            "prestage",
            "site1",
            f"--sysadmin-password={PASSWORD}",
            message="Subcloud site1 is part of the current strategy",
        )
        assert cli.subcloud("site1")["prestage_status"] is None

    @pytest.mark.parametrize(
        ("ref", "options", "message"),
        [
            ("nope", [], "Subcloud not found"),
            ("99", [], "Subcloud not found"),
            ("site2", [], "Prestage skipped 'site2': Subcloud is not managed."),
            ("site1", ["--release=2509"], "Specified release format is not supported."),
            ("site1", ["--sysadmin-password="], "subcloud sysadmin_password required"),
        ],
    )
    def test_rejected_by_the_server(self, cli, api, ref, options, message):
        add_online(api, "site1")
        add_online(api, "site2", managed=False)
        result = cli.fail(
            "subcloud",
            "prestage",
            ref,
            f"--sysadmin-password={PASSWORD}",
            *options,
            message=message,
        )
        assert_no_password(result)
        assert cli.subcloud("site1")["prestage_status"] is None

    def test_rejected_by_the_cli(self, cli, api, no_prompt):
        add_online(api, "site1")
        result = cli.run(
            "subcloud", "prestage", "site1", "--for-install", "--for-sw-deploy", "--force"
        )
        assert result.rc == 2, result
        assert "not allowed with argument" in result.err
        result = cli.run("subcloud", "prestage", "--sysadmin-password=x")
        assert result.rc == 2, result
        assert "the following arguments are required: subcloud" in result.err

    def test_runs_to_complete(self, cli, api, roles):
        sh.add_subclouds(api, ["site1"], "delay=0.05")
        shown = engine_json(cli, "subcloud", "prestage", "site1", "--sysadmin-password", PASSWORD)
        assert shown["prestage_status"] == "prestaging"
        final = sh.wait_for(
            lambda: (
                (s := engine_json(cli, "subcloud", "show", "site1"))["prestage_status"]
                != "prestaging"
                and s
            ),
            what="the prestage to end",
        )
        assert final["prestage_status"] == "complete"
        assert final["prestage_versions"] == DEFAULT_RELEASE


# --- watching a real strategy --------------------------------------------------------


def run_strategy(cli: CLI, api, subclouds: dict[str, str], *create_options: str) -> None:
    """Register subclouds (name: simulator options), create the strategy and apply it."""
    for name, options in subclouds.items():
        sh.add_subclouds(api, [name], options)
    engine_json(
        cli, "prestage-strategy", "create", f"--sysadmin-password={PASSWORD}", *create_options
    )
    assert engine_json(cli, "prestage-strategy", "apply")["state"] == "applying"


def final_lines(result: Result) -> list[str]:
    """The summary: the lines after the last blank line."""
    return result.out.rsplit("\n\n", 1)[1].splitlines()


class TestWatch:
    def test_until_complete(self, cli, api, roles):
        run_strategy(cli, api, {"sc1": "delay=0.1", "sc2": "delay=0.1", "sc3": "delay=0.1"})
        result = run_beside_engine(cli, "prestage-strategy", "watch", "--interval", "0.05")
        assert result.rc == 0, result
        assert final_lines(result) == ["Prestage strategy complete: 3 steps: complete 3"]
        lines = result.out.splitlines()
        assert re.fullmatch(r"\d\d:\d\d:\d\d Prestage strategy applying \(parallel, .*", lines[0])
        for name in ("sc1", "sc2", "sc3"):
            assert any(re.search(rf" {name}: (.* -> )?complete$", line) for line in lines), name
        assert any(line.endswith("strategy: applying -> complete") for line in lines)
        assert any("3/3 steps finished (100%)" in line for line in lines)
        assert "\x1b" not in result.out  # not a terminal: no redrawing
        assert engine_json(cli, "prestage-strategy", "show")["state"] == "complete"

    def test_until_failed(self, cli, api, roles):
        run_strategy(cli, api, {"sc1": "delay=0.05", "sc2": "fail=packages", "sc3": ""})
        result = run_beside_engine(cli, "prestage-strategy", "show", "--watch", "--interval=0.05")
        assert result.rc == 1, result
        assert final_lines(result) == [
            "Prestage strategy failed: 3 steps: complete 2, failed 1",
            "Failed:",
            f"  sc2: {FAILURE}",
        ]
        assert any(
            re.search(rf" sc2: (.* -> )?failed: {re.escape(FAILURE)}$", line)
            for line in result.out.splitlines()
        )

    def test_until_stopped_on_failure(self, cli, api, roles):
        run_strategy(
            cli,
            api,
            {"sc1": "fail=packages", "sc2": "", "sc3": ""},
            "--subcloud-apply-type=serial",
            "--stop-on-failure",
        )
        result = run_beside_engine(cli, "prestage-strategy", "watch", "--interval=0.05")
        assert result.rc == 1, result
        summary = final_lines(result)
        assert summary[0] == "Prestage strategy failed: 3 steps: failed 1, aborted 2"
        assert summary[1:] == ["Failed:", f"  sc1: {FAILURE}"]

    def test_retry_failed_runs_the_failed_steps_again(self, cli, api, roles):
        run_strategy(cli, api, {"sc1": "fail=packages", "sc2": ""})
        result = run_beside_engine(cli, "prestage-strategy", "watch", "--interval=0.05")
        assert result.rc == 1, result
        sh.set_options(api, "sc1")

        assert engine_json(cli, "prestage-strategy", "retry-failed")["state"] == "applying"

        result = run_beside_engine(cli, "prestage-strategy", "watch", "--interval=0.05")
        assert result.rc == 0, result
        shown = engine_json(cli, "strategy-step", "show", "sc1")
        assert (shown["state"], shown["attempt"]) == ("complete", 2)
        assert re.fullmatch(rf"#1 \S+: {re.escape(FAILURE)}", shown["history"])

    def test_until_aborted(self, cli, api, roles):
        subclouds = {f"sc{i}": "delay=5" for i in range(1, 4)}
        run_strategy(cli, api, subclouds, "--subcloud-apply-type=serial")
        # Abort once the first step runs: it stops there, the others never start.
        sh.wait_for(lambda: sh.steps(api)["sc1"]["state"] != "initial", what="sc1 to start")
        assert engine_json(cli, "prestage-strategy", "abort")["state"] == "abort requested"
        result = run_beside_engine(cli, "prestage-strategy", "watch", "--interval=0.05")
        assert result.rc == 1, result
        assert final_lines(result) == ["Prestage strategy aborted: 3 steps: aborted 3"]

    def test_skipped_steps_in_summary(self, cli, api, roles):
        sh.add_subclouds(api, ["sc1"])
        api.post_json("/v1.0/subclouds", {"name": "sc2", "endpoint": "simulated://sc2"})
        # Online, but never managed: skipped.
        sh.wait_for(lambda: api.get("/v1.0/subclouds/sc2").json["availability-status"] == "online")
        run_strategy(cli, api, {})
        result = run_beside_engine(cli, "prestage-strategy", "watch", "--interval=0.05")
        assert result.rc == 0, result
        assert final_lines(result) == [
            "Prestage strategy complete: 2 steps: complete 1, skipped 1",
            "Skipped:",
            "  sc2: Subcloud is not managed.",
        ]
        assert any(
            line.endswith(" sc2: skipped: Subcloud is not managed.")
            for line in result.out.splitlines()
        )

    def test_on_a_terminal(self, cli, api, roles, monkeypatch):
        monkeypatch.setattr(live, "is_terminal", lambda stream: True)
        monkeypatch.setenv("COLUMNS", "100")
        monkeypatch.setenv("LINES", "30")
        run_strategy(cli, api, {"sc1": "delay=0.2", "sc2": "fail=images"})
        result = run_beside_engine(cli, "prestage-strategy", "watch", "--interval=0.05")
        assert result.rc == 1, result
        out = result.out
        assert out.startswith(HIDE_CURSOR)
        assert SHOW_CURSOR in out
        assert "\x1b[1A\x1b[2K" in out  # redrawn in place
        # The terminal shows the last view only, then the summary.
        shown = screen(out)
        assert shown[0].startswith("Prestage strategy failed (parallel, max 2 at a time")
        assert shown[1].endswith(" 2/2 steps finished (100%)")
        assert shown[2] == "complete 1, failed 1"
        assert shown[3:] == [
            "",
            "Prestage strategy failed: 2 steps: complete 1, failed 1",
            "Failed:",
            "  sc2: prestaging-images: simulated failure of the images transfer (fail=images)",
        ]

    def test_finished_strategy_returns_at_once(self, cli, api, db):
        add_online(api, "site1")
        create(cli)
        set_state(db, "complete")
        result = cli.run("prestage-strategy", "watch")
        assert result.rc == 0, result
        assert final_lines(result) == ["Prestage strategy complete: 1 step: initial 1"]

    def test_no_strategy(self, cli):
        cli.fail("prestage-strategy", "watch", message=NO_STRATEGY)
        cli.fail("prestage-strategy", "show", "--watch", message=NO_STRATEGY)

    def test_strategy_being_deleted(self, cli, api):
        add_online(api, "site1")
        create(cli)
        cli.ok("prestage-strategy", "delete")
        result = cli.run("prestage-strategy", "watch", "--interval=0.05")
        assert result.rc == 1, result
        assert "The strategy is being deleted." in result.err

    @pytest.mark.parametrize("interval", ["0", "-1", "x", "nan"])
    def test_bad_interval(self, cli, interval):
        for command in (["watch"], ["show", "--watch"]):
            result = cli.run("prestage-strategy", *command, f"--interval={interval}")
            assert result.rc == 2, result
            assert f"invalid interval: '{interval}'" in result.err


def test_password_encoding():
    assert cli_strategy.encode_password(PASSWORD) == ENCODED
    assert base64.b64decode(cli_strategy.encode_password("pässwörd€")).decode() == "pässwörd€"
    assert json.dumps(cli_strategy.encode_password("x")) == '"eA=="'
