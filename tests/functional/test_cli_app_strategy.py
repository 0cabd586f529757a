"""``dcmanager app-update-strategy ...`` against ``live_api``, with the engine roles in
this process on simulated subclouds: what the user types and sees."""

import re

import pytest

from tests.functional import strategy_helpers as sh
from tests.functional import test_site_apps as site_apps
from tests.functional.test_cli_strategy import engine_json
from tests.functional.test_cli_strategy import final_lines
from tests.functional.test_cli_strategy import run_beside_engine

FIELDS = [
    "strategy type",
    "subcloud apply type",
    "max parallel subclouds",
    "stop on failure",
    "app",
    "app version",
    "require prestaged",
    "state",
    "created_at",
    "updated_at",
]
COMMANDS = ("create", "show", "watch", "apply", "abort", "retry-failed", "delete")


# Every test, with or without the ``cli`` fixture, runs the CLI in a clean environment.
pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def fleet(api, roles):
    """Three sites at demo 1.0.0 (one fails its apply of another version) and one
    without it; 1.1.0 and 2.0.0 in the catalog."""
    site_apps.upload(api, "1.0.0")
    site_apps.upload(api, "1.1.0")
    site_apps.upload(api, "2.0.0")
    sh.add_subclouds(api, ["sc1", "sc2", "sc3", "sc4"])
    for name in ("sc1", "sc2", "sc3"):
        site_apps.operate(api, name, action="apply", version="1.0.0")
    for name in ("sc1", "sc2", "sc3"):
        site_apps.settled(api, name)
    sh.set_options(api, "sc3", "fail=app-apply")
    return api


def test_the_commands_exist(cli):
    for command in COMMANDS:
        result = cli.run("help", "app-update-strategy", command)
        assert result.rc == 0, result
        assert f"app-update-strategy {command}" in result.out


def test_create_apply_watch_to_the_end(cli, fleet):
    created = engine_json(cli, "app-update-strategy", "create", "--app", "demo")
    assert list(created) == FIELDS
    assert (created["strategy type"], created["app"], created["app version"]) == (
        "app-update",
        "demo",
        "2.0.0",
    )
    steps = engine_json(cli, "strategy-step", "list")
    assert {s["cloud"]: s["state"] for s in steps} == {
        "sc1": "initial",
        "sc2": "initial",
        "sc3": "initial",
        "sc4": "skipped",
    }
    assert engine_json(cli, "app-update-strategy", "apply")["state"] == "applying"

    result = run_beside_engine(cli, "app-update-strategy", "watch", "--interval", "0.05")

    assert result.rc == 1, result
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d App-update strategy applying \(parallel, .*application demo 2\.0\.0.*",
        result.out.splitlines()[0],
    ), result.out.splitlines()[0]
    assert final_lines(result) == [
        "App-update strategy failed: 4 steps: complete 2, failed 1, skipped 1",
        "Failed:",
        "  sc3: app-recovering: simulated failure of the app-apply (fail=app-apply); "
        "recovered to 1.0.0 (demo: 1.0.0 applied)",
        "Skipped:",
        "  sc4: Application demo not found at subcloud sc4",
    ]
    shown = engine_json(cli, "app-update-strategy", "show")
    assert shown["state"] == "failed"
    failed = engine_json(cli, "strategy-step", "list", "--state", "failed")
    assert [s["cloud"] for s in failed] == ["sc3"]
    deleted = engine_json(cli, "app-update-strategy", "delete", "--yes")
    assert deleted["state"] == "deleting"


def test_retry_failed_begins_the_update_again_at_the_failed_site(cli, fleet):
    engine_json(cli, "app-update-strategy", "create", "--app", "demo")
    engine_json(cli, "app-update-strategy", "apply")
    result = run_beside_engine(cli, "app-update-strategy", "watch", "--interval", "0.05")
    assert result.rc == 1, result
    sh.set_options(fleet, "sc3")  # the site is mended

    assert engine_json(cli, "app-update-strategy", "retry-failed")["state"] == "applying"

    result = run_beside_engine(cli, "app-update-strategy", "watch", "--interval", "0.05")
    assert result.rc == 0, result  # complete: sc4 was skipped, the others updated
    steps = {s["cloud"]: s for s in engine_json(cli, "strategy-step", "list")}
    assert {name: step["state"] for name, step in steps.items()} == {
        "sc1": "complete",
        "sc2": "complete",
        "sc3": "complete",
        "sc4": "skipped",
    }
    assert (steps["sc1"]["attempt"], steps["sc3"]["attempt"]) == (1, 2)
    assert engine_json(cli, "app-update-strategy", "show")["state"] == "complete"


def test_retry_options_give_the_update_a_policy(cli, fleet):
    created = engine_json(
        cli,
        "app-update-strategy",
        "create",
        "--app",
        "demo",
        "--retry-attempts=2",
        "--retry-interval=0",
        "--retry-phase=app-recovering=3",
    )

    assert created["retry"] == (
        "2 attempts, waits 0 s x2 up to 600 s; app-recovering: attempts 3; "
        "never: disk, ineligible, password, system-mode"
    )
    # sc3 fails its apply and recovers, twice more; the strategy ends failed at attempt 3.
    engine_json(cli, "app-update-strategy", "apply")
    result = run_beside_engine(cli, "app-update-strategy", "watch", "--interval", "0.05")
    assert result.rc == 1, result
    step = engine_json(cli, "strategy-step", "show", "sc3")
    assert step["attempt"] == 3
    assert step["history"].count("[operation] app-recovering: simulated failure") == 2


def test_a_dry_run_lists_the_steps_and_creates_nothing(cli, fleet):
    plan = engine_json(cli, "app-update-strategy", "create", "--app", "demo", "--dry-run")

    assert (plan["dry run"], plan["app version"], plan["to run"], plan["skipped"]) == (
        True,
        "2.0.0",
        3,
        1,
    )
    assert "bytes to move" not in plan
    assert plan["steps"].splitlines() == [
        "sc1: initial",
        "sc2: initial",
        "sc3: initial",
        "sc4: skipped: Application demo not found at subcloud sc4",
    ]
    cli.fail("app-update-strategy", "show", message="Strategy of type 'app-update' not found")


def test_a_version_and_a_subcloud(cli, fleet):
    created = engine_json(
        cli, "app-update-strategy", "create", "sc2", "--app", "demo", "--version", "1.1.0"
    )
    assert created["app version"] == "1.1.0"
    assert [s["cloud"] for s in engine_json(cli, "strategy-step", "list")] == ["sc2"]
    # The prestage commands see no strategy of their type.
    cli.fail("prestage-strategy", "show", message="Strategy of type 'prestage' not found")


def test_refusals_are_plain_messages(cli, fleet):
    cli.fail(
        "app-update-strategy",
        "create",
        "--app",
        "nope",
        message="Application nope not found: upload it first (dcmanager app upload)",
    )
    cli.fail(
        "app-update-strategy",
        "create",
        "sc4",
        "--app",
        "demo",
        message="Application update skipped 'sc4': Application demo not found at subcloud sc4",
    )
    cli.fail(
        "app-update-strategy", "apply", "--yes", message="Strategy of type 'app-update' not found"
    )
