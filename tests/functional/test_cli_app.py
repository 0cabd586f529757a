"""``dcmanager app ...`` against the real API served over HTTP."""

import pytest

from tests import apps
from tests.functional.test_cli import CLI


@pytest.fixture
def cli(live_api, capsys) -> CLI:
    return CLI(capsys, f"{live_api}/v1.0")


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
