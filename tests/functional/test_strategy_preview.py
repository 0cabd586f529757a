"""A plan preview: ``POST /sw-update-strategy?dry_run=true`` answers what create would
do and stores nothing."""

import pytest

from tests.functional import strategy_helpers as sh

PREVIEW = f"{sh.STRATEGY}?dry_run=true"


def _online(api, conf, names, options: str = "") -> None:
    for name in names:
        sh.register(api, name, options)
    sh.audit_once(conf)


def test_a_preview_shows_the_steps_and_what_each_site_still_needs(api, conf, db):
    _online(api, conf, ["sc1", "sc2"])
    _online(api, conf, ["held"], "prestaged=25.09")
    _online(api, conf, ["off"], "offline=true")
    release = api.get("/v1.0/releases/25.09").json
    before = sh.db_rows(db)

    plan = api.post_json(
        PREVIEW, {"type": "prestage", "release": "25.09", "max-failures": "50%"}
    ).json

    assert plan["dry-run"] is True
    assert plan["type"] == "prestage"
    assert plan["extra-args"]["failure-budget"] == 1  # 50% of the 3 steps that would run
    assert [(s["cloud"], s["state"], s["details"]) for s in plan["steps"]] == [
        ("sc1", "initial", None),
        ("sc2", "initial", None),
        ("held", "initial", None),
        ("off", "skipped", "Subcloud is offline."),
    ]
    moved = {s["cloud"]: (s["bytes-to-move"], s["images-to-move"]) for s in plan["steps"]}
    whole = (release["bytes"], release["image-count"])
    assert moved == {"sc1": whole, "sc2": whole, "held": (0, 0), "off": (0, 0)}
    assert plan["totals"] == {
        "in-scope": 4,
        "to-run": 3,
        "skipped": 1,
        "bytes-to-move": 2 * release["bytes"],
        "images-to-move": 2 * release["image-count"],
    }
    # Nothing was stored.
    assert sh.db_rows(db) == before
    api.get(sh.STRATEGY, status=404)


def test_a_preview_needs_no_password_but_checks_one_given(api, conf):
    _online(api, conf, ["sc1"])

    answer = api.post_json(
        PREVIEW, {"type": "prestage", "sysadmin_password": "not base64!"}, status=400
    ).json

    assert answer["message"].startswith("Failed to decode subcloud sysadmin_password")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "?dry_run=maybe",
            "Invalid value 'maybe' for dry_run - must be True/False or 'true'/'false'",
        )
    ],
)
def test_a_bad_dry_run_value_is_refused(api, conf, query, message):
    _online(api, conf, ["sc1"])

    answer = api.post_json(
        sh.STRATEGY + query, {"type": "prestage", "sysadmin_password": sh.PASSWORD}, status=400
    ).json

    assert answer["message"] == message
    api.get(sh.STRATEGY, status=404)


def test_a_preview_answers_as_create_would_when_a_strategy_exists(api, conf):
    _online(api, conf, ["sc1"])
    sh.create(api)

    answer = api.post_json(PREVIEW, {"type": "prestage"}, status=409).json

    assert answer["message"] == "Strategy of type: 'prestage' already exists"


def test_dry_run_false_creates(api, conf):
    _online(api, conf, ["sc1"])

    created = api.post_json(
        f"{sh.STRATEGY}?dry_run=false", {"type": "prestage", "sysadmin_password": sh.PASSWORD}
    ).json

    assert created["state"] == "initial"
    assert api.get(sh.STRATEGY).json["id"] == created["id"]
