"""``POST /v1.0/subclouds/bulk``: many subclouds in one request, all or none; and
``dcmanager subcloud add-many``."""

import json

import pytest

from dcmanager.db import api as db_api
from tests.functional import strategy_helpers as sh

BULK = "/v1.0/subclouds/bulk"


def _fleet(count: int, prefix: str = "sc") -> list[dict]:
    return [{"name": f"{prefix}{i}", "endpoint": f"simulated://{prefix}{i}"} for i in range(count)]


def _names(api) -> list[str]:
    return [sc["name"] for sc in api.get("/v1.0/subclouds").json["subclouds"]]


def test_a_fleet_is_registered_in_one_request_in_order(api):
    answer = api.post_json(
        BULK,
        {
            "subclouds": _fleet(3)
            + [
                {
                    "name": "x",
                    "endpoint": "simulated://x",
                    "group": "Default",
                    "description": "edge",
                }
            ]
        },
    ).json

    assert [sc["name"] for sc in answer["subclouds"]] == ["sc0", "sc1", "sc2", "x"]
    assert {sc["management-state"] for sc in answer["subclouds"]} == {"unmanaged"}
    assert answer["subclouds"][3]["description"] == "edge"
    assert _names(api) == ["sc0", "sc1", "sc2", "x"]


def test_managed_at_once_the_audit_brings_them_online(api, roles):
    api.post_json(BULK, {"subclouds": _fleet(2), "manage": True})

    for name in ("sc0", "sc1"):
        sh.wait_subcloud(api, name, lambda sc: sc["availability-status"] == "online", "online")
        assert api.get(f"/v1.0/subclouds/{name}").json["management-state"] == "managed"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "subclouds required: a list of 1 to 5000 subclouds to register"),
        ({"subclouds": []}, "subclouds required: a list of 1 to 5000 subclouds to register"),
        ({"subclouds": "sc0"}, "subclouds required: a list of 1 to 5000 subclouds to register"),
        (
            {"subclouds": _fleet(5001)},
            "subclouds required: a list of 1 to 5000 subclouds to register",
        ),
        ({"subclouds": [*_fleet(2), "sc9"]}, "subclouds[2]: must be an object"),
        (
            {"subclouds": [*_fleet(2), {"name": "sc9"}]},
            "subclouds[2]: endpoint required",
        ),
        (
            {"subclouds": [*_fleet(2), {"name": "sc0", "endpoint": "simulated://y"}]},
            "subclouds[2]: name 'sc0' is given already by subclouds[0]",
        ),
        (
            {"subclouds": _fleet(2), "manage": "maybe"},
            "Invalid value 'maybe' for manage - must be True/False or 'true'/'false'",
        ),
    ],
)
def test_a_bad_fleet_is_refused_and_nothing_is_registered(api, body, message):
    answer = api.post_json(BULK, body, status=400).json

    assert answer["message"] == message
    assert _names(api) == []


def test_a_fleet_with_a_registered_name_registers_nothing(api):
    api.post_json("/v1.0/subclouds", {"name": "sc1", "endpoint": "simulated://sc1"})

    answer = api.post_json(BULK, {"subclouds": _fleet(3)}, status=409).json

    assert answer["message"] == (
        "1 of these subclouds exist already (by name or region-name): sc1: nothing was registered"
    )
    assert _names(api) == ["sc1"]


def test_a_taken_region_is_named_by_the_entry_that_gives_it(api):
    api.post_json(
        "/v1.0/subclouds", {"name": "old", "endpoint": "simulated://o", "region-name": "r1"}
    )
    fleet = [*_fleet(2), {"name": "new", "endpoint": "simulated://n", "region-name": "r1"}]

    answer = api.post_json(BULK, {"subclouds": fleet}, status=409).json

    assert answer["message"] == (
        "1 of these subclouds exist already (by name or region-name): new: nothing was registered"
    )


def test_add_many_sends_the_file_in_batches(cli, api, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(json.dumps(_fleet(5)))

    result = cli.run("subcloud", "add-many", str(path), "--batch", "2", "--manage")

    assert result.rc == 0, result
    assert result.out.strip() == "Registered 5 subclouds in 3 request(s)."
    assert _names(api) == [f"sc{i}" for i in range(5)]
    assert {sc.management_state for sc in db_api.subcloud_get_all()} == {"managed"}


def test_add_many_says_what_was_registered_before_a_refused_batch(cli, api, tmp_path):
    api.post_json("/v1.0/subclouds", {"name": "sc3", "endpoint": "simulated://sc3"})
    path = tmp_path / "fleet.yaml"
    path.write_text(
        "\n".join(f"- {{name: sc{i}, endpoint: 'simulated://sc{i}'}}" for i in range(5))
    )

    result = cli.run("subcloud", "add-many", str(path), "--batch", "2")

    assert result.rc != 0
    assert "subclouds 3 to 4 of the file; the 2 before them are registered" in result.err
    assert sorted(_names(api)) == ["sc0", "sc1", "sc3"]


def test_add_many_refuses_a_file_that_is_not_a_list(cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text("name: sc1\n")

    result = cli.run("subcloud", "add-many", str(path))

    assert result.rc != 0
    assert "must hold a list of subclouds" in result.err


def test_a_body_above_its_limit_is_refused_unread(api, conf):
    conf.set_override("max_bulk_bytes", 2048, group="api")
    try:
        answer = api.post_json(BULK, {"subclouds": _fleet(100)}, status=413).json
    finally:
        conf.clear_override("max_bulk_bytes", group="api")

    assert (
        answer["message"] == "A bulk registration is limited to [api] max_bulk_bytes (2048 bytes)"
    )
    assert _names(api) == []


def test_bulk_is_no_subclouds_name(api):
    answer = api.post_json(
        "/v1.0/subclouds", {"name": "bulk", "endpoint": "simulated://bulk"}, status=400
    ).json

    assert answer["message"] == "Invalid subcloud name 'bulk': reserved for /v1.0/subclouds/bulk"
    # Only POST is served there: no subcloud is shown, changed or deleted by that name.
    for method in ("get", "patch_json", "delete"):
        answer = getattr(api, method)(BULK, status=405)
        assert answer.headers["Allow"] == "POST"


def test_the_list_pages_by_id(api):
    api.post_json(BULK, {"subclouds": _fleet(5)})

    first = api.get("/v1.0/subclouds?limit=2").json["subclouds"]
    rest = api.get(f"/v1.0/subclouds?limit=10&marker={first[-1]['id']}").json["subclouds"]

    assert [sc["name"] for sc in first + rest] == [f"sc{i}" for i in range(5)]
    assert api.get("/v1.0/subclouds?limit=10001", status=400).json["message"] == (
        "Invalid limit '10001': must be an integer from 1 to 10000"
    )


def test_the_cli_lists_every_subcloud_a_page_at_a_time(cli, api, monkeypatch):
    from dcmanager.cli import subcloud

    monkeypatch.setattr(subcloud, "PAGE", 2)
    api.post_json(BULK, {"subclouds": _fleet(5)})

    rows = cli.json("subcloud", "list")

    assert [row["name"] for row in rows] == [f"sc{i}" for i in range(5)]


def test_the_cli_lists_every_step_a_page_at_a_time(cli, api, conf, monkeypatch):
    from dcmanager.cli import strategy_step

    monkeypatch.setattr(strategy_step, "STEPS_PAGE", 2)
    for name in ("a", "b", "c", "d", "e"):
        sh.register(api, name)
    sh.audit_once(conf)
    sh.create(api)

    rows = cli.json("strategy-step", "list")

    assert [row["cloud"] for row in rows] == ["a", "b", "c", "d", "e"]
