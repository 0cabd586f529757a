"""``/v1.0/subclouds`` through the real app and a migrated SQLite database.

Every rejected request is checked for its status, its exact message, and for leaving
everything a user can list exactly as it was.
"""

import datetime
import json
from http import HTTPStatus

import pytest
import webtest
from sqlalchemy import delete
from sqlalchemy import orm

from dcmanager.api import app as api_app
from dcmanager.db import api as db_api
from dcmanager.db.sqlalchemy import models
from tests import tallies as test_tallies

SUBCLOUDS = "/v1.0/subclouds"
GROUPS = "/v1.0/subcloud-groups"
SUBCLOUD_KEYS = {
    "id",
    "name",
    "description",
    "location",
    "software-version",
    "management-state",
    "availability-status",
    "deploy-status",
    "backup-status",
    "backup-datetime",
    "prestage-status",
    "prestage-versions",
    "prestage-software-version",
    "app-sync-status",
    "app-sync-details",
    "error-description",
    "region-name",
    "management-subnet",
    "management-start-ip",
    "management-end-ip",
    "management-gateway-ip",
    "systemcontroller-gateway-ip",
    "openstack-installed",
    "data_install",
    "data_upgrade",
    "group_id",
    "peer_group_id",
    "rehome_data",
    "sync_status",
    "endpoint_sync_status",
    "endpoint",
    "created-at",
    "updated-at",
}
# What dcmanager keeps nothing of: always the same.
UNKNOWN_FIELDS = {
    "backup-datetime": None,
    "openstack-installed": None,
    "data_install": None,
    "data_upgrade": None,
    "peer_group_id": None,
    "rehome_data": None,
    "sync_status": None,
    "endpoint_sync_status": [],
}
NO_NETWORK = {
    "management-subnet": None,
    "management-start-ip": None,
    "management-end-ip": None,
    "management-gateway-ip": None,
    "systemcontroller-gateway-ip": None,
}
SECRET = "S3cretPw"

NOT_FOUND = "Subcloud not found"
NOTHING_TO_UPDATE = "nothing to update"
ENDPOINT_INVALID = (
    "Invalid endpoint: must be a URL of at most 1024 characters with a scheme and a host "
    "or name, such as https://host:port or simulated://name"
)
REGION_INVALID = (
    "Invalid region-name: must be a non-empty string of at most 255 characters, "
    "without surrounding spaces"
)
GROUPS_EXCLUSIVE = "group_id and group are mutually exclusive"


def name_invalid(value) -> str:
    return (
        f"Invalid subcloud name '{value}': use up to 255 letters, digits, '-', '_' or '.', "
        "starting with a letter or digit, and not only digits"
    )


def text_invalid(field: str) -> str:
    return f"Invalid {field}: must be a string of at most 255 characters"


def version_invalid(value) -> str:
    return f"Invalid software-version '{value}'. Version format must be MM.mm."


def state_invalid(value) -> str:
    return f"Invalid management-state '{value}': must be 'managed' or 'unmanaged'"


def group_missing(field: str, ref) -> str:
    return f"Invalid {field}: subcloud group '{ref}' does not exist"


def assert_error(resp: webtest.TestResponse, status: int, message: str) -> None:
    assert resp.status_int == status, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json == {"code": status, "title": HTTPStatus(status).phrase, "message": message}


def snapshot(api: webtest.TestApp) -> dict:
    """Everything a user can list, to compare before and after a rejected request."""
    groups = api.get(GROUPS).json
    return {
        "subclouds": api.get(SUBCLOUDS).json,
        "groups": groups,
        "members": {
            group["id"]: api.get(f"{GROUPS}/{group['id']}/subclouds").json
            for group in groups["subcloud_groups"]
        },
    }


def body_of(name: str, **fields) -> dict:
    return {"name": name, "endpoint": f"simulated://{name}", **fields}


def create(api: webtest.TestApp, name: str, **fields) -> dict:
    return api.post_json(SUBCLOUDS, body_of(name, **fields)).json


def post_error(api, body, status, message):
    """POST ``body``, expect the error, and check that nothing changed."""
    before = snapshot(api)
    resp = api.post_json(SUBCLOUDS, body, expect_errors=True)
    assert_error(resp, status, message)
    assert snapshot(api) == before
    return resp


def patch_error(api, ref, body, status, message):
    """PATCH ``ref`` with ``body``, expect the error, and check that nothing changed."""
    before = snapshot(api)
    resp = api.patch_json(f"{SUBCLOUDS}/{ref}", body, expect_errors=True)
    assert_error(resp, status, message)
    assert snapshot(api) == before
    return resp


def delete_error(api, ref, status, message):
    before = snapshot(api)
    assert_error(api.delete(f"{SUBCLOUDS}/{ref}", expect_errors=True), status, message)
    assert snapshot(api) == before


def parse_timestamp(value: str) -> datetime.datetime:
    """An ISO 8601 timestamp in UTC."""
    stamp = datetime.datetime.fromisoformat(value)
    assert stamp.utcoffset() == datetime.timedelta(0), value
    return stamp


def without(subcloud: dict, *keys: str) -> dict:
    return {k: v for k, v in subcloud.items() if k not in keys}


def add_strategy_step(engine, subcloud_id: int, state: str = "initial") -> None:
    """A strategy in ``state`` with one step for the subcloud, written directly (the
    strategy API does not exist yet)."""
    with orm.Session(engine) as session, session.begin():
        strategy = models.Strategy(
            type="prestage",
            subcloud_apply_type="parallel",
            max_parallel_subclouds=2,
            stop_on_failure=False,
            state=state,
        )
        session.add(strategy)
        session.flush()
        session.add(
            models.StrategyStep(
                strategy_id=strategy.id, subcloud_id=subcloud_id, stage=1, state="initial"
            )
        )
    test_tallies.recount()


@pytest.fixture
def edge(api):
    """A group ``edge`` (id 2)."""
    return api.post_json(GROUPS, {"name": "edge"}).json


@pytest.fixture
def sc1(api, edge):
    """Subcloud ``sc1`` (id 1) with every optional field, in Default; group ``edge``
    exists and is empty."""
    return create(
        api,
        "sc1",
        description="First site",
        location="Ottawa",
        **{"software-version": "24.09", "region-name": "RegionSc1"},
    )


INVALID_NAMES = [
    "",
    " ",
    "-sc",
    "_sc",
    ".sc",
    "sc 1",
    " sc1",
    "sc1 ",
    "sc1\n",
    "sc/1",
    "sc@1",
    "sc:1",
    "sc?1",
    "sc#1",
    "sc%1",
    "scé",
    "sc١",
    "0",
    "123",
    "a" * 256,
    5,
    1.5,
    True,
    ["sc1"],
    {"name": "sc1"},
]
VALID_NAMES = ["a", "7a", "sc-1", "sc_1", "sc.example.com", "SC1", "1.0", "a" * 255, "x-"]

VALID_ENDPOINTS = [
    "simulated://sc1",
    "simulated://sc1?delay=5&fail=precheck",
    "http://host",
    "https://10.0.0.1:8443",
    "https://[fd00::1]:8443/v1",
    "https://host.example.com/path/to/agent",
    "HTTPS://HOST",
    "ansible://inventory-1",
    "https://" + "h" * (1024 - len("https://")),
]
INVALID_ENDPOINTS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("not a url", id="text"),
    pytest.param("host:8443", id="no-scheme-slashes"),
    pytest.param("//host", id="no-scheme"),
    pytest.param("https://", id="no-host"),
    pytest.param("https://:8443", id="port-only"),
    pytest.param("https:///path", id="path-only"),
    pytest.param("1https://host", id="bad-scheme"),
    pytest.param("ht tp://host", id="space-in-scheme"),
    pytest.param("https://host:99999", id="port-out-of-range"),
    pytest.param("https://host:abc", id="port-not-a-number"),
    pytest.param("https://[fd00::1", id="unclosed-ipv6"),
    pytest.param(" https://host", id="leading-space"),
    pytest.param("https://host ", id="trailing-space"),
    pytest.param("https://ho st", id="inner-space"),
    pytest.param("https://host\n", id="newline"),
    pytest.param("https://host\x00", id="nul"),
    pytest.param("https://host\x7f", id="del"),
    pytest.param("https://" + "h" * (1025 - len("https://")), id="1025-chars"),
    pytest.param(5, id="int"),
    pytest.param(True, id="bool"),
    pytest.param(["https://host"], id="list"),
    pytest.param({"url": "https://host"}, id="object"),
]
# Invalid endpoints carrying a password: the error must never show it.
INVALID_SECRET_ENDPOINTS = [
    f"https://admin:{SECRET}@host:99999",
    f"https://admin:{SECRET}@host:port",
    f"https://admin:{SECRET}@",
    f"https://admin:{SECRET}@ho st",
    f" https://admin:{SECRET}@host",
    f"https://admin:{SECRET}@host\n",
    f"admin:{SECRET}@host",
    f"https://admin:{SECRET}/x@host",
    f"https://admin:{SECRET}@host/" + "x" * 1024,
]
# (endpoint with a password, what every response shows instead)
MASKED_ENDPOINTS = [
    (f"https://admin:{SECRET}@host:8443/v1?x=1", "https://admin:***@host:8443/v1?x=1"),
    (f"https://admin:{SECRET}@host", "https://admin:***@host"),
    (f"https://admin:p@{SECRET}@host", "https://admin:***@host"),
    (f"https://:{SECRET}@host", "https://:***@host"),
    (f"https://admin:{SECRET}%40x@host", "https://admin:***@host"),
    (f"https://admin:{SECRET}@[fd00::1]:8443", "https://admin:***@[fd00::1]:8443"),
    (f"simulated://admin:{SECRET}@sc1?delay=1", "simulated://admin:***@sc1?delay=1"),
    (f"https://{SECRET}@host", "https://***@host"),
    (f"https://host/agent?token={SECRET}&x=1", "https://host/agent?token=***&x=1"),
    (f"https://sc1/agent?delay=1&password={SECRET}", "https://sc1/agent?delay=1&password=***"),
]

INVALID_TEXTS = [
    pytest.param("x" * 256, id="256-chars"),
    pytest.param("a\x00b", id="nul"),
    pytest.param(None, id="null"),
    pytest.param(5, id="int"),
    pytest.param(True, id="bool"),
    pytest.param(["x"], id="list"),
    pytest.param({}, id="object"),
]
VALID_TEXTS = ["", "x", "x" * 255, "Ottawa, ON — édge ✓"]

INVALID_STATES = ["", "Managed", "MANAGED", "manage", "online", " managed", None, 1, True, []]

INVALID_GROUP_REFS = [
    pytest.param({"group_id": 99}, group_missing("group_id", 99), id="group_id-99"),
    pytest.param({"group_id": "99"}, group_missing("group_id", 99), id="group_id-'99'"),
    pytest.param({"group_id": 0}, group_missing("group_id", 0), id="group_id-0"),
    pytest.param({"group_id": -1}, group_missing("group_id", -1), id="group_id--1"),
    pytest.param({"group_id": 10**30}, group_missing("group_id", 10**30), id="group_id-huge"),
    # A name is a reference too (StarlingX's client sends --group NAME as group_id).
    pytest.param({"group_id": "abc"}, group_missing("group_id", "abc"), id="group_id-abc"),
    pytest.param({"group_id": ""}, group_missing("group_id", ""), id="group_id-empty"),
    pytest.param({"group_id": "2.0"}, group_missing("group_id", "2.0"), id="group_id-'2.0'"),
    pytest.param({"group_id": 1.5}, "Invalid group_id", id="group_id-1.5"),
    pytest.param({"group_id": True}, "Invalid group_id", id="group_id-true"),
    pytest.param({"group_id": None}, "Invalid group_id", id="group_id-null"),
    pytest.param({"group_id": [2]}, "Invalid group_id", id="group_id-list"),
    pytest.param({"group": "nope"}, group_missing("group", "nope"), id="group-nope"),
    pytest.param({"group": 99}, group_missing("group", 99), id="group-99"),
    pytest.param({"group": "99"}, group_missing("group", 99), id="group-'99'"),
    pytest.param({"group": ""}, group_missing("group", ""), id="group-empty"),
    pytest.param({"group": "²"}, group_missing("group", "²"), id="group-superscript-2"),
    pytest.param({"group": "١"}, group_missing("group", "١"), id="group-arabic-1"),
    pytest.param({"group": True}, "Invalid group", id="group-true"),
    pytest.param({"group": None}, "Invalid group", id="group-null"),
    pytest.param({"group": 1.5}, "Invalid group", id="group-1.5"),
    pytest.param({"group": ["edge"]}, "Invalid group", id="group-list"),
    pytest.param({"group": {"id": 2}}, "Invalid group", id="group-object"),
    pytest.param({"group": "edge", "group_id": 2}, GROUPS_EXCLUSIVE, id="both-same"),
    pytest.param({"group": "Default", "group_id": 2}, GROUPS_EXCLUSIVE, id="both-different"),
    pytest.param({"group": None, "group_id": None}, GROUPS_EXCLUSIVE, id="both-null"),
]
# (request fields, the group id they select), with group ``edge`` = 2.
VALID_GROUP_REFS = [
    ({"group_id": 2}, 2),
    ({"group_id": "2"}, 2),
    ({"group_id": "edge"}, 2),
    ({"group": "edge"}, 2),
    ({"group": 2}, 2),
    ({"group": "2"}, 2),
    ({"group": "Default"}, 1),
    ({"group_id": 1}, 1),
    ({"group_id": "1"}, 1),
]


class TestList:
    def test_empty_at_first(self, api):
        resp = api.get(SUBCLOUDS)

        assert resp.content_type == "application/json"
        assert resp.json == {"subclouds": []}

    def test_lists_every_subcloud_in_id_order(self, api):
        created = [create(api, name) for name in ("zulu", "alpha", "mike")]

        assert api.get(SUBCLOUDS).json == {"subclouds": created}
        assert [sc["id"] for sc in created] == [1, 2, 3]


class TestShow:
    def test_by_id_and_by_name(self, api, sc1):
        assert api.get(f"{SUBCLOUDS}/1").json == sc1
        assert api.get(f"{SUBCLOUDS}/sc1").json == sc1

    @pytest.mark.parametrize("name", ["sc.example.com", "1.0", "x-"])
    def test_names_that_look_like_paths_or_numbers_are_found(self, api, name):
        created = create(api, name)

        assert api.get(f"{SUBCLOUDS}/{name}").json == created

    @pytest.mark.parametrize(
        "ref", ["2", "0", "99", "9" * 30, "nope", "SC1", "sc1.json", "%C2%B2", "%D9%A1"]
    )
    def test_unknown_subcloud_is_404(self, api, sc1, ref):
        assert_error(api.get(f"{SUBCLOUDS}/{ref}", expect_errors=True), 404, NOT_FOUND)


class TestCreate:
    def test_defaults_of_a_new_subcloud(self, api):
        before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)

        resp = api.post_json(SUBCLOUDS, {"name": "sc1", "endpoint": "simulated://sc1"})

        created = resp.json
        assert resp.content_type == "application/json"
        assert set(created) == SUBCLOUD_KEYS
        assert without(created, "created-at", "region-name") == {
            "id": 1,
            "name": "sc1",
            "description": None,
            "location": None,
            "software-version": None,
            "management-state": "unmanaged",
            "availability-status": "offline",
            "deploy-status": "complete",
            "backup-status": None,
            "prestage-status": None,
            "prestage-versions": None,
            "prestage-software-version": None,
            "app-sync-status": None,
            "app-sync-details": [],
            "error-description": None,
            "group_id": 1,
            "endpoint": "simulated://sc1",
            "updated-at": None,
            **UNKNOWN_FIELDS,
            **NO_NETWORK,
        }
        now = datetime.datetime.now(datetime.UTC)
        assert before <= parse_timestamp(created["created-at"]) <= now

    def test_a_region_name_is_generated_for_each_subcloud(self, api):
        regions = [create(api, name)["region-name"] for name in ("sc1", "sc2", "sc3")]

        assert all(isinstance(region, str) and region.strip() for region in regions)
        assert len(set(regions)) == 3

    def test_every_field_is_taken(self, api, edge):
        body = body_of(
            "sc1",
            description="First site",
            location="Ottawa",
            group="edge",
            **{"software-version": "24.09", "region-name": "RegionSc1"},
        )

        created = api.post_json(SUBCLOUDS, body).json

        assert created["description"] == "First site"
        assert created["location"] == "Ottawa"
        assert created["software-version"] == "24.09"
        assert created["region-name"] == "RegionSc1"
        assert created["group_id"] == edge["id"]
        assert api.get(f"{SUBCLOUDS}/sc1").json == created
        assert api.get(SUBCLOUDS).json == {"subclouds": [created]}
        assert api.get(f"{GROUPS}/edge/subclouds").json == {"subclouds": [created]}

    def test_unknown_keys_are_ignored(self, api):
        body = body_of(
            "sc1",
            id=99,
            ref="other",
            colour="blue",
            **{
                "management-state": "managed",
                "availability-status": "online",
                "deploy-status": "failed",
                "backup-status": "complete",
                "prestage-status": "complete",
                "prestage-versions": "24.09",
                "error-description": "boom",
                "created-at": "2000-01-01T00:00:00+00:00",
                "updated-at": "2000-01-01T00:00:00+00:00",
            },
        )

        created = api.post_json(SUBCLOUDS, body).json

        assert set(created) == SUBCLOUD_KEYS
        assert created["id"] == 1
        assert created["management-state"] == "unmanaged"
        assert created["availability-status"] == "offline"
        assert created["deploy-status"] == "complete"
        for key in ("backup-status", "prestage-status", "prestage-versions", "updated-at"):
            assert created[key] is None
        assert created["error-description"] is None
        assert parse_timestamp(created["created-at"]).year > 2000

    @pytest.mark.parametrize("name", VALID_NAMES)
    def test_valid_names_are_accepted(self, api, name):
        assert create(api, name)["name"] == name

    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_names_are_rejected(self, api, name):
        post_error(api, {"name": name, "endpoint": "simulated://x"}, 400, name_invalid(name))

    @pytest.mark.parametrize("body", [{"endpoint": "simulated://x"}, {"name": None}, {}])
    def test_name_is_required(self, api, body):
        post_error(api, body, 400, "name required")

    @pytest.mark.parametrize("endpoint", VALID_ENDPOINTS)
    def test_valid_endpoints_are_accepted(self, api, endpoint):
        created = api.post_json(SUBCLOUDS, {"name": "sc1", "endpoint": endpoint}).json

        assert created["endpoint"] == endpoint
        assert db_api.subcloud_get("sc1").endpoint == endpoint

    @pytest.mark.parametrize("endpoint", INVALID_ENDPOINTS)
    def test_invalid_endpoints_are_rejected(self, api, endpoint):
        post_error(api, {"name": "sc1", "endpoint": endpoint}, 400, ENDPOINT_INVALID)

    @pytest.mark.parametrize("body", [{"name": "sc1"}, {"name": "sc1", "endpoint": None}])
    def test_endpoint_is_required(self, api, body):
        post_error(api, body, 400, "endpoint required")

    @pytest.mark.parametrize("endpoint", INVALID_SECRET_ENDPOINTS)
    def test_an_invalid_endpoint_is_never_echoed(self, api, endpoint):
        resp = post_error(api, {"name": "sc1", "endpoint": endpoint}, 400, ENDPOINT_INVALID)

        assert SECRET not in resp.text

    @pytest.mark.parametrize("field", ["description", "location"])
    @pytest.mark.parametrize("value", VALID_TEXTS)
    def test_valid_texts_are_accepted(self, api, field, value):
        assert create(api, "sc1", **{field: value})[field] == value

    @pytest.mark.parametrize("field", ["description", "location"])
    @pytest.mark.parametrize("value", INVALID_TEXTS)
    def test_invalid_texts_are_rejected(self, api, field, value):
        post_error(api, body_of("sc1", **{field: value}), 400, text_invalid(field))

    @pytest.mark.parametrize("version", ["24.09", "00.00", "99.99"])
    def test_valid_software_versions_are_accepted(self, api, version):
        assert create(api, "sc1", **{"software-version": version})["software-version"] == version

    @pytest.mark.parametrize(
        "version",
        [
            "",
            "24.9",
            "2.09",
            "2409",
            "24.09.1",
            "v24.09",
            "24-09",
            " 24.09",
            "24.09\n",
            "२४.०९",
            "aa.bb",
            24.09,
            24,
            None,
            True,
            ["24.09"],
        ],
    )
    def test_invalid_software_versions_are_rejected(self, api, version):
        post_error(
            api, body_of("sc1", **{"software-version": version}), 400, version_invalid(version)
        )

    @pytest.mark.parametrize("region", ["RegionOne", "r" * 255, "région-2"])
    def test_valid_region_names_are_accepted(self, api, region):
        assert create(api, "sc1", **{"region-name": region})["region-name"] == region

    @pytest.mark.parametrize(
        "region",
        ["", "   ", " r", "r ", "r" * 256, "r\x00", "\udfff", None, 5, True, ["RegionOne"], {}],
    )
    def test_invalid_region_names_are_rejected(self, api, region):
        post_error(api, body_of("sc1", **{"region-name": region}), 400, REGION_INVALID)

    def test_region_name_must_be_unique(self, api, sc1):
        post_error(
            api,
            body_of("sc2", **{"region-name": "RegionSc1"}),
            409,
            "Subcloud with region-name RegionSc1 already exists",
        )

    def test_region_name_may_not_take_a_generated_one(self, api):
        region = create(api, "sc1")["region-name"]

        post_error(
            api,
            body_of("sc2", **{"region-name": region}),
            409,
            f"Subcloud with region-name {region} already exists",
        )

    def test_duplicate_name_is_409(self, api, sc1):
        post_error(
            api,
            {"name": "sc1", "endpoint": "simulated://other", "description": "second"},
            409,
            "Subcloud with name sc1 already exists",
        )

    def test_a_rejected_duplicate_never_echoes_its_endpoint(self, api, sc1):
        resp = post_error(
            api,
            {"name": "sc1", "endpoint": f"https://admin:{SECRET}@host"},
            409,
            "Subcloud with name sc1 already exists",
        )

        assert SECRET not in resp.text

    @pytest.mark.parametrize(("fields", "group_id"), VALID_GROUP_REFS)
    def test_group_is_chosen_by_id_or_name(self, api, edge, fields, group_id):
        created = create(api, "sc1", **fields)

        assert created["group_id"] == group_id
        group_members = api.get(f"{GROUPS}/{group_id}/subclouds").json["subclouds"]
        assert group_members == [created]

    @pytest.mark.parametrize(("fields", "message"), INVALID_GROUP_REFS)
    def test_invalid_group_is_rejected(self, api, edge, fields, message):
        post_error(api, body_of("sc1", **fields), 400, message)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"name": "", "endpoint": ""}, name_invalid("")),
            ({"endpoint": ""}, "name required"),
            ({"name": "sc1", "endpoint": "", "description": 5}, ENDPOINT_INVALID),
            (body_of("sc1", description=5, location=5), text_invalid("description")),
            (body_of("sc1", location=5, group="nope"), text_invalid("location")),
            (
                body_of("sc1", group="nope", **{"software-version": "x"}),
                version_invalid("x"),
            ),
            (body_of("sc1", group="nope", **{"region-name": ""}), REGION_INVALID),
        ],
    )
    def test_name_and_endpoint_are_checked_first_then_the_other_fields(self, api, body, message):
        post_error(api, body, 400, message)


class TestEndpointPassword:
    @pytest.mark.parametrize(("endpoint", "shown"), MASKED_ENDPOINTS)
    def test_password_is_masked_in_every_response(self, api, edge, endpoint, shown):
        created = api.post_json(SUBCLOUDS, body_of("sc1", endpoint=endpoint, group="edge"))
        updated = api.patch_json(f"{SUBCLOUDS}/sc1", {"description": "changed"})
        responses = [
            created,
            updated,
            api.get(SUBCLOUDS),
            api.get(f"{SUBCLOUDS}/1"),
            api.get(f"{SUBCLOUDS}/sc1"),
            api.get(f"{GROUPS}/edge/subclouds"),
        ]

        for resp in responses:
            assert SECRET not in resp.text
        assert created.json["endpoint"] == shown
        assert updated.json["endpoint"] == shown
        assert api.get(f"{SUBCLOUDS}/sc1").json["endpoint"] == shown
        # The drivers still get the real endpoint.
        assert db_api.subcloud_get("sc1").endpoint == endpoint

    def test_a_new_endpoint_replaces_the_old_password(self, api):
        create(api, "sc1", endpoint="https://admin:0ldPassw0rd@old-host")

        resp = api.patch_json(f"{SUBCLOUDS}/sc1", {"endpoint": f"https://ops:{SECRET}@new-host"})

        assert resp.json["endpoint"] == "https://ops:***@new-host"
        listing = api.get(SUBCLOUDS).text
        for text in (resp.text, listing):
            assert SECRET not in text
            assert "0ldPassw0rd" not in text
        assert db_api.subcloud_get("sc1").endpoint == f"https://ops:{SECRET}@new-host"

    @pytest.mark.parametrize("endpoint", INVALID_SECRET_ENDPOINTS)
    def test_an_invalid_new_endpoint_is_never_echoed(self, api, endpoint):
        create(api, "sc1", endpoint="https://admin:Keep1t@host")

        resp = patch_error(api, "sc1", {"endpoint": endpoint}, 400, ENDPOINT_INVALID)

        assert SECRET not in resp.text
        assert db_api.subcloud_get("sc1").endpoint == "https://admin:Keep1t@host"


class TestUpdate:
    @pytest.mark.parametrize("ref", ["1", "sc1"])
    def test_manage_and_unmanage_while_offline(self, api, sc1, ref):
        managed = api.patch_json(f"{SUBCLOUDS}/{ref}", {"management-state": "managed"}).json

        assert managed["management-state"] == "managed"
        assert managed["availability-status"] == "offline"
        assert api.get(f"{SUBCLOUDS}/sc1").json == managed

        unmanaged = api.patch_json(f"{SUBCLOUDS}/{ref}", {"management-state": "unmanaged"}).json

        assert unmanaged["management-state"] == "unmanaged"
        assert api.get(f"{SUBCLOUDS}/sc1").json == unmanaged

    @pytest.mark.parametrize(
        "body",
        [
            {"management-state": "managed"},
            {"description": "changed"},
            {"location": "Montréal"},
            {"endpoint": "https://new-host:8443"},
            {"group_id": 2},
            {
                "management-state": "managed",
                "description": "",
                "location": "",
                "endpoint": "simulated://elsewhere",
                "group": "edge",
            },
        ],
    )
    def test_fields_are_updated_and_others_kept(self, api, sc1, body):
        resp = api.patch_json(f"{SUBCLOUDS}/sc1", body)

        updated = resp.json
        expected = {**sc1, **body}
        if "group" in body:
            del expected["group"]
            expected["group_id"] = 2
        assert without(updated, "updated-at") == without(expected, "updated-at")
        assert api.get(f"{SUBCLOUDS}/sc1").json == updated

    def test_updated_at_is_set_by_a_change(self, api, sc1):
        assert sc1["updated-at"] is None

        first = api.patch_json(f"{SUBCLOUDS}/sc1", {"description": "one"}).json
        second = api.patch_json(f"{SUBCLOUDS}/sc1", {"description": "two"}).json

        created_at = parse_timestamp(sc1["created-at"])
        assert first["created-at"] == sc1["created-at"]
        assert parse_timestamp(first["updated-at"]) >= created_at
        assert parse_timestamp(second["updated-at"]) >= parse_timestamp(first["updated-at"])
        assert second["created-at"] == sc1["created-at"]

    @pytest.mark.parametrize(("fields", "group_id"), VALID_GROUP_REFS)
    def test_group_is_chosen_by_id_or_name(self, api, sc1, fields, group_id):
        if group_id == 1:
            api.patch_json(f"{SUBCLOUDS}/sc1", {"group": "edge"})

        updated = api.patch_json(f"{SUBCLOUDS}/sc1", fields).json

        assert updated["group_id"] == group_id
        assert api.get(f"{GROUPS}/{group_id}/subclouds").json == {"subclouds": [updated]}
        other = 3 - group_id
        assert api.get(f"{GROUPS}/{other}/subclouds").json == {"subclouds": []}

    @pytest.mark.parametrize(("fields", "message"), INVALID_GROUP_REFS)
    def test_invalid_group_is_rejected(self, api, sc1, fields, message):
        patch_error(api, "sc1", fields, 400, message)

    @pytest.mark.parametrize("state", INVALID_STATES)
    def test_invalid_management_states_are_rejected(self, api, sc1, state):
        patch_error(api, "sc1", {"management-state": state}, 400, state_invalid(state))

    @pytest.mark.parametrize("field", ["description", "location"])
    @pytest.mark.parametrize("value", INVALID_TEXTS)
    def test_invalid_texts_are_rejected(self, api, sc1, field, value):
        patch_error(api, "sc1", {field: value}, 400, text_invalid(field))

    @pytest.mark.parametrize("endpoint", INVALID_ENDPOINTS)
    def test_invalid_endpoints_are_rejected(self, api, sc1, endpoint):
        patch_error(api, "sc1", {"endpoint": endpoint}, 400, ENDPOINT_INVALID)

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": "renamed"},
            {"region-name": "RegionNew"},
            {"software-version": "25.03"},
            {"availability-status": "online"},
            {"deploy-status": "failed"},
            {"prestage-status": "complete"},
            {"id": 9},
            {"ref": "sc2"},
            {"colour": "blue"},
        ],
        ids=lambda body: next(iter(body), "empty"),
    )
    def test_nothing_to_update(self, api, sc1, body):
        patch_error(api, "sc1", body, 400, NOTHING_TO_UPDATE)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"description": "new", "management-state": "bogus"}, state_invalid("bogus")),
            ({"management-state": "managed", "group": "nope"}, group_missing("group", "nope")),
            ({"location": "new", "endpoint": "bad"}, ENDPOINT_INVALID),
            ({"management-state": "managed", "description": 5}, text_invalid("description")),
            ({"endpoint": "https://h", "group": "edge", "group_id": 2}, GROUPS_EXCLUSIVE),
        ],
    )
    def test_a_valid_change_with_an_invalid_one_changes_nothing(self, api, sc1, body, message):
        patch_error(api, "sc1", body, 400, message)

    def test_unknown_keys_beside_a_change_are_ignored(self, api, sc1):
        body = {"description": "new", "name": "renamed", "id": 9, "region-name": "R2"}

        updated = api.patch_json(f"{SUBCLOUDS}/sc1", body).json

        assert updated["description"] == "new"
        assert (updated["id"], updated["name"], updated["region-name"]) == (1, "sc1", "RegionSc1")

    @pytest.mark.parametrize("ref", ["2", "99", "nope", "9" * 30, "%C2%B2"])
    def test_unknown_subcloud_is_404(self, api, sc1, ref):
        patch_error(api, ref, {"description": "new"}, 404, NOT_FOUND)

    def test_unknown_subcloud_is_404_even_with_an_invalid_body(self, api, sc1):
        patch_error(api, "nope", {"management-state": "bogus"}, 404, NOT_FOUND)


class TestDelete:
    @pytest.mark.parametrize("ref", ["1", "sc1"])
    def test_unmanaged_subcloud_is_deleted(self, api, edge, ref):
        create(api, "sc1", group="edge")
        kept = create(api, "sc2")

        before = api.get(f"{SUBCLOUDS}/sc1").json

        resp = api.delete(f"{SUBCLOUDS}/{ref}")

        # 200 with the subcloud as it was: StarlingX's client takes 204 for a failure.
        assert resp.status_int == 200
        assert resp.json == before
        for gone in ("1", "sc1"):
            assert_error(api.get(f"{SUBCLOUDS}/{gone}", expect_errors=True), 404, NOT_FOUND)
        assert api.get(SUBCLOUDS).json == {"subclouds": [kept]}
        assert api.get(f"{GROUPS}/edge/subclouds").json == {"subclouds": []}

    def test_deleted_subcloud_cannot_be_deleted_or_updated_again(self, api, sc1):
        api.delete(f"{SUBCLOUDS}/sc1")

        delete_error(api, "sc1", 404, NOT_FOUND)
        patch_error(api, "sc1", {"description": "x"}, 404, NOT_FOUND)

    def test_name_and_region_can_be_reused_after_delete(self, api, sc1):
        api.delete(f"{SUBCLOUDS}/sc1")

        again = create(api, "sc1", **{"region-name": "RegionSc1"})

        assert (again["name"], again["region-name"]) == ("sc1", "RegionSc1")
        assert again["management-state"] == "unmanaged"

    @pytest.mark.parametrize("ref", ["1", "sc1"])
    def test_managed_subcloud_is_not_deleted(self, api, sc1, ref):
        api.patch_json(f"{SUBCLOUDS}/sc1", {"management-state": "managed"})

        delete_error(api, ref, 409, "Cannot delete subcloud sc1: it is managed. Unmanage it first.")

    def test_subcloud_unmanaged_again_can_be_deleted(self, api, sc1):
        api.patch_json(f"{SUBCLOUDS}/sc1", {"management-state": "managed"})
        api.patch_json(f"{SUBCLOUDS}/sc1", {"management-state": "unmanaged"})

        assert api.delete(f"{SUBCLOUDS}/sc1").status_int == 200

    @pytest.mark.parametrize("state", ["initial", "applying", "complete", "failed", "aborted"])
    def test_subcloud_in_a_strategy_is_not_deleted(self, api, db, sc1, state):
        add_strategy_step(db, sc1["id"], state=state)

        delete_error(
            api, "sc1", 409, "Cannot delete subcloud sc1: it is part of the current strategy."
        )

    def test_subcloud_with_an_operation_under_way_is_not_deleted(self, api, db, sc1):
        with orm.Session(db) as session, session.begin():
            session.add(
                models.StrategyStep(
                    strategy_id=None,
                    subcloud_id=sc1["id"],
                    stage=1,
                    state="app-precheck",
                    extra_args={"kind": "app", "app": "demo"},
                )
            )

        delete_error(
            api,
            "sc1",
            409,
            "Cannot delete subcloud sc1: an operation is under way on it (a standalone "
            "prestage, or an operation on one of its applications).",
        )

    def test_subcloud_can_be_deleted_once_its_strategy_is_gone(self, api, db, sc1):
        add_strategy_step(db, sc1["id"])
        with orm.Session(db) as session, session.begin():
            session.execute(delete(models.Strategy))
        test_tallies.recount()

        assert api.delete(f"{SUBCLOUDS}/sc1").status_int == 200

    def test_another_subclouds_strategy_step_does_not_block(self, api, db, sc1):
        other = create(api, "sc2")
        add_strategy_step(db, other["id"])

        assert api.delete(f"{SUBCLOUDS}/sc1").status_int == 200
        assert [sc["name"] for sc in api.get(SUBCLOUDS).json["subclouds"]] == ["sc2"]

    @pytest.mark.parametrize("ref", ["2", "99", "nope", "9" * 30, "%C2%B2"])
    def test_unknown_subcloud_is_404(self, api, sc1, ref):
        delete_error(api, ref, 404, NOT_FOUND)


class TestNeverA500:
    """Odd JSON values in any field are accepted or a 400, never a server error; a
    rejected request changes nothing."""

    ODD_VALUES = [
        None,
        True,
        0,
        -1,
        2**70,
        1.5,
        "",
        " ",
        "\x00",
        "²",
        [],
        [1],
        {},
        {"a": 1},
        "\ud800",
        "9" * 5000,
        "x" * 5000,
        [[[[[[[[]]]]]]]],
    ]
    FIELDS = [
        "name",
        "endpoint",
        "description",
        "location",
        "software-version",
        "region-name",
        "group_id",
        "group",
        "management-state",
    ]

    @pytest.mark.parametrize("value", ODD_VALUES)
    @pytest.mark.parametrize("field", FIELDS)
    def test_odd_values(self, api, sc1, field, value):
        before = snapshot(api)
        created = api.post_json(SUBCLOUDS, {**body_of("sc2"), field: value}, expect_errors=True)
        assert created.status_int in (200, 400), created.text
        if created.status_int == 400:
            assert snapshot(api) == before
            assert created.json["message"]
        else:
            assert api.get(f"{SUBCLOUDS}/sc2").json == created.json

        before = snapshot(api)
        updated = api.patch_json(f"{SUBCLOUDS}/sc1", {field: value}, expect_errors=True)
        assert updated.status_int in (200, 400), updated.text
        if updated.status_int == 400:
            assert snapshot(api) == before
            assert updated.json["message"]
        else:
            assert api.get(f"{SUBCLOUDS}/sc1").json == updated.json


class TestEveryBackend:
    """What depends on the database (constraint errors, odd values, foreign keys) behaves
    the same on SQLite, PostgreSQL and MySQL."""

    @pytest.fixture
    def backend_api(self, any_db, conf):
        api = webtest.TestApp(api_app.setup_app(conf))
        api.post_json(GROUPS, {"name": "edge"})
        create(api, "sc1", group="edge", **{"region-name": "RegionSc1"})
        return api

    @pytest.mark.parametrize(
        ("method", "path", "body", "status", "message"),
        [
            ("POST", SUBCLOUDS, body_of("sc1"), 409, "Subcloud with name sc1 already exists"),
            (
                "POST",
                SUBCLOUDS,
                body_of("sc2", **{"region-name": "RegionSc1"}),
                409,
                "Subcloud with region-name RegionSc1 already exists",
            ),
            (
                "POST",
                GROUPS,
                {"name": "edge"},
                400,
                "A subcloud group with this name already exists",
            ),
            (
                "POST",
                SUBCLOUDS,
                body_of("sc2", description="a\x00b"),
                400,
                text_invalid("description"),
            ),
            ("POST", SUBCLOUDS, body_of("sc2", endpoint="https://h\x00"), 400, ENDPOINT_INVALID),
            ("POST", GROUPS, {"name": "g\x00"}, 400, "Invalid group name"),
            (
                "POST",
                GROUPS,
                {"name": "g", "description": "d\x00"},
                400,
                "Invalid group description",
            ),
            (
                "POST",
                SUBCLOUDS,
                body_of("sc2", group_id=10**30),
                400,
                group_missing("group_id", 10**30),
            ),
            ("GET", f"{SUBCLOUDS}/{'9' * 30}", None, 404, NOT_FOUND),
            ("GET", f"{GROUPS}/{'9' * 30}/subclouds", None, 404, "Subcloud Group not found"),
            ("GET", f"{SUBCLOUDS}/%C2%B2", None, 404, NOT_FOUND),
            ("DELETE", f"{GROUPS}/edge", None, 409, "Subcloud Group not empty"),
        ],
    )
    def test_errors(self, backend_api, method, path, body, status, message):
        before = snapshot(backend_api)

        if body is None:
            resp = backend_api.request(path, method=method, expect_errors=True)
        else:
            resp = backend_api.request(
                path,
                method=method,
                body=json.dumps(body).encode(),
                content_type="application/json",
                expect_errors=True,
            )

        assert_error(resp, status, message)
        assert snapshot(backend_api) == before

    def test_subcloud_in_a_strategy_is_not_deleted(self, backend_api, any_db):
        add_strategy_step(any_db, 1)

        delete_error(
            backend_api,
            "sc1",
            409,
            "Cannot delete subcloud sc1: it is part of the current strategy.",
        )


class TestManagementNetwork:
    NETWORK = {
        "management-subnet": "192.168.101.0/24",
        "management-start-ip": "192.168.101.2",
        "management-end-ip": "192.168.101.50",
        "management-gateway-ip": "192.168.101.1",
        "systemcontroller-gateway-ip": "192.168.204.101",
    }

    def test_registered_with_its_network(self, api):
        created = create(api, "sc1", **self.NETWORK)

        assert {key: created[key] for key in self.NETWORK} == self.NETWORK

    def test_the_reference_spelling_with_underscores_and_ipv6(self, api):
        created = create(api, "sc1", management_subnet="fd01::/64", management_start_ip="fd01::2")

        assert (created["management-subnet"], created["management-start-ip"]) == (
            "fd01::/64",
            "fd01::2",
        )

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            (
                {"management-subnet": "192.168.101.1/24"},
                "Invalid management-subnet '192.168.101.1/24': must be a network in CIDR notation",
            ),
            (
                {"management-subnet": 24},
                "Invalid management-subnet '24': must be a network in CIDR notation",
            ),
            (
                {"management-start-ip": "300.1.1.1"},
                "Invalid management-start-ip '300.1.1.1': must be an IP address",
            ),
            (
                {"systemcontroller-gateway-ip": ["10.0.0.1"]},
                "Invalid systemcontroller-gateway-ip '['10.0.0.1']': must be an IP address",
            ),
            (
                {"management-subnet": "192.168.101.0/24", "management-gateway-ip": "10.0.0.1"},
                "Invalid management-gateway-ip '10.0.0.1': not in management-subnet "
                "192.168.101.0/24",
            ),
            (
                {"management-start-ip": "192.168.101.9", "management-end-ip": "192.168.101.2"},
                "Invalid management-end-ip '192.168.101.2': must not come before "
                "management-start-ip 192.168.101.9",
            ),
            (
                {"management-start-ip": "192.168.101.9", "management-end-ip": "fd01::2"},
                "Invalid management-end-ip 'fd01::2': must not come before "
                "management-start-ip 192.168.101.9",
            ),
        ],
    )
    def test_an_invalid_network_is_refused_and_nothing_is_stored(self, api, fields, message):
        resp = api.post_json(SUBCLOUDS, {**body_of("sc1"), **fields}, expect_errors=True)

        assert_error(resp, 400, message)
        assert api.get(SUBCLOUDS).json == {"subclouds": []}
