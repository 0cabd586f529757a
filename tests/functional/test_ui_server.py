"""What the dashboard needs of the server, through the real app (noauth): its files
under ``/ui/``, its login, the strategy's summary, the subclouds changed since a time,
and conditional GETs. (Keystone login: ``tests/e2e/test_ui_browser.py``.)"""

import datetime

import pytest
import webtest
from oslo_utils import timeutils
from sqlalchemy import update

from dcmanager.api import body as api_body
from dcmanager.api import ui
from dcmanager.db import api as db_api
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models
from dcmanager.drivers import simulator
from tests.functional import strategy_helpers as sh
from tests.functional.test_cli import closed_port

SUMMARY = f"{sh.STRATEGY}/summary"


def test_the_page_and_its_files_are_served(api):
    page = api.get("/ui/")
    assert page.content_type == "text/html"
    assert '<script type="module" src="app.js">' in page.text
    assert page.headers["Cache-Control"] == "no-cache"
    for name, kind in (("app.js", "text/javascript"), ("fleet.js", "text/javascript")):
        assert api.get(f"/ui/{name}").content_type == kind
    assert api.get("/ui/app.css").content_type == "text/css"
    assert api.get("/ui", status=301).headers["Location"].endswith("/ui/")


@pytest.mark.parametrize("path", ["/ui/nothing.js", "/ui/../__init__.py", "/ui/%2e%2e/__init__.py"])
def test_nothing_outside_the_files_is_served(api, path):
    answer = api.get(path, expect_errors=True)
    assert answer.status_int in (403, 404)
    assert answer.json["code"] == answer.status_int


def test_the_files_are_read_only(api):
    refused = api.post("/ui/app.js", b"x", status=405)
    assert refused.json["code"] == 405


def test_noauth_logout_has_nothing_to_revoke(api):
    assert api.delete("/ui/login", status=204).body == b""


def test_noauth_login_gives_an_admin_every_action(api):
    assert api.get("/ui/config").json == {"auth": "noauth"}

    session = api.post_json("/ui/login", {}).json

    assert session["token"] == "noauth"
    assert session["user"] == "admin"
    assert session["allowed"] == {action: True for action in ui.ACTIONS}
    assert api.get("/ui/login", status=405).json["code"] == 405


def test_the_summary_counts_the_steps_without_listing_them(api, roles):
    assert api.get(SUMMARY, status=404).json["code"] == 404
    sh.add_subclouds(api, ["sc1", "sc2"])
    sh.add_subclouds(api, ["sc3"], options="fail=precheck")
    sh.create(api)

    summary = api.get(SUMMARY).json

    assert summary["strategy"]["state"] == "initial"
    assert summary["step-counts"] == {"initial": 3}
    assert summary["transfers"] == {"bytes-done": 0, "bytes-total": 0, "bytes-moved": 0}
    sh.apply(api)
    sh.wait_final(api)
    summary = api.get(SUMMARY).json
    assert summary["strategy"]["state"] == "failed"
    assert summary["step-counts"] == {"complete": 2, "failed": 1}
    # Both completed sites received a whole release; the failed one nothing.
    assert summary["transfers"] == {
        "bytes-done": 0,
        "bytes-total": 0,
        "bytes-moved": 2 * simulator.RELEASE_BYTES,
    }


def test_the_summary_adds_the_running_transfers_to_the_bytes_moved(api, roles):
    sh.add_subclouds(api, ["sc1"], "delay=1")
    sh.create(api)
    sh.apply(api)

    # Half-way through its images, sc1 has moved all of its packages and part of them.
    summary = sh.wait_for(
        lambda: (
            (found := api.get(SUMMARY).json)["step-counts"] == {"prestaging-images": 1}
            and found["transfers"]["bytes-done"] > 0
            and found
        ),
        what="images under way",
    )
    transfers = summary["transfers"]
    assert transfers["bytes-total"] == simulator.IMAGES_BYTES
    assert transfers["bytes-moved"] == simulator.PACKAGES_BYTES + transfers["bytes-done"]
    sh.wait_final(api)


def test_a_retried_step_counts_the_content_it_put_in_place_once(api, roles):
    # Attempt 1 passes its packages, then fails in its images; attempt 2 passes both.
    sh.add_subclouds(api, ["sc1"], options="fail=images")
    sh.create(api, retry={"attempts": 2, "initial-interval": 0.1})
    sh.apply(api)
    sh.wait_step(api, "sc1", lambda s: s["attempt"] == 2, "the second attempt")
    sh.set_options(api, "sc1")

    assert sh.wait_final(api)["state"] == "complete"
    summary = api.get(SUMMARY).json
    assert sh.steps(api)["sc1"]["history"][0]["details"].startswith("prestaging-images")
    assert summary["transfers"]["bytes-moved"] == simulator.RELEASE_BYTES


def test_a_json_get_answers_304_while_its_answer_is_the_same(api):
    first = api.get("/v1.0/subcloud-groups")
    etag = first.headers["ETag"]

    again = api.get("/v1.0/subcloud-groups", headers={"If-None-Match": etag}, status=304)

    assert again.body == b""
    api.post_json("/v1.0/subcloud-groups", {"name": "edge", "description": "d"})
    changed = api.get("/v1.0/subcloud-groups", headers={"If-None-Match": etag})
    assert changed.headers["ETag"] != etag
    assert [group["name"] for group in changed.json["subcloud_groups"]] == ["Default", "edge"]


def _add(api, name: str) -> None:
    api.post_json("/v1.0/subclouds", {"name": name, "endpoint": f"simulated://{name}"})


def _changed_since(api, since: str) -> list[str]:
    return [
        sc["name"]
        for sc in api.get("/v1.0/subclouds", params={"changed-since": since}).json["subclouds"]
    ]


def test_changed_since_answers_only_what_changed_and_when_to_ask_next(api, conf):
    _add(api, "old")
    _add(api, "other")
    # Registered a day ago and never changed since.
    day_ago = timeutils.utcnow() - datetime.timedelta(days=1)
    with session.writer() as db:
        db.execute(update(models.Subcloud).values(created_at=day_ago, updated_at=None))
    hour_ago = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).isoformat()
    assert _changed_since(api, hour_ago) == []

    everything = api.get("/v1.0/subclouds?changed-since=1970-01-01T00:00:00Z").json
    assert [sc["name"] for sc in everything["subclouds"]] == ["old", "other"]
    # The next question reaches back [api] changes_overlap before the answer.
    since = datetime.datetime.fromisoformat(everything["next-changed-since"])
    behind = datetime.datetime.now(datetime.UTC) - since
    assert behind >= datetime.timedelta(seconds=conf.api.changes_overlap)

    db_api.subcloud_update(db_api.subcloud_get("old").id, {"description": "changed"})
    assert _changed_since(api, hour_ago) == ["old"]  # changed
    _add(api, "new")
    assert _changed_since(api, hour_ago) == ["old", "new"]  # and registered
    # Without changed-since the list is as StarlingX's client expects it.
    assert list(api.get("/v1.0/subclouds").json) == ["subclouds"]


@pytest.mark.parametrize("value", ["yesterday", "0001-01-01T00:00:00+01:00"])
def test_a_bad_changed_since_is_a_400(api, value):
    refused = api.get("/v1.0/subclouds", params={"changed-since": value}, status=400).json
    assert refused["message"] == (
        f"Invalid changed-since '{value}': must be an ISO 8601 time (e.g. 2026-12-24T22:00:00Z)"
    )


def test_the_page_may_run_only_its_own_scripts(api):
    page = api.get("/ui/")
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self'
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def keystone_down(conf):
    """The dashboard's own calls in keystone mode, with Keystone not answering."""
    from keystonemiddleware import auth_token  # noqa: F401 - registers [keystone_authtoken]

    conf.set_override("auth_strategy", "keystone")
    conf.set_override(
        "www_authenticate_uri", f"http://127.0.0.1:{closed_port()}/v3", "keystone_authtoken"
    )
    yield webtest.TestApp(api_body.BodyGate(ui.UiDispatcher(_no_api, conf), conf))
    conf.clear_override("www_authenticate_uri", "keystone_authtoken")
    conf.clear_override("auth_strategy")


def _no_api(environ, start_response):
    raise AssertionError("the dashboard's own calls never reach the API")


def test_a_login_without_its_fields_is_a_400(keystone_down):
    for body in ({}, {"username": "u", "password": "p"}, {"username": 1, "password": "p"}):
        refused = keystone_down.post_json("/ui/login", body, status=400)
        assert refused.json["message"] == "username, password and project are required"
    bad = {"username": "u", "password": "p", "project": "x", "domain": 3}
    assert keystone_down.post_json("/ui/login", bad, status=400).json["message"] == (
        "domain must be a string"
    )


def test_a_login_or_logout_with_keystone_unreachable_is_a_503(keystone_down):
    login = {"username": "u", "password": "p", "project": "x"}

    refused = keystone_down.post_json("/ui/login", login, status=503)
    logout = keystone_down.delete("/ui/login", headers={"X-Auth-Token": "t"}, status=503)

    assert refused.json["message"].startswith("Keystone could not be reached (http://127.0.0.1")
    assert logout.json["message"] == refused.json["message"]


def test_a_logout_names_the_token_it_needs(keystone_down):
    refused = keystone_down.delete("/ui/login", status=400)

    assert refused.json["message"] == "X-Auth-Token (the token to revoke) is required"
