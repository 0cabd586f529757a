"""What the dashboard needs of the server, through the real app (noauth): its files
under ``/ui/``, its login, the strategy's summary, the subclouds changed since a time,
and conditional GETs. (Keystone login: ``tests/e2e/test_ui_browser.py``.)"""

import datetime

import pytest

from dcmanager.api import ui
from dcmanager.db import api as db_api
from tests.functional import strategy_helpers as sh

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
    assert summary["transfers"] == {"bytes-done": 0, "bytes-total": 0}
    sh.apply(api)
    sh.wait_final(api)
    summary = api.get(SUMMARY).json
    assert summary["strategy"]["state"] == "failed"
    assert summary["step-counts"] == {"complete": 2, "failed": 1}


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


def test_changed_since_answers_only_what_changed_and_when_to_ask_next(api):
    _add(api, "old")
    everything = api.get("/v1.0/subclouds?changed-since=1970-01-01T00:00:00Z").json
    since = everything["next-changed-since"]
    assert [sc["name"] for sc in everything["subclouds"]] == ["old"]
    # The next question reaches back a little before the answer.
    answered = datetime.datetime.fromisoformat(since)
    assert datetime.datetime.now(datetime.UTC) - answered >= datetime.timedelta(seconds=5)

    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    assert (
        api.get(f"/v1.0/subclouds?changed-since={later.isoformat()}".replace("+", "%2B")).json[
            "subclouds"
        ]
        == []
    )
    _add(api, "new")
    db_api.subcloud_update(db_api.subcloud_get("old").id, {"description": "changed"})

    changed = api.get("/v1.0/subclouds", params={"changed-since": since}).json
    assert [sc["name"] for sc in changed["subclouds"]] == ["old", "new"]
    # Without changed-since the list is as StarlingX's client expects it.
    assert list(api.get("/v1.0/subclouds").json) == ["subclouds"]


def test_a_bad_changed_since_is_a_400(api):
    refused = api.get("/v1.0/subclouds?changed-since=yesterday", status=400).json
    assert refused["message"] == (
        "Invalid changed-since 'yesterday': must be an ISO 8601 time (e.g. 2026-12-24T22:00:00Z)"
    )
