"""``dcmanager app ...`` against the real API served over HTTP."""

import pytest

from tests import apps
from tests.functional import strategy_helpers as sh
from tests.functional.test_cli import CLI
from tests.functional.test_cli_strategy import engine_json
from tests.functional.test_cli_strategy import run_beside_engine


@pytest.fixture
def tarballs(tmp_path):
    def write(version: str | None, name: str | None = "demo", suffix: str = ".tgz"):
        path = tmp_path / f"{name or 'bare'}-{version or 'x'}{suffix}"
        path.write_bytes(apps.app_tarball(name, version))
        return str(path)

    return write


def test_upload_list_show_delete(cli, tarballs):
    uploaded = cli.json("app", "upload", tarballs("1.0.0"))
    assert {k: uploaded[k] for k in ("name", "version", "semver", "prerelease", "charts")} == {
        "name": "demo",
        "version": "1.0.0",
        "semver": True,
        "prerelease": False,
        "charts": "demo-api-0.1.0 (demo/demo-api)",
    }
    cli.json("app", "upload", tarballs("1.10.0", suffix=".tar.gz"))
    cli.json("app", "upload", tarballs("2.0.0-rc.1"))

    assert cli.json("app", "list") == [
        {"name": "demo", "latest": "1.10.0", "versions": "1.0.0, 1.10.0, 2.0.0-rc.1"}
    ]
    assert cli.json("app", "show", "demo")["version"] == "1.10.0"
    assert cli.json("app", "show", "demo", "--include-prerelease")["version"] == "2.0.0-rc.1"
    # --version after the command is the command's, not cliff's.
    assert cli.json("app", "show", "demo", "--version", "1.0.0")["version"] == "1.0.0"

    cli.ok("app", "delete", "demo", "--version", "1.10.0")
    assert cli.json("app", "show", "demo")["version"] == "1.0.0"
    cli.fail("app", "show", "demo", "--version", "1.10.0", message="has no version 1.10.0")


def test_the_name_and_version_fill_what_the_metadata_lacks(cli, tarballs):
    uploaded = cli.json(
        "app", "upload", tarballs(None, name=None), "--app-name", "bare", "--app-version", "1.0-13"
    )
    assert (uploaded["name"], uploaded["version"], uploaded["semver"]) == ("bare", "1.0-13", False)
    cli.fail("app", "show", "bare", message="Application bare has no SemVer release")


def test_refusals_say_why(cli, tarballs, tmp_path):
    cli.fail("app", "upload", str(tmp_path / "x.zip"), message="ends in .tgz or .tar.gz")
    cli.fail("app", "upload", str(tmp_path / "missing.tgz"), message="No such file")
    cli.json("app", "upload", tarballs("1.0.0+b1"))
    cli.fail("app", "upload", tarballs("1.0.0+b2"), message="has the same precedence")
    cli.fail("app", "show", "nosuch", message="Application nosuch not found")


def test_an_application_at_a_subcloud(cli, tarballs, roles):
    """``dcmanager subcloud app ...``: apply, update with --watch, remove, delete."""
    engine_json(cli, "app", "upload", tarballs("1.0.0"))
    engine_json(cli, "app", "upload", tarballs("1.1.0"))
    _ok(cli, "subcloud", "add", "--name", "s1", "--endpoint", "simulated://s1?system_mode=duplex")
    _ok(cli, "subcloud", "manage", "s1")
    sh.wait_for(
        lambda: engine_json(cli, "subcloud", "show", "s1")["availability"] == "online",
        what="online",
    )

    started = engine_json(cli, "subcloud", "app", "apply", "s1", "demo", "--version", "1.0.0")
    assert (started["version"], started["status"]) == ("1.0.0", "uploading")
    watched = run_beside_engine(
        cli, "subcloud", "app", "show", "s1", "demo", "--watch", "--interval", "0.05"
    )
    assert watched.rc == 0, watched
    assert watched.out.splitlines()[-1] == "1.0.0: applied"

    engine_json(cli, "subcloud", "app", "update", "s1", "demo", "--version", "latest")
    assert (
        run_beside_engine(
            cli, "subcloud", "app", "show", "s1", "demo", "--watch", "--interval", "0.05"
        ).rc
        == 0
    )
    shown = engine_json(cli, "subcloud", "app", "show", "s1", "demo")
    assert {k: shown[k] for k in ("version", "status", "releases", "inactive_versions")} == {
        "version": "1.1.0",
        "status": "applied",
        "releases": "demo-api (demo): demo-api-0.1.0 revision 2",
        "inactive_versions": "1.0.0",
    }
    assert engine_json(cli, "subcloud", "app", "list", "s1") == [
        {
            "name": "demo",
            "version": "1.1.0",
            "status": "applied",
            "progress": None,
            "target_version": None,
        }
    ]
    cli.fail(
        "subcloud",
        "app",
        "update",
        "s1",
        "demo",
        "--version",
        "1.1.0",
        message="it is at version 1.1.0 already",
    )

    engine_json(cli, "subcloud", "app", "remove", "s1", "demo")
    assert (
        run_beside_engine(
            cli, "subcloud", "app", "show", "s1", "demo", "--watch", "--interval", "0.05"
        ).rc
        == 0
    )
    _ok(cli, "subcloud", "app", "delete", "s1", "demo")
    assert engine_json(cli, "subcloud", "app", "list", "s1") == []


def test_watch_exits_1_when_the_update_failed(cli, tarballs, roles):
    engine_json(cli, "app", "upload", tarballs("1.0.0"))
    engine_json(cli, "app", "upload", tarballs("1.1.0"))
    _ok(cli, "subcloud", "add", "--name", "s1", "--endpoint", "simulated://s1?fail=app-apply")
    _ok(cli, "subcloud", "manage", "s1")
    sh.wait_for(
        lambda: engine_json(cli, "subcloud", "show", "s1")["availability"] == "online",
        what="online",
    )
    engine_json(cli, "subcloud", "app", "apply", "s1", "demo", "--version", "1.0.0")
    watched = run_beside_engine(
        cli, "subcloud", "app", "show", "s1", "demo", "--watch", "--interval", "0.05"
    )
    assert watched.rc == 1
    assert watched.out.splitlines()[-1] == (
        "1.0.0: apply-failed (simulated failure of the app-apply (fail=app-apply))"
    )


def test_a_subclouds_own_overrides_of_an_application_chart(cli, tarballs):
    cli.json("app", "upload", tarballs("1.0.0"))
    cli.json("subcloud", "add", "--name", "sc1", "--endpoint", "simulated://sc1")
    chart = ("demo-api", "demo", "--app", "demo")
    cli.json("helm-override-update", *chart, "--set", "replicas=2", "--set", "tier=gold")

    updated = cli.json("helm-override-update", *chart, "--subcloud", "sc1", "--set", "replicas=5")

    assert updated == {
        "name": "demo-api",
        "namespace": "demo",
        "subcloud_overrides": "replicas: 5\n",
    }
    shown = cli.json("helm-override-show", *chart, "--subcloud", "sc1")
    assert (shown["user_overrides"], shown["subcloud_overrides"], shown["combined_overrides"]) == (
        "replicas: 2\ntier: gold\n",
        "replicas: 5\n",
        "replicas: 5\ntier: gold\n",
    )
    assert "subcloud_overrides" not in cli.json("helm-override-show", *chart)
    out = cli.ok("helm-override-delete", *chart, "--subcloud", "sc1").out
    assert out == "Deleted chart overrides of subcloud sc1 for demo-api:demo\n"
    assert cli.json("helm-override-show", *chart, "--subcloud", "sc1")["subcloud_overrides"] == ""
    assert cli.json("helm-override-show", *chart)["user_overrides"] == "replicas: 2\ntier: gold\n"


def test_a_prestage_strategy_shows_the_applications_it_prestages(cli, tarballs, api, conf):
    cli.json("app", "upload", tarballs("1.0.0"))
    sh.register(api, "sc1")
    sh.audit_once(conf)

    created = cli.json(
        "prestage-strategy", "create", "--sysadmin-password", "Li69nux*", "--app", "demo"
    )

    assert created["apps"] == "demo 1.0.0"
    assert cli.json("prestage-strategy", "show")["apps"] == "demo 1.0.0"


def _ok(cli: CLI, *command: str) -> None:
    """A command that must succeed beside the engine (whose log may reach stderr)."""
    result = run_beside_engine(cli, *command)
    assert result.rc == 0, result


def test_overrides_of_an_application_chart(cli, tarballs):
    cli.json("app", "upload", tarballs("1.0.0"))
    assert cli.json("helm-override-list", "--app", "demo") == [
        {"chart name": "demo-api", "overrides namespaces": ["demo"]}
    ]
    updated = cli.json(
        "helm-override-update", "demo-api", "demo", "--app", "demo", "--set", "replicas=2"
    )
    assert updated["user_overrides"] == "replicas: 2\n"
    shown = cli.json("helm-override-show", "demo-api", "demo", "--app", "demo")
    assert (shown["user_overrides"], shown["combined_overrides"]) == (
        "replicas: 2\n",
        "replicas: 2\n",
    )
    cli.ok("helm-override-delete", "demo-api", "demo", "--app", "demo")
    cli.fail(
        "helm-override-show",
        "demo-api",
        "demo",
        "--app",
        "nope",
        message="Application nope not found",
    )
