"""The ``dcmanager`` command-line client against the real API served over HTTP.

Every test runs the CLI in-process (``dcmanager.cli.shell.main``) against ``live_api``
(the real WSGI app on a loopback port, over a migrated SQLite database) and checks what
the user sees: the exit status, stdout and stderr. State is checked afterwards with
another CLI command, or with ``api`` (a webtest client on the same database).
"""

import dataclasses
import json
import logging
import socket
import threading
from typing import Any

import pytest
import yaml
from sqlalchemy import orm

from dcmanager.cli import shell
from dcmanager.db import api as db_api
from dcmanager.db.sqlalchemy import models
from tests import tallies as test_tallies

# The environment variables the CLI reads; the tests start with none of them set.
CLI_ENV = (
    "DCMANAGER_URL",
    "OS_AUTH_URL",
    "OS_USERNAME",
    "OS_PASSWORD",
    "OS_PROJECT_NAME",
    "OS_USER_DOMAIN_NAME",
    "OS_PROJECT_DOMAIN_NAME",
    "OS_AUTH_TOKEN",
    "OS_REGION_NAME",
    "OS_INTERFACE",
    "OS_CACERT",
)

# The labels StarlingX's client prints.
SUBCLOUD_FIELDS = [
    "id",
    "name",
    "description",
    "location",
    "software_version",
    "management",
    "availability",
    "deploy_status",
    "management_subnet",
    "management_start_ip",
    "management_end_ip",
    "management_gateway_ip",
    "systemcontroller_gateway_ip",
    "group_id",
    "peer_group_id",
    "created_at",
    "updated_at",
    "backup_status",
    "backup_datetime",
    "prestage_status",
    "prestage_versions",
    "region_name",
    "prestage_software_version",
    "error_description",
    "endpoint",
]
SUBCLOUD_LIST_COLUMNS = [
    "id",
    "name",
    "management",
    "availability",
    "deploy status",
    "sync",
    "backup status",
    "prestage status",
]
SUBCLOUD_DETAIL_LIST_COLUMNS = [
    *SUBCLOUD_FIELDS[:8],
    "sync",
    *SUBCLOUD_FIELDS[8:21],
]
GROUP_FIELDS = [
    "id",
    "name",
    "description",
    "update apply type",
    "max parallel subclouds",
    "created_at",
    "updated_at",
]
GROUP_LIST_COLUMNS = ["id", "name", "description"]

ALL_COMMANDS = (
    "subcloud list",
    "subcloud show",
    "subcloud errors",
    "subcloud add",
    "subcloud update",
    "subcloud manage",
    "subcloud unmanage",
    "subcloud delete",
    "subcloud-group add",
    "subcloud-group list",
    "subcloud-group show",
    "subcloud-group update",
    "subcloud-group delete",
    "subcloud-group list-subclouds",
    "release upload",
    "release list",
    "release show",
    "release delete",
    "helm-override-list",
    "helm-override-show",
    "helm-override-update",
    "helm-override-delete",
    "app upload",
    "app list",
    "app show",
    "app delete",
)

SECRET = "s3cr3t-Pa55"
SECRET_ENDPOINT = f"https://admin:{SECRET}@site1.example.com:8443"
MASKED_ENDPOINT = "https://admin:***@site1.example.com:8443"


# --- running the CLI ---------------------------------------------------------------


@dataclasses.dataclass(repr=False)
class Result:
    """What one CLI run showed the user."""

    argv: list[str]
    rc: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def output(self) -> str:
        return self.out + self.err

    def __repr__(self) -> str:  # shown by pytest when an assertion about it fails
        return (
            f"dcmanager {' '.join(self.argv)} -> {self.rc}\nstdout: {self.out}\nstderr: {self.err}"
        )


def _from_this_thread(record: logging.LogRecord) -> bool:
    return record.thread == threading.get_ident()


def run_cli(capsys, argv: list[str]) -> Result:
    """Run ``dcmanager argv`` in-process; an argparse error's SystemExit is its status.

    cliff adds a console handler to the root logger on every run; it is removed again
    afterwards, and while the CLI runs it only passes the CLI's own records, not those of
    the API server threads serving it in this same process.
    """
    capsys.readouterr()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    original_configure = shell.DCManagerShell.configure_logging

    def configure_logging(app):
        before = set(root.handlers)
        original_configure(app)
        for handler in set(root.handlers) - before:
            handler.addFilter(_from_this_thread)

    shell.DCManagerShell.configure_logging = configure_logging
    try:
        rc = shell.main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    finally:
        shell.DCManagerShell.configure_logging = original_configure
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    captured = capsys.readouterr()
    return Result(list(argv), rc, captured.out, captured.err)


class CLI:
    """``dcmanager`` pointed at one server with ``--dcmanager-url``."""

    def __init__(self, capsys, url: str) -> None:
        self.capsys = capsys
        self.url = url

    def run(self, *args: str) -> Result:
        return run_cli(self.capsys, ["--dcmanager-url", self.url, *args])

    def ok(self, *args: str) -> Result:
        """Run a command that must succeed quietly."""
        result = self.run(*args)
        assert result.rc == 0, result
        assert result.err == "", result
        return result

    def json(self, *args: str) -> Any:
        """Run a command that must succeed, with ``-f json``; its parsed output."""
        return self.ok(*args, "-f", "json").json

    def fail(self, *args: str, message: str, rc: int = 1) -> Result:
        """Run a command that must fail with ``message`` on stderr and nothing on stdout."""
        result = self.run(*args)
        assert result.rc == rc, result
        assert message in result.err, result
        assert result.out == "", result
        assert "Traceback" not in result.err, result
        return result

    # Shorthands for reading state back.

    def subclouds(self) -> list[dict]:
        return self.json("subcloud", "list")

    def subcloud(self, ref: str | int) -> dict:
        return self.json("subcloud", "show", str(ref))

    def groups(self) -> list[dict]:
        return self.json("subcloud-group", "list")

    def group(self, ref: str | int) -> dict:
        return self.json("subcloud-group", "show", str(ref))

    def add_subcloud(self, name: str, *options: str, endpoint: str | None = None) -> dict:
        endpoint = endpoint or f"simulated://{name}"
        return self.json("subcloud", "add", "--name", name, "--endpoint", endpoint, *options)

    def add_group(self, name: str, *options: str) -> dict:
        return self.json("subcloud-group", "add", "--name", name, *options)


def closed_port() -> int:
    """A loopback TCP port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def options_argv(options: dict[str, str]) -> list[str]:
    """``--option=value`` arguments, so that a value may start with ``-``."""
    return [f"{option}={value}" for option, value in options.items()]


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


# Every test, with or without the ``cli`` fixture, runs the CLI in a clean environment.
pytestmark = pytest.mark.usefixtures("clean_env")


# --- configuration and connection ----------------------------------------------------


class TestConnection:
    @pytest.mark.parametrize("suffix", ["/v1.0", "/v1.0/", "", "/"])
    def test_url_with_or_without_version_path(self, live_api, api, capsys, suffix):
        api.post_json("/v1.0/subclouds", {"name": "site1", "endpoint": "simulated://site1"})
        result = CLI(capsys, live_api + suffix).ok("subcloud", "list", "-f", "json")
        assert [sc["name"] for sc in result.json] == ["site1"]

    def test_url_from_environment(self, live_api, api, capsys, monkeypatch):
        api.post_json("/v1.0/subclouds", {"name": "site1", "endpoint": "simulated://site1"})
        monkeypatch.setenv("DCMANAGER_URL", live_api)
        result = run_cli(capsys, ["subcloud", "show", "site1", "-f", "json"])
        assert result.rc == 0, result
        assert result.json["name"] == "site1"

    def test_option_overrides_environment(self, live_api, capsys, monkeypatch):
        monkeypatch.setenv("DCMANAGER_URL", f"http://127.0.0.1:{closed_port()}")
        result = run_cli(
            capsys, ["--dcmanager-url", live_api, "subcloud-group", "list", "-f", "json"]
        )
        assert result.rc == 0, result
        assert [g["name"] for g in result.json] == ["Default"]

    def test_token_without_keystone_is_sent_to_the_url(self, cli):
        result = cli.ok("--os-auth-token", "a-token", "subcloud-group", "show", "Default")
        assert "Default Subcloud Group" in result.out

    @pytest.mark.parametrize(
        "command",
        [["subcloud", "list"], ["subcloud", "add", "--name", "x", "--endpoint", "simulated://x"]],
    )
    def test_no_server_configured(self, capsys, command):
        result = run_cli(capsys, command)
        assert result.rc == 1, result
        assert result.out == ""
        assert "No dcmanager to talk to" in result.err
        assert "DCMANAGER_URL" in result.err
        assert "OS_AUTH_URL" in result.err
        assert "Traceback" not in result.err

    @pytest.mark.parametrize(
        "command",
        [
            ["subcloud", "list"],
            ["subcloud", "show", "site1"],
            ["subcloud", "add", "--name", "site1", "--endpoint", SECRET_ENDPOINT],
            ["subcloud", "manage", "site1"],
            ["subcloud", "delete", "site1"],
            ["subcloud-group", "list"],
            ["subcloud-group", "update", "Default", "--description", "d"],
            ["subcloud-group", "delete", "g1"],
        ],
    )
    def test_unreachable_server(self, capsys, command):
        port = closed_port()
        result = CLI(capsys, f"http://127.0.0.1:{port}").fail(*command, message="Connection failed")
        assert f"127.0.0.1:{port}" in result.err
        assert SECRET not in result.output

    def test_unreachable_server_from_environment(self, capsys, monkeypatch):
        monkeypatch.setenv("DCMANAGER_URL", f"http://127.0.0.1:{closed_port()}/v1.0")
        result = run_cli(capsys, ["subcloud-group", "list"])
        assert result.rc == 1, result
        assert "Connection failed" in result.err
        assert "Traceback" not in result.err
        assert result.out == ""

    def test_help_lists_every_command(self, capsys):
        result = run_cli(capsys, ["help"])
        assert result.rc == 0, result
        for command in ALL_COMMANDS:
            assert f"  {command} " in result.out, command

    def test_unknown_command(self, cli):
        result = cli.run("subcloud", "frobnicate")
        assert result.rc == 2, result
        assert "'subcloud frobnicate' is not a" in result.output


# --- output formats ------------------------------------------------------------------


class TestFormats:
    @pytest.fixture(autouse=True)
    def site(self, cli):
        cli.add_subcloud("site1", "--description", "first site", "--location", "Ottawa")
        cli.add_subcloud("site2")

    def test_list_table(self, cli):
        lines = cli.ok("subcloud", "list").out.splitlines()
        header = [cell.strip() for cell in lines[1].strip("|").split("|")]
        assert header == SUBCLOUD_LIST_COLUMNS
        rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[3:-1]]
        assert rows == [
            ["1", "site1", "unmanaged", "offline", "complete", "None", "None", "None"],
            ["2", "site2", "unmanaged", "offline", "complete", "None", "None", "None"],
        ]

    def test_list_json(self, cli):
        rows = cli.subclouds()
        assert [list(row) for row in rows] == [SUBCLOUD_LIST_COLUMNS] * 2
        assert rows[0] == {
            "id": 1,
            "name": "site1",
            "management": "unmanaged",
            "availability": "offline",
            "deploy status": "complete",
            "sync": None,
            "backup status": None,
            "prestage status": None,
        }

    def test_list_yaml(self, cli):
        rows = yaml.safe_load(cli.ok("subcloud", "list", "-f", "yaml").out)
        assert [(row["id"], row["name"], row["management"]) for row in rows] == [
            (1, "site1", "unmanaged"),
            (2, "site2", "unmanaged"),
        ]

    def test_list_value(self, cli):
        out = cli.ok("subcloud", "list", "-f", "value", "-c", "name", "-c", "management").out
        assert out.splitlines() == ["site1 unmanaged", "site2 unmanaged"]

    def test_show_table(self, cli):
        lines = cli.ok("subcloud", "show", "site1").out.splitlines()
        cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines if "|" in line]
        assert cells[0] == ["Field", "Value"]
        fields = dict(cells[1:])
        assert list(fields) == SUBCLOUD_FIELDS
        assert fields["name"] == "site1"
        assert fields["description"] == "first site"
        assert fields["location"] == "Ottawa"
        assert fields["management"] == "unmanaged"

    def test_show_json(self, cli):
        shown = cli.subcloud("site1")
        assert list(shown) == SUBCLOUD_FIELDS
        assert shown["location"] == "Ottawa"

    def test_show_yaml(self, cli):
        shown = yaml.safe_load(cli.ok("subcloud", "show", "site1", "-f", "yaml").out)
        assert shown["name"] == "site1"
        assert shown["description"] == "first site"
        assert shown["group_id"] == 1
        assert set(shown) == set(SUBCLOUD_FIELDS)

    def test_show_value_selected_columns(self, cli):
        out = cli.ok("subcloud", "show", "site1", "-f", "value", "-c", "name", "-c", "location").out
        assert out.splitlines() == ["site1", "Ottawa"]

    def test_group_table_and_yaml(self, cli):
        lines = cli.ok("subcloud-group", "list").out.splitlines()
        assert [c.strip() for c in lines[1].strip("|").split("|")] == GROUP_LIST_COLUMNS
        assert "| Default |" in lines[3].replace("  ", " ")
        shown = yaml.safe_load(cli.ok("subcloud-group", "show", "1", "-f", "yaml").out)
        assert shown["name"] == "Default"
        assert shown["update apply type"] == "parallel"


# --- subclouds -----------------------------------------------------------------------


class TestSubcloudList:
    def test_empty(self, cli):
        assert cli.subclouds() == []
        assert cli.ok("subcloud", "list").out.strip() == ""

    def test_lists_every_subcloud_in_id_order(self, cli, api):
        api.post_json("/v1.0/subcloud-groups", {"name": "edge"})
        for name in ("zeta", "alpha", "mid"):
            api.post_json("/v1.0/subclouds", {"name": name, "endpoint": f"simulated://{name}"})
        api.patch_json("/v1.0/subclouds/alpha", {"management-state": "managed", "group": "edge"})
        rows = cli.subclouds()
        assert [(r["id"], r["name"]) for r in rows] == [(1, "zeta"), (2, "alpha"), (3, "mid")]
        assert by_name(rows)["alpha"]["management"] == "managed"
        assert by_name(rows)["zeta"]["management"] == "unmanaged"
        detailed = cli.json("subcloud", "list", "--detail")
        assert list(detailed[0]) == SUBCLOUD_DETAIL_LIST_COLUMNS
        assert by_name(detailed)["alpha"]["group_id"] == 2
        assert by_name(detailed)["zeta"]["group_id"] == 1
        # --all is accepted as StarlingX's scripts pass it: every subcloud is listed.
        assert cli.json("subcloud", "list", "--all") == rows


class TestSubcloudShow:
    def test_by_name_and_by_id(self, cli):
        added = cli.add_subcloud("site1", "--description", "d")
        assert cli.subcloud("site1") == added
        assert cli.subcloud(added["id"]) == added

    def test_detail_as_the_reference_prints_it(self, cli, api):
        cli.add_subcloud("site1")
        detailed = cli.json("subcloud", "show", "site1", "--detail")
        # What dcmanager does not know (the OAM address) is left out, as StarlingX's
        # client leaves it out.
        assert list(detailed) == SUBCLOUD_FIELDS
        assert cli.json("subcloud", "show", "site1", "-d") == detailed == cli.subcloud("site1")

    def test_errors_prints_why_the_last_operation_failed(self, cli, db):
        site = cli.add_subcloud("site1")
        assert cli.ok("subcloud", "errors", "site1").out == "\n"
        db_api.subcloud_update(site["id"], {"error_description": "precheck: disk full"})
        assert cli.ok("subcloud", "errors", "site1").out == "precheck: disk full\n"
        cli.fail("subcloud", "errors", "nowhere", message="Subcloud not found")

    def test_shows_what_the_api_holds(self, cli, api):
        api.post_json(
            "/v1.0/subclouds",
            {
                "name": "site1",
                "endpoint": "simulated://site1",
                "location": "Lab 4",
                "software-version": "24.09",
                "region-name": "RegionOne-site1",
            },
        )
        shown = cli.subcloud("site1")
        assert shown["location"] == "Lab 4"
        assert shown["software_version"] == "24.09"
        assert shown["region_name"] == "RegionOne-site1"
        assert shown["availability"] == "offline"

    @pytest.mark.parametrize("ref", ["nope", "42", "site1x"])
    def test_unknown(self, cli, ref):
        cli.add_subcloud("site1")
        cli.fail("subcloud", "show", ref, message="Subcloud not found")

    @pytest.mark.parametrize(
        ("ref", "message"),
        [
            ("site1?x=1", "Subcloud not found"),
            ("site1#frag", "Subcloud not found"),
            ("site1%20", "Subcloud not found"),
            ("a/b", "The resource could not be found: /v1.0/subclouds/a/b"),
        ],
    )
    def test_url_characters_stay_in_the_name(self, cli, ref, message):
        # Sent as one path segment, so none of them strips back to "site1".
        cli.add_subcloud("site1")
        cli.fail("subcloud", "show", ref, message=message)

    @pytest.mark.parametrize(
        "command",
        [
            ["subcloud", "show", "."],
            ["subcloud", "show", ".."],
            ["subcloud", "update", "..", "--description", "changed"],
            ["subcloud", "manage", ".."],
            ["subcloud", "delete", ".."],
            ["subcloud-group", "show", "."],
            ["subcloud-group", "update", ".", "--description", "changed"],
            ["subcloud-group", "delete", "."],
            ["subcloud-group", "list-subclouds", ".."],
        ],
    )
    def test_dot_references_are_rejected(self, cli, command):
        # A URL resolves "." and ".." to the parent path: without a check the CLI
        # showed the listing or the API root as an empty subcloud and exited 0.
        cli.add_subcloud("site1", "--description", "kept")
        cli.fail(*command, message="Invalid name or id")
        assert cli.subcloud("site1")["description"] == "kept"
        assert cli.subcloud("site1")["management"] == "unmanaged"
        assert cli.group("Default")["description"] == "Default Subcloud Group"


class TestSubcloudAdd:
    def test_minimal(self, cli):
        added = cli.add_subcloud("site1")
        assert added["id"] == 1
        assert added["name"] == "site1"
        assert added["endpoint"] == "simulated://site1"
        assert added["management"] == "unmanaged"
        assert added["availability"] == "offline"
        assert added["group_id"] == 1
        assert added["description"] is None
        assert added["region_name"]
        assert added["created_at"].endswith("+00:00")
        assert cli.subcloud("site1") == added
        assert [sc["name"] for sc in cli.subclouds()] == ["site1"]

    @pytest.mark.parametrize("group_ref", ["edge", "2"])
    def test_every_option(self, cli, group_ref):
        cli.add_group("edge")
        added = cli.add_subcloud(
            "site1",
            "--description=first site",
            "--location=Ottawa",
            f"--group={group_ref}",
            "--software-version=24.09",
            "--region-name=region-site1",
            endpoint="https://site1.example.com:8443",
        )
        assert {k: added[k] for k in added if k not in ("created_at", "updated_at")} == {
            "id": 1,
            "name": "site1",
            "description": "first site",
            "location": "Ottawa",
            "software_version": "24.09",
            "management": "unmanaged",
            "availability": "offline",
            "deploy_status": "complete",
            "backup_status": None,
            "prestage_status": None,
            "prestage_versions": None,
            "error_description": None,
            "region_name": "region-site1",
            "group_id": 2,
            "endpoint": "https://site1.example.com:8443",
            "management_subnet": None,
            "management_start_ip": None,
            "management_end_ip": None,
            "management_gateway_ip": None,
            "systemcontroller_gateway_ip": None,
            "peer_group_id": None,
            "backup_datetime": None,
            "prestage_software_version": None,
        }
        assert cli.subcloud(1) == added
        assert [sc["name"] for sc in cli.json("subcloud-group", "list-subclouds", "edge")] == [
            "site1"
        ]

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--name", "bad name"], "Invalid subcloud name 'bad name'"),
            (["--name", "12345"], "Invalid subcloud name '12345'"),
            (["--name", "-dash"], "Invalid subcloud name '-dash'"),
            (["--endpoint", "not a url"], "Invalid endpoint"),
            (["--endpoint", "https://host:port"], "Invalid endpoint"),
            (["--group", "nope"], "Invalid group: subcloud group 'nope' does not exist"),
            (["--group", "99"], "Invalid group: subcloud group '99' does not exist"),
            (["--software-version", "24.9"], "Invalid software-version '24.9'"),
            (["--region-name", " "], "Invalid region-name"),
            (["--description", "x" * 256], "Invalid description"),
            (["--location", "x" * 256], "Invalid location"),
        ],
    )
    def test_invalid(self, cli, options, message):
        cli.add_subcloud("existing")
        argv = {"--name": "site1", "--endpoint": "simulated://site1"}
        argv.update(zip(options[::2], options[1::2], strict=True))
        cli.fail("subcloud", "add", *options_argv(argv), message=message)
        assert [sc["name"] for sc in cli.subclouds()] == ["existing"]

    def test_duplicate_name(self, cli):
        original = cli.add_subcloud("site1", "--description", "original")
        cli.fail(
            "subcloud",
            "add",
            "--name=site1",
            "--endpoint=simulated://other",
            "--description=impostor",
            message="Subcloud with name site1 already exists",
        )
        assert cli.subclouds() == [
            {
                "id": 1,
                "name": "site1",
                "management": "unmanaged",
                "availability": "offline",
                "deploy status": "complete",
                "sync": None,
                "backup status": None,
                "prestage status": None,
            }
        ]
        assert cli.subcloud("site1") == original

    def test_duplicate_region_name(self, cli):
        cli.add_subcloud("site1", "--region-name", "R1")
        cli.fail(
            "subcloud",
            "add",
            "--name=site2",
            "--endpoint=simulated://site2",
            "--region-name=R1",
            message="Subcloud with region-name R1 already exists",
        )
        assert [sc["name"] for sc in cli.subclouds()] == ["site1"]

    @pytest.mark.parametrize(
        ("argv", "missing"),
        [(["--endpoint", "simulated://x"], "--name"), (["--name", "x"], "--endpoint")],
    )
    def test_missing_required_option(self, cli, argv, missing):
        result = cli.run("subcloud", "add", *argv)
        assert result.rc == 2, result
        assert "the following arguments are required" in result.err
        assert missing in result.err
        assert cli.subclouds() == []


class TestSubcloudUpdate:
    @pytest.fixture(autouse=True)
    def site(self, cli):
        cli.add_group("edge")
        return cli.add_subcloud("site1", "--description", "before", "--location", "Ottawa")

    def test_description_only(self, cli, site):
        updated = cli.json("subcloud", "update", "site1", "--description", "after")
        assert updated["description"] == "after"
        assert updated["location"] == "Ottawa"
        assert updated["updated_at"] is not None
        assert cli.subcloud("site1") == updated

    def test_every_option_by_id(self, cli, site):
        updated = cli.json(
            "subcloud",
            "update",
            str(site["id"]),
            "--description=d2",
            "--location=Montreal",
            "--group=edge",
            "--endpoint=https://new.example.com:9443",
        )
        assert updated["description"] == "d2"
        assert updated["location"] == "Montreal"
        assert updated["group_id"] == 2
        assert updated["endpoint"] == "https://new.example.com:9443"
        assert updated["management"] == "unmanaged"
        assert cli.subcloud("site1") == updated

    def test_moving_between_groups(self, cli):
        cli.ok("subcloud", "update", "site1", "--group", "edge")
        assert cli.json("subcloud-group", "list-subclouds", "Default") == []
        assert [s["name"] for s in cli.json("subcloud-group", "list-subclouds", "edge")] == [
            "site1"
        ]
        cli.ok("subcloud", "update", "site1", "--group", "1")
        assert cli.subcloud("site1")["group_id"] == 1
        assert cli.json("subcloud-group", "list-subclouds", "edge") == []

    def test_nothing_to_update(self, cli, site):
        cli.fail("subcloud", "update", "site1", message="nothing to update")
        assert cli.subcloud("site1") == site

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--group", "nope"], "Invalid group: subcloud group 'nope' does not exist"),
            (["--endpoint", "nowhere"], "Invalid endpoint"),
            (["--description", "x" * 256], "Invalid description"),
            (["--description", "ok", "--group", "nope"], "does not exist"),
        ],
    )
    def test_invalid_leaves_it_unchanged(self, cli, site, options, message):
        cli.fail("subcloud", "update", "site1", *options, message=message)
        assert cli.subcloud("site1") == site

    def test_unknown(self, cli, site):
        cli.fail("subcloud", "update", "nope", "--description", "x", message="Subcloud not found")
        assert cli.subcloud("site1") == site


class TestSubcloudManagement:
    @pytest.fixture(autouse=True)
    def site(self, cli):
        return cli.add_subcloud("site1")

    def test_manage_and_unmanage(self, cli, site):
        managed = cli.json("subcloud", "manage", "site1")
        assert managed["management"] == "managed"
        assert managed["name"] == "site1"
        assert cli.subcloud("site1")["management"] == "managed"
        assert cli.subclouds()[0]["management"] == "managed"

        unmanaged = cli.json("subcloud", "unmanage", str(site["id"]))
        assert unmanaged["management"] == "unmanaged"
        assert cli.subcloud("site1")["management"] == "unmanaged"
        # --yes, as StarlingX's scripts pass it.
        cli.json("subcloud", "manage", "site1")
        assert cli.json("subcloud", "unmanage", "site1", "--yes")["management"] == "unmanaged"

    def test_manage_whatever_the_availability(self, cli, site):
        assert site["availability"] == "offline"
        assert cli.json("subcloud", "manage", "1")["management"] == "managed"

    def test_repeating_is_harmless(self, cli):
        cli.ok("subcloud", "manage", "site1")
        assert cli.json("subcloud", "manage", "site1")["management"] == "managed"
        cli.ok("subcloud", "unmanage", "site1")
        assert cli.json("subcloud", "unmanage", "site1")["management"] == "unmanaged"

    def test_table_output(self, cli):
        out = cli.ok("subcloud", "manage", "site1").out
        assert any(line.replace(" ", "") == "|management|managed|" for line in out.splitlines()), (
            out
        )

    @pytest.mark.parametrize("command", ["manage", "unmanage"])
    def test_unknown(self, cli, command):
        cli.fail("subcloud", command, "nope", message="Subcloud not found")
        cli.fail("subcloud", command, "7", message="Subcloud not found")
        assert cli.subcloud("site1")["management"] == "unmanaged"


class TestSubcloudDelete:
    def test_by_name(self, cli):
        cli.add_subcloud("site1")
        cli.add_subcloud("site2")
        result = cli.ok("subcloud", "delete", "site1")
        assert result.out == ""
        cli.fail("subcloud", "show", "site1", message="Subcloud not found")
        assert [sc["name"] for sc in cli.subclouds()] == ["site2"]

    def test_by_id(self, cli):
        cli.add_subcloud("site1")
        cli.ok("subcloud", "delete", "1")
        assert cli.subclouds() == []

    def test_name_is_free_again(self, cli):
        cli.add_subcloud("site1", "--region-name", "R1")
        cli.ok("subcloud", "delete", "site1")
        again = cli.add_subcloud("site1", "--region-name", "R1")
        assert cli.subclouds()[0]["id"] == again["id"]
        assert again["region_name"] == "R1"

    def test_managed_is_refused(self, cli):
        cli.add_subcloud("site1")
        cli.ok("subcloud", "manage", "site1")
        cli.fail(
            "subcloud",
            "delete",
            "site1",
            message="Cannot delete subcloud site1: it is managed. Unmanage it first.",
        )
        assert cli.subcloud("site1")["management"] == "managed"
        cli.ok("subcloud", "unmanage", "site1")
        cli.ok("subcloud", "delete", "site1")
        assert cli.subclouds() == []

    def test_in_a_strategy_is_refused(self, cli, db):
        cli.add_subcloud("site1")
        with orm.Session(db) as session, session.begin():
            strategy = models.Strategy(
                type="prestage",
                subcloud_apply_type="parallel",
                max_parallel_subclouds=2,
                state="initial",
            )
            session.add(strategy)
            session.flush()
            session.add(
                models.StrategyStep(strategy_id=strategy.id, subcloud_id=1, state="initial")
            )
        test_tallies.recount()
        cli.fail(
            "subcloud",
            "delete",
            "site1",
            message="Cannot delete subcloud site1: it is part of the current strategy.",
        )
        assert cli.subcloud("site1")["name"] == "site1"

    def test_unknown(self, cli):
        cli.add_subcloud("site1")
        cli.fail("subcloud", "delete", "nope", message="Subcloud not found")
        cli.fail("subcloud", "delete", "2", message="Subcloud not found")
        assert [sc["name"] for sc in cli.subclouds()] == ["site1"]


class TestEndpointCredentials:
    """An endpoint's password reaches the server but is never shown to anyone."""

    def assert_masked(self, result: Result) -> None:
        assert SECRET not in result.output, result

    def test_add_show_list_update(self, cli, db):
        cli.add_group("edge")
        added = cli.add_subcloud("site1", endpoint=SECRET_ENDPOINT)
        assert added["endpoint"] == MASKED_ENDPOINT
        # The server got the real credentials: only the display is masked.
        assert db_api.subcloud_get("site1").endpoint == SECRET_ENDPOINT

        outputs = [
            cli.ok("subcloud", "add", "--name", "site2", "--endpoint", SECRET_ENDPOINT),
            cli.ok("subcloud", "show", "site1"),
            cli.ok("subcloud", "show", "site1", "-f", "json"),
            cli.ok("subcloud", "show", "site1", "-f", "yaml"),
            cli.ok("subcloud", "show", "site1", "-f", "value"),
            cli.ok("subcloud", "show", "site1", "-f", "shell"),
            cli.ok("subcloud", "list", "-f", "json"),
            cli.ok("subcloud", "list"),
            cli.ok("subcloud", "update", "site1", "--description", "d"),
            cli.ok("subcloud", "update", "site1", "--group", "edge", "-f", "yaml"),
            cli.ok("subcloud-group", "list-subclouds", "edge", "-f", "yaml"),
            cli.ok("subcloud", "manage", "site1"),
            cli.ok("subcloud", "unmanage", "site1", "-f", "value"),
        ]
        for result in outputs:
            self.assert_masked(result)
        assert MASKED_ENDPOINT in outputs[1].out
        assert yaml.safe_load(outputs[3].out)["endpoint"] == MASKED_ENDPOINT
        assert MASKED_ENDPOINT in outputs[4].out.splitlines()

    def test_update_endpoint(self, cli, db):
        cli.add_subcloud("site1")
        updated = cli.json("subcloud", "update", "site1", "--endpoint", SECRET_ENDPOINT)
        assert updated["endpoint"] == MASKED_ENDPOINT
        assert db_api.subcloud_get("site1").endpoint == SECRET_ENDPOINT
        assert SECRET not in json.dumps(cli.subcloud("site1"))

    @pytest.mark.parametrize(
        "endpoint",
        [
            f"https://admin:{SECRET}@site1.example.com:bad",
            f"https://admin:{SECRET}@",
            f"admin:{SECRET}@site1.example.com",
            f" https://admin:{SECRET}@site1.example.com",
        ],
    )
    def test_rejected_endpoint_is_not_echoed(self, cli, endpoint):
        cli.add_subcloud("site1")
        result = cli.fail(
            "subcloud", "add", "--name", "site2", "--endpoint", endpoint, message="Invalid endpoint"
        )
        self.assert_masked(result)
        result = cli.fail(
            "subcloud", "update", "site1", "--endpoint", endpoint, message="Invalid endpoint"
        )
        self.assert_masked(result)
        assert cli.subcloud("site1")["endpoint"] == "simulated://site1"

    def test_not_in_debug_output(self, cli):
        # -v -v logs every request; the endpoint's password must not be in it.
        result = cli.run(
            "-v",
            "-v",
            "--debug",
            "subcloud",
            "add",
            "--name=site1",
            f"--endpoint={SECRET_ENDPOINT}",
        )
        assert result.rc == 0, result
        assert "REQ: POST /subclouds" in result.err
        assert MASKED_ENDPOINT in result.err
        self.assert_masked(result)
        result = cli.run("-v", "-v", "subcloud", "update", "site1", "--endpoint", SECRET_ENDPOINT)
        assert result.rc == 0, result
        self.assert_masked(result)
        # Bodies without credentials are still logged in full.
        result = cli.run("-v", "-v", "subcloud", "update", "site1", "--description", "hello")
        assert result.rc == 0, result
        assert '"description": "hello"' in result.err


# --- subcloud groups -----------------------------------------------------------------


class TestGroupList:
    def test_default_only(self, cli):
        assert cli.groups() == [
            {"id": 1, "name": "Default", "description": "Default Subcloud Group"}
        ]

    def test_every_group(self, cli, api):
        api.post_json("/v1.0/subcloud-groups", {"name": "edge", "description": "edge sites"})
        cli.add_group("core")
        assert cli.groups() == [
            {"id": 1, "name": "Default", "description": "Default Subcloud Group"},
            {"id": 2, "name": "edge", "description": "edge sites"},
            {"id": 3, "name": "core", "description": "No description provided"},
        ]


class TestGroupShow:
    def test_default_by_name_and_id(self, cli):
        shown = cli.group("Default")
        assert list(shown) == GROUP_FIELDS
        assert shown["id"] == 1
        assert shown["update apply type"] == "parallel"
        assert shown["max parallel subclouds"] == 2
        assert cli.group("1") == shown

    @pytest.mark.parametrize("ref", ["nope", "99", "default-x"])
    def test_unknown(self, cli, ref):
        cli.fail("subcloud-group", "show", ref, message="Subcloud Group not found")

    @pytest.mark.parametrize("name", ["50%", "two words", "a#b", "a&b=c", "x%20y", "ünï"])
    def test_names_with_url_characters(self, cli, name):
        # Each command sends the name as one quoted path segment.
        added = cli.add_group(name)
        assert added["name"] == name
        assert cli.group(name) == added
        cli.add_subcloud("site1", f"--group={name}")
        assert [m["name"] for m in cli.json("subcloud-group", "list-subclouds", name)] == ["site1"]
        assert cli.json("subcloud-group", "update", name, "--description=d")["id"] == added["id"]
        cli.ok("subcloud", "update", "site1", "--group=Default")
        cli.ok("subcloud-group", "delete", name)
        assert [g["name"] for g in cli.groups()] == ["Default"]


class TestGroupAdd:
    def test_defaults(self, cli):
        added = cli.add_group("edge")
        assert {k: added[k] for k in GROUP_FIELDS[:5]} == {
            "id": 2,
            "name": "edge",
            "description": "No description provided",
            "update apply type": "parallel",
            "max parallel subclouds": 2,
        }
        assert added["created_at"].endswith("+00:00")
        assert cli.group("edge") == added

    def test_every_option(self, cli):
        added = cli.add_group(
            "edge",
            "--description=edge sites",
            "--update_apply_type=serial",
            "--max_parallel_subclouds=5000",
        )
        assert added["description"] == "edge sites"
        assert added["update apply type"] == "serial"
        assert added["max parallel subclouds"] == 5000
        assert cli.group(added["id"]) == added
        assert [g["name"] for g in cli.groups()] == ["Default", "edge"]

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--name", "Default"], "Invalid group name"),
            (["--name", "default"], "Invalid group name"),
            (["--name", "DEFAULT"], "Invalid group name"),
            (["--name", "12345"], "Invalid group name"),
            (["--name", ""], "Invalid group name"),
            (["--name", "   "], "Invalid group name"),
            (["--name", "a.b"], "Invalid group name"),
            (["--name", "a*"], "Invalid group name"),
            (["--name", "(x)"], "Invalid group name"),
            (["--name", "x" * 256], "Invalid group name"),
            (["--description", "x" * 255], "Invalid group description"),
            (["--description", ""], "Invalid group description"),
            (["--max_parallel_subclouds", "0"], "Invalid group max_parallel_subclouds"),
            (["--max_parallel_subclouds", "5001"], "Invalid group max_parallel_subclouds"),
            (["--max_parallel_subclouds", "-1"], "Invalid group max_parallel_subclouds"),
        ],
    )
    def test_invalid(self, cli, options, message):
        argv = {"--name": "edge"}
        argv.update(zip(options[::2], options[1::2], strict=True))
        cli.fail("subcloud-group", "add", *options_argv(argv), message=message)
        assert [g["name"] for g in cli.groups()] == ["Default"]

    def test_limits_accepted(self, cli):
        assert cli.add_group("g1", "--max_parallel_subclouds", "1")["max parallel subclouds"] == 1
        assert cli.add_group("g2", "--description", "x" * 254)["description"] == "x" * 254
        assert cli.add_group("n" * 255)["name"] == "n" * 255

    def test_duplicate(self, cli):
        original = cli.add_group("edge", "--description", "original")
        cli.fail(
            "subcloud-group",
            "add",
            "--name=edge",
            "--description=impostor",
            message="A subcloud group with this name already exists",
        )
        assert [g["name"] for g in cli.groups()] == ["Default", "edge"]
        assert cli.group("edge") == original

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--update_apply_type", "diagonal"], "invalid choice: 'diagonal'"),
            (["--max_parallel_subclouds", "many"], "invalid int value: 'many'"),
            (["--description", "no name"], "the following arguments are required: --name"),
        ],
    )
    def test_rejected_by_the_cli(self, cli, options, message):
        name = [] if "--description" in options else ["--name", "edge"]
        result = cli.run("subcloud-group", "add", *name, *options)
        assert result.rc == 2, result
        assert message in result.err
        assert [g["name"] for g in cli.groups()] == ["Default"]


class TestGroupUpdate:
    @pytest.fixture(autouse=True)
    def edge(self, cli):
        return cli.add_group("edge", "--description", "edge sites")

    def test_every_field(self, cli, edge):
        updated = cli.json(
            "subcloud-group",
            "update",
            "edge",
            "--name=far-edge",
            "--description=far away",
            "--update_apply_type=serial",
            "--max_parallel_subclouds=10",
        )
        assert updated["id"] == edge["id"]
        assert updated["name"] == "far-edge"
        assert updated["description"] == "far away"
        assert updated["update apply type"] == "serial"
        assert updated["max parallel subclouds"] == 10
        assert updated["updated_at"] is not None
        assert cli.group("far-edge") == updated
        cli.fail("subcloud-group", "show", "edge", message="Subcloud Group not found")

    def test_one_field_by_id(self, cli, edge):
        updated = cli.json("subcloud-group", "update", "2", "--max_parallel_subclouds", "7")
        assert updated["max parallel subclouds"] == 7
        assert updated["description"] == "edge sites"
        assert updated["update apply type"] == "parallel"

    def test_renaming_keeps_members(self, cli):
        cli.add_subcloud("site1", "--group", "edge")
        cli.ok("subcloud-group", "update", "edge", "--name", "core")
        members = cli.json("subcloud-group", "list-subclouds", "core")
        assert [m["name"] for m in members] == ["site1"]

    def test_nothing_to_update(self, cli, edge):
        cli.fail("subcloud-group", "update", "edge", message="nothing to update")
        assert cli.group("edge") == edge

    def test_default_keeps_its_name(self, cli):
        default = cli.group("Default")
        cli.fail(
            "subcloud-group",
            "update",
            "Default",
            "--name=Primary",
            "--description=changed",
            message="Default group name cannot be changed",
        )
        assert cli.group("Default") == default
        cli.fail("subcloud-group", "show", "Primary", message="Subcloud Group not found")

    def test_default_other_fields(self, cli):
        updated = cli.json(
            "subcloud-group", "update", "1", "--description=main", "--max_parallel_subclouds=3"
        )
        assert updated["name"] == "Default"
        assert updated["description"] == "main"
        assert updated["max parallel subclouds"] == 3
        assert cli.group("Default") == updated

    def test_rename_to_taken_name(self, cli, edge):
        cli.add_group("core")
        cli.fail(
            "subcloud-group",
            "update",
            "edge",
            "--name=core",
            message="A subcloud group with this name already exists",
        )
        assert cli.group("edge") == edge
        assert [g["name"] for g in cli.groups()] == ["Default", "edge", "core"]

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--name", "default"], "Invalid group name"),
            (["--name", "a|b"], "Invalid group name"),
            (["--name", "42"], "Invalid group name"),
            (["--description", "x" * 300], "Invalid group description"),
            (["--max_parallel_subclouds", "0"], "Invalid group max_parallel_subclouds"),
            (["--description", "ok", "--max_parallel_subclouds", "9999"], "max_parallel"),
        ],
    )
    def test_invalid_leaves_it_unchanged(self, cli, edge, options, message):
        cli.fail("subcloud-group", "update", "edge", *options, message=message)
        assert cli.group("edge") == edge

    def test_unknown(self, cli):
        cli.fail(
            "subcloud-group",
            "update",
            "nope",
            "--description=x",
            message="Subcloud Group not found",
        )


class TestGroupDelete:
    def test_empty_group(self, cli):
        cli.add_group("edge")
        cli.add_group("core")
        result = cli.ok("subcloud-group", "delete", "edge")
        assert result.out == ""
        cli.fail("subcloud-group", "show", "edge", message="Subcloud Group not found")
        assert [g["name"] for g in cli.groups()] == ["Default", "core"]

    def test_by_id(self, cli):
        cli.add_group("edge")
        cli.ok("subcloud-group", "delete", "2")
        assert [g["name"] for g in cli.groups()] == ["Default"]

    @pytest.mark.parametrize("ref", ["Default", "1"])
    def test_default_is_refused(self, cli, ref):
        default = cli.group("Default")
        cli.fail(
            "subcloud-group", "delete", ref, message="Default Subcloud Group may not be deleted"
        )
        assert cli.group("Default") == default

    def test_non_empty_is_refused(self, cli):
        cli.add_group("edge")
        cli.add_subcloud("site1", "--group", "edge")
        cli.fail("subcloud-group", "delete", "edge", message="Subcloud Group not empty")
        assert cli.group("edge")["name"] == "edge"
        assert cli.subcloud("site1")["group_id"] == 2
        # Once emptied it can go.
        cli.ok("subcloud", "update", "site1", "--group", "Default")
        cli.ok("subcloud-group", "delete", "edge")
        assert [g["name"] for g in cli.groups()] == ["Default"]
        assert cli.subcloud("site1")["group_id"] == 1

    def test_unknown(self, cli):
        cli.fail("subcloud-group", "delete", "nope", message="Subcloud Group not found")
        cli.fail("subcloud-group", "delete", "99", message="Subcloud Group not found")
        assert [g["name"] for g in cli.groups()] == ["Default"]


class TestGroupListSubclouds:
    def test_members_only(self, cli):
        cli.add_group("edge")
        cli.add_group("empty")
        cli.add_subcloud("site1", "--group", "edge")
        cli.add_subcloud("site2")
        cli.add_subcloud("site3", "--group", "2")
        edge = cli.json("subcloud-group", "list-subclouds", "edge")
        assert [list(row) for row in edge] == [SUBCLOUD_DETAIL_LIST_COLUMNS] * 2
        assert [(m["id"], m["name"], m["group_id"]) for m in edge] == [
            (1, "site1", 2),
            (3, "site3", 2),
        ]
        assert cli.json("subcloud-group", "list-subclouds", "2") == edge
        default = cli.json("subcloud-group", "list-subclouds", "Default")
        assert [m["name"] for m in default] == ["site2"]
        assert cli.json("subcloud-group", "list-subclouds", "empty") == []

    def test_table(self, cli):
        cli.add_subcloud("site1")
        lines = cli.ok("subcloud-group", "list-subclouds", "Default").out.splitlines()
        assert [c.strip() for c in lines[1].strip("|").split("|")] == SUBCLOUD_DETAIL_LIST_COLUMNS
        row = [c.strip() for c in lines[3].strip("|").split("|")]
        assert (row[0], row[1], row[5]) == ("1", "site1", "unmanaged")

    @pytest.mark.parametrize("ref", ["nope", "99"])
    def test_unknown(self, cli, ref):
        cli.fail("subcloud-group", "list-subclouds", ref, message="Subcloud Group not found")
