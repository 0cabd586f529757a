"""Applications at the sites (seed 000) through the real API and every engine role
in-process, on simulated subclouds: apply, update (apply or rollback), cleanup,
recover, remove, delete, and every refusal with its message."""

import pytest

from tests import apps
from tests.functional import strategy_helpers as sh

APPS = "/v1.0/apps"
FINAL = ("applied", "apply-failed", "uploaded", "upload-failed", "remove-failed")


def site(name: str) -> str:
    return f"/v1.0/subclouds/{name}/apps"


def upload(api, version: str, charts=(("demo-api", "0.1.0"),), metadata=None) -> dict:
    data = apps.app_tarball(version=version, charts=charts, metadata=metadata)
    return api.post(APPS, data, content_type="application/octet-stream").json


def operate(api, subcloud: str, status: int = 202, name: str = "demo", **body):
    return api.post_json(f"{site(subcloud)}/{name}", body, status=status, expect_errors=True).json


def settled(api, subcloud: str, name: str = "demo") -> dict:
    """The site's record of the application once its operation ended (the
    manager deletes the step; the record is what stays)."""
    return sh.wait_for(
        lambda: (
            (app := api.get(f"{site(subcloud)}/{name}").json)["status"] in FINAL
            and not app["operation"]
            and app
        ),
        what=f"{name} at {subcloud} to settle",
    )


def ledger(app: dict) -> dict[str, int]:
    return {entry["release"]: entry["revision"] for entry in app["releases"]}


@pytest.fixture
def catalog(api):
    """Versions 1.0.0 (one chart), 1.1.0 (two charts) and 2.0.0 (one chart)."""
    upload(api, "1.0.0")
    upload(api, "1.1.0", charts=(("demo-api", "0.2.0"), ("demo-db", "0.1.0")))
    upload(api, "2.0.0", charts=(("demo-api", "0.3.0"),))
    return api


def test_apply_update_back_again_remove_delete(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["dx"], "system_mode=duplex")

    operate(api, "dx", action="apply", version="1.0.0")
    app = settled(api, "dx")
    assert (app["version"], app["status"], app["progress"]) == ("1.0.0", "applied", None)
    assert app["phases"] == {"install": "done"}
    assert app["releases"] == [
        {
            "release": "demo-api",
            "namespace": "demo",
            "chart": "demo-api",
            "chart_version": "0.1.0",
            "revision": 1,
        }
    ]

    # More charts: apply (never applied here); the old version is kept inactive.
    operate(api, "dx", action="update", version="1.1.0")
    app = settled(api, "dx")
    assert (app["version"], app["status"]) == ("1.1.0", "applied")
    assert ledger(app) == {"demo-api": 2, "demo-db": 1}
    assert app["phases"] == dict.fromkeys(
        ("trafficdrain", "upgrade", "test", "trafficrollout"), "done"
    )
    assert app["inactive"] == [
        {
            "version": "1.0.0",
            "releases": [
                {
                    "release": "demo-api",
                    "namespace": "demo",
                    "chart": "demo-api",
                    "chart_version": "0.1.0",
                    "revision": 1,
                }
            ],
        }
    ]

    # Back to 1.0.0, which the site ran before: a rollback (duplex), fewer charts.
    operate(api, "dx", action="update", version="1.0.0")
    app = settled(api, "dx")
    assert (app["version"], app["status"]) == ("1.0.0", "applied")
    assert ledger(app) == {"demo-api": 3}
    assert "rollback" in app["phases"]
    assert [entry["version"] for entry in app["inactive"]] == ["1.1.0"]

    operate(api, "dx", action="update", version="latest")
    assert settled(api, "dx")["version"] == "2.0.0"

    operate(api, "dx", action="remove")
    app = settled(api, "dx")
    assert (app["status"], app["releases"], app["phases"]) == (
        "uploaded",
        [],
        {"uninstall": "done"},
    )
    api.delete(f"{site('dx')}/demo", status=204)
    assert api.get(site("dx")).json == {"apps": []}


def test_a_simplex_site_always_applies(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["sx"])
    operate(api, "sx", action="apply", version="1.0.0")
    settled(api, "sx")
    operate(api, "sx", action="update", version="1.1.0")
    settled(api, "sx")
    operate(api, "sx", action="update", version="1.0.0")
    app = settled(api, "sx")
    assert app["version"] == "1.0.0"
    assert "rollback" not in app["phases"] and "upgrade" in app["phases"]


@pytest.mark.parametrize(
    ("fail", "status", "progress"),
    [
        (
            "app-upload",
            "applied",
            "update to 1.1.0 failed at upload: simulated failure of the app-upload "
            "(fail=app-upload); still 1.0.0",
        ),
        (
            "app-apply",
            "applied",
            "update to 1.1.0 failed: simulated failure of the app-apply (fail=app-apply); "
            "recovered to 1.0.0",
        ),
        (
            "app-test",
            "applied",
            "update to 1.1.0 failed: the test phase failed (simulated: fail=app-test); "
            "recovered to 1.0.0",
        ),
        (
            "app-apply,app-recover",
            "apply-failed",
            "update to 1.1.0 failed: simulated failure of the app-apply (fail=app-apply); "
            "recovery failed: simulated failure of the app-recover (fail=app-recover)",
        ),
    ],
    ids=["upload", "apply", "test", "apply-and-recover"],
)
def test_a_failed_update_recovers_the_old_version(catalog, roles, fail, status, progress):
    api = catalog
    sh.add_subclouds(api, ["s1"])
    operate(api, "s1", action="apply", version="1.0.0")
    settled(api, "s1")
    sh.set_options(api, "s1", f"fail={fail}")

    operate(api, "s1", action="update", version="1.1.0")
    app = settled(api, "s1")

    assert (app["version"], app["status"], app["progress"]) == ("1.0.0", status, progress)
    # The version that failed leaves no record behind.
    assert app["inactive"] == []
    if status == "apply-failed":
        # What 1.1.0 added may still run at the site: a removal will uninstall it.
        assert {e["release"]: e["revision"] for e in app["releases"]} == {
            "demo-api": 1,
            "demo-db": 0,
        }


def test_a_failed_cleanup_leaves_the_new_version_applied_with_a_note(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["s1"])
    operate(api, "s1", action="apply", version="1.1.0")
    settled(api, "s1")
    sh.set_options(api, "s1", "fail=app-cleanup")
    operate(api, "s1", action="update", version="2.0.0")
    app = sh.wait_for(
        lambda: (
            (a := api.get(f"{site('s1')}/demo").json)["progress"]
            and "cleanup" in a["progress"]
            and "failed" in a["progress"]
            and a
        ),
        what="the cleanup to fail",
    )
    assert (app["version"], app["status"]) == ("2.0.0", "applied")
    assert app["progress"] == (
        "applied; cleanup of version 1.1.0 failed: simulated failure of the app-cleanup "
        "(fail=app-cleanup)"
    )


def test_a_failed_first_apply_and_remove(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["s1"], "fail=app-apply,app-remove")
    operate(api, "s1", action="apply", version="1.0.0")
    app = settled(api, "s1")
    assert (app["status"], app["progress"]) == (
        "apply-failed",
        "simulated failure of the app-apply (fail=app-apply)",
    )
    operate(api, "s1", action="remove")
    assert settled(api, "s1")["status"] == "remove-failed"


def test_a_failed_rollback_recovers_the_version_it_ran(catalog, roles):
    """Back to a version the site ran (a rollback, duplex) fails: the version updated
    from is recovered, and the inactive record of the target stays inactive."""
    api = catalog
    sh.add_subclouds(api, ["dx"], "system_mode=duplex")
    operate(api, "dx", action="apply", version="1.0.0")
    settled(api, "dx")
    operate(api, "dx", action="update", version="1.1.0")
    settled(api, "dx")
    sh.set_options(api, "dx", "system_mode=duplex&fail=app-rollback")

    operate(api, "dx", action="update", version="1.0.0")
    app = settled(api, "dx")

    assert (app["version"], app["status"]) == ("1.1.0", "applied")
    assert app["progress"] == (
        "update to 1.0.0 failed: simulated failure of the app-rollback (fail=app-rollback); "
        "recovered to 1.1.0"
    )
    assert [entry["version"] for entry in app["inactive"]] == ["1.0.0"]


def test_releases_uninstalled_leave_the_inactive_ledgers(catalog, roles):
    """A removal uninstalls the releases, and their Helm history with them: the ledger
    of a version the site ran before forgets them, so updating back to it installs
    them afresh instead of rolling back to revisions that are no longer theirs."""
    api = catalog
    sh.add_subclouds(api, ["dx"], "system_mode=duplex")
    operate(api, "dx", action="apply", version="1.0.0")
    settled(api, "dx")
    operate(api, "dx", action="update", version="1.1.0")
    assert settled(api, "dx")["inactive"][0]["releases"] != []
    operate(api, "dx", action="remove")
    app = settled(api, "dx")
    assert app["inactive"] == [{"version": "1.0.0", "releases": []}]

    operate(api, "dx", action="apply")
    operate_after = settled(api, "dx")
    assert operate_after["status"] == "applied"
    operate(api, "dx", action="update", version="1.0.0")
    app = settled(api, "dx")
    assert (app["version"], app["status"]) == ("1.0.0", "applied")
    assert "rollback" not in app["phases"] and "upgrade" in app["phases"]
