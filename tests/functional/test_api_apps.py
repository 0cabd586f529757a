"""The application catalog through the API: upload, list, show, choose, delete, and
SemVer's rules (order, latest, equal precedence)."""

import pytest

from dcmanager.db import apps as db_apps
from tests import apps

APPS = "/v1.0/apps"
TARBALL = "application/octet-stream"


def upload(api, data: bytes, status: int = 201, query: str = "", content_type: str = TARBALL):
    return api.post(
        f"{APPS}{query}", data, content_type=content_type, status=status, expect_errors=True
    ).json


def test_upload_show_choose_delete(api):
    created = upload(
        api,
        apps.app_tarball(
            charts=(("demo-api", "0.1.0"),),
            metadata={
                "images": ["registry.local:9001/stx/demo:1.0.0"],
                "upgradable": False,
                "phases": {"uninstall": {"values": {"a": 1}, "hooks": ["drop-database"]}},
            },
        ),
    )

    assert {k: v for k, v in created.items() if k not in ("md5", "created-at")} == {
        "name": "demo",
        "version": "1.0.0",
        "semver": True,
        "prerelease": False,
        "charts": [
            {"name": "demo-api", "version": "0.1.0", "namespace": "demo", "release": "demo-api"}
        ],
        "images": ["registry.local:9001/stx/demo:1.0.0"],
        "upgradable": False,
        "phases": {"uninstall": {"values": {"a": 1}, "hooks": ["drop-database"]}},
    }
    assert api.get(APPS).json == {
        "apps": [{"name": "demo", "latest": "1.0.0", "versions": [created]}]
    }
    assert api.get(f"{APPS}/demo").json == {
        "name": "demo",
        "latest": "1.0.0",
        "versions": [created],
    }
    assert api.get(f"{APPS}/demo/versions/latest").json == created
    assert api.get(f"{APPS}/demo/versions/1.0.0").json == created

    api.delete(f"{APPS}/demo/versions/1.0.0", status=204)
    assert api.get(APPS).json == {"apps": []}
    answer = api.get(f"{APPS}/demo", expect_errors=True)
    assert (answer.status_int, answer.json["message"]) == (404, "Application demo not found")


def test_versions_in_semver_order_and_latest(api):
    for version in ("1.10.0", "1.9.9", "2.0.0-rc.1", "1.0-13", "1.9.10+build.3"):
        upload(api, apps.app_tarball(version=version))

    shown = api.get(f"{APPS}/demo").json

    assert [v["version"] for v in shown["versions"]] == [
        "1.9.9",
        "1.9.10+build.3",
        "1.10.0",
        "2.0.0-rc.1",
        "1.0-13",
    ]
    assert shown["latest"] == "1.10.0"
    assert [(v["semver"], v["prerelease"]) for v in shown["versions"]][-2:] == [
        (True, True),
        (False, False),
    ]
    prerelease = api.get(f"{APPS}/demo/versions/latest?include_prerelease=true").json
    assert prerelease["version"] == "2.0.0-rc.1"
    assert api.get(f"{APPS}/demo/versions/1.0-13").json["version"] == "1.0-13"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nosuch/versions/latest", "Application nosuch not found"),
        ("demo/versions/1.9", "Application demo has no version 1.9"),
        ("demo/versions/2.0.0", "Application demo has no version 2.0.0"),
    ],
)
def test_three_distinct_misses(api, path, message):
    upload(api, apps.app_tarball(version="1.9.9"))
    answer = api.get(f"{APPS}/{path}", expect_errors=True)
    assert (answer.status_int, answer.json["message"]) == (404, message)


def test_no_semver_version_to_be_latest(api):
    upload(api, apps.app_tarball(version="1.0-13"))
    upload(api, apps.app_tarball(version="3.0.0-beta"))

    answer = api.get(f"{APPS}/demo/versions/latest", expect_errors=True)

    assert answer.status_int == 404
    assert answer.json["message"] == (
        "Application demo has no SemVer release (not pre-release) version to be latest"
    )


def test_a_version_of_the_same_precedence_is_refused(api):
    upload(api, apps.app_tarball(version="1.0.0+build.1"))

    answer = upload(api, apps.app_tarball(version="1.0.0+build.2"), status=409)

    assert answer["message"] == (
        "Application demo version 1.0.0+build.2 has the same precedence as its version "
        "1.0.0+build.1 (they differ only in build metadata): latest would not be one version"
    )
    assert [r.version for r in db_apps.app_versions("demo")] == ["1.0.0+build.1"]
    answer = upload(api, apps.app_tarball(version="1.0.0+build.1"), status=409)
    assert answer["message"] == "Application demo already has version 1.0.0+build.1"


def test_the_upload_names_what_the_metadata_lacks(api):
    created = upload(api, apps.app_tarball(None, None), query="?name=bare&version=24.09-1")
    assert (created["name"], created["version"], created["semver"]) == ("bare", "24.09-1", False)

    answer = upload(api, apps.app_tarball(), status=400, query="?version=9.9.9")
    assert answer["message"] == (
        "Invalid application tarball: its metadata says app_version '1.0.0', "
        "the upload says '9.9.9'"
    )


@pytest.mark.parametrize(
    ("data", "content_type", "status", "message"),
    [
        (b"", TARBALL, 400, "Body required"),
        (b"garbage", TARBALL, 400, "Invalid application tarball: not a gzipped tar archive"),
        (b"{}", "application/json", 400, "An application tarball is sent as one of"),
    ],
)
def test_refused_uploads_keep_nothing(api, data, content_type, status, message):
    answer = upload(api, data, status=status, content_type=content_type)
    assert message in answer["message"]
    assert db_apps.app_versions() == []


def test_a_tarball_over_the_limit_is_413(api, conf):
    conf.set_override("max_tarball_bytes", 100, group="apps")
    try:
        answer = upload(api, apps.app_tarball(), status=413)
    finally:
        conf.clear_override("max_tarball_bytes", group="apps")
    assert (
        answer["message"]
        == "An application tarball is limited to [apps] max_tarball_bytes (100 bytes)"
    )


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", APPS, "GET, POST"),
        ("DELETE", f"{APPS}/demo", "GET"),
        ("PATCH", f"{APPS}/demo/versions/1.0.0", "GET, DELETE"),
        ("POST", f"{APPS}/demo/versions/1.0.0", "GET, DELETE"),
    ],
)
def test_other_methods_are_405_with_what_the_path_serves(api, method, path, allowed):
    answer = api.request(path, method=method, expect_errors=True)
    assert (answer.status_int, answer.headers["Allow"]) == (405, allowed)
