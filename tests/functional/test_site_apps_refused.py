"""What an operation on a site's application refuses (seeds 000 and 004), through the
real API with no engine role running (nothing moves by itself): each refusal has its
status and message and changes nothing (the races are in
``tests/unit/test_db_site_apps.py``)."""

import pytest
from sqlalchemy import select

from dcmanager.common import config
from dcmanager.db import api as db_api
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models
from tests import apps
from tests.functional import strategy_helpers as sh

APPS = "/v1.0/apps"


def upload(api, version: str, metadata=None) -> None:
    data = apps.app_tarball(version=version, metadata=metadata)
    api.post(APPS, data, content_type="application/octet-stream")


def put(subcloud: str, version: str, status: str, name: str = "demo") -> None:
    """Give a site a record of the application, as an operation would have left it."""
    subcloud_id = db_api.subcloud_get(subcloud).id
    ledger = [
        {
            "release": f"{name}-api",
            "namespace": name,
            "chart": f"{name}-api",
            "chart_version": "0.1.0",
            "revision": 1,
        }
    ]
    with session.writer() as db:
        db.add(
            models.SubcloudApp(
                subcloud_id=subcloud_id,
                name=name,
                version=version,
                status=status,
                releases=ledger,
                phases={},
            )
        )


def records() -> list[tuple]:
    with session.reader() as db:
        rows = db.scalars(select(models.SubcloudApp).order_by(models.SubcloudApp.id)).all()
        return [(r.subcloud_id, r.name, r.version, r.status, r.progress) for r in rows]


def step_rows() -> int:
    with session.reader() as db:
        return len(db.scalars(select(models.StrategyStep)).all())


def refused(api, subcloud: str, body, status: int, message: str, name: str = "demo") -> None:
    before = (records(), step_rows())
    resp = api.post_json(f"/v1.0/subclouds/{subcloud}/apps/{name}", body, expect_errors=True)
    sh.assert_error(resp, status, message)
    assert (records(), step_rows()) == before


@pytest.fixture
def site(api):
    upload(api, "1.0.0")
    upload(api, "1.1.0")
    upload(api, "2.0.0-rc.1")
    upload(api, "24.09-1")
    sh.register(api, "s1")
    return api


def test_the_catalog_and_the_site_must_have_it(site):
    refused(site, "s1", {"action": "apply"}, 404, "Application nope not found", name="nope")
    refused(
        site,
        "s1",
        {"action": "apply", "version": "9.9.9"},
        404,
        "Application demo has no version 9.9.9",
    )
    refused(
        site,
        "s1",
        {"action": "apply", "version": "1.0"},
        404,
        "Application demo has no version 1.0",
    )
    for action in ("update", "remove"):
        body = {"action": action, "version": "1.1.0"} if action == "update" else {"action": action}
        refused(site, "s1", body, 404, "Application demo not found at subcloud s1")
    refused(site, "nowhere", {"action": "apply"}, 404, "Subcloud not found")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"action": "upgrade"},
            "Invalid action 'upgrade': it must be one of apply, update, remove",
        ),
        ({"action": []}, "Invalid action []: it must be one of apply, update, remove"),
        ({"action": "update"}, "An update needs the version to update to (or 'latest')"),
        (
            {"action": "remove", "version": "1.0.0"},
            "A removal takes no version: it removes what the site runs",
        ),
        (
            {"action": "apply", "version": 1},
            "Invalid version: a version is a text of 1 to 64 characters",
        ),
        (
            {"action": "apply", "force": True},
            "Unknown field force: an operation has action, version, include_prerelease",
        ),
        (
            {"action": "apply", "include_prerelease": "maybe"},
            "Invalid value 'maybe' for include_prerelease - must be True/False or 'true'/'false'",
        ),
    ],
)
def test_malformed_operations(site, body, message):
    refused(site, "s1", body, 400, message)


def test_update_refusals_of_seeds_000_and_004(site):
    put("s1", "1.1.0", "applied")
    same = "Application demo at subcloud s1 cannot be updated: it is at version 1.1.0 already"
    refused(site, "s1", {"action": "update", "version": "1.1.0"}, 400, same)
    refused(site, "s1", {"action": "update", "version": "latest"}, 400, same)
    refused(
        site,
        "s1",
        {"action": "update", "version": "1.0.0"},
        400,
        "Application demo at subcloud s1 cannot be updated: version 1.0.0 is not newer than "
        "1.1.0 (an update may go back only to the version the site ran before, none)",
    )
    # A pre-release of a higher version is newer; a version that is not SemVer has no
    # order, so neither check applies to it.
    assert (
        site.post_json(
            "/v1.0/subclouds/s1/apps/demo", {"action": "update", "version": "24.09-1"}, status=202
        ).json["target-version"]
        == "24.09-1"
    )
    refused(
        site,
        "s1",
        {"action": "update", "version": "2.0.0-rc.1"},
        409,
        "Application demo at subcloud s1 is already updating",
    )
    refused(
        site,
        "s1",
        {"action": "remove"},
        409,
        "Application demo at subcloud s1 is already updating",
    )


def test_back_to_the_version_it_ran_before_is_no_downgrade(site):
    put("s1", "1.0.0", "inactive")
    put("s1", "1.1.0", "applied")
    resp = site.post_json(
        "/v1.0/subclouds/s1/apps/demo", {"action": "update", "version": "1.0.0"}, status=202
    )
    assert (resp.json["status"], resp.json["target-version"]) == ("updating", "1.0.0")


def test_a_version_that_is_not_upgradable_stays(api):
    upload(api, "1.0.0", metadata={"upgradable": False})
    upload(api, "1.1.0")
    sh.register(api, "s1")
    put("s1", "1.0.0", "applied")
    refused(
        api,
        "s1",
        {"action": "update", "version": "1.1.0"},
        400,
        "Application demo at subcloud s1 cannot be updated: its version 1.0.0 is not "
        "upgradable (upgradable: false)",
    )


@pytest.mark.parametrize("status", ["apply-failed", "uploaded", "remove-failed"])
def test_an_update_needs_it_applied(site, status):
    put("s1", "1.0.0", status)
    refused(
        site,
        "s1",
        {"action": "update", "version": "1.1.0"},
        409,
        f"Application demo at subcloud s1 is {status}: update needs it applied",
    )


def test_apply_and_remove_follow_the_status(site):
    put("s1", "1.0.0", "uploaded")
    refused(
        site,
        "s1",
        {"action": "remove"},
        409,
        "Application demo at subcloud s1 is uploaded: remove needs it applied or apply-failed "
        "or remove-failed",
    )
    refused(
        site,
        "s1",
        {"action": "apply", "version": "1.1.0"},
        409,
        "Application demo is at version 1.0.0 at subcloud s1, not 1.1.0: use update to "
        "change its version",
    )
    # Without a version, apply applies what the site holds.
    resp = site.post_json("/v1.0/subclouds/s1/apps/demo", {"action": "apply"}, status=202)
    assert (resp.json["version"], resp.json["status"]) == ("1.0.0", "applying")


def test_delete_from_a_site_only_when_nothing_is_applied(site):
    put("s1", "1.0.0", "applied")
    resp = site.delete("/v1.0/subclouds/s1/apps/demo", expect_errors=True)
    sh.assert_error(
        resp,
        409,
        "Application demo at subcloud s1 is applied: delete needs it remove-failed or "
        "upload-failed or uploaded",
    )
    sh.assert_error(
        site.delete("/v1.0/subclouds/s1/apps/nope", expect_errors=True),
        404,
        "Application nope not found at subcloud s1",
    )


def test_a_strategy_holds_its_sites(site):
    sh.register(site, "s2")
    sh.audit_once(config.CONF)
    sh.create(site, **{"cloud_name": "s1"})
    refused(site, "s1", {"action": "apply"}, 409, "Subcloud s1 is part of the current strategy")


def test_a_version_in_use_cannot_leave_the_catalog(site):
    put("s1", "1.0.0", "applied")
    put("s1", "1.1.0", "inactive")
    sh.assert_error(
        site.delete(f"{APPS}/demo/versions/1.0.0", expect_errors=True),
        409,
        "Application demo version 1.0.0 is in use at 1 subcloud(s) (held there, not "
        "inactive): it cannot be deleted",
    )
    # An inactive version is not in use (updating back to it uploads it again).
    site.delete(f"{APPS}/demo/versions/1.1.0", status=204)
