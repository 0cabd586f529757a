"""``/v1.0/subcloud-groups`` through the real app and a migrated SQLite database.

Every rejected request is checked for its status, its exact message, and for leaving
everything a user can list exactly as it was.
"""

import datetime
from http import HTTPStatus

import pytest
import webtest

GROUPS = "/v1.0/subcloud-groups"
DEFAULT_GROUP = {
    "id": 1,
    "name": "Default",
    "description": "Default Subcloud Group",
    "update_apply_type": "parallel",
    "max_parallel_subclouds": 2,
}
GROUP_KEYS = {
    "id",
    "name",
    "description",
    "update_apply_type",
    "max_parallel_subclouds",
    "created-at",
    "updated-at",
}
FORBIDDEN_NAME_CHARS = ".*+?|()[]{}^$"

INVALID_NAME = "Invalid group name"
INVALID_DESCRIPTION = "Invalid group description"
INVALID_APPLY_TYPE = "Invalid group update_apply_type"
INVALID_MAX_PARALLEL = "Invalid group max_parallel_subclouds"
NAME_EXISTS = "A subcloud group with this name already exists"
GROUP_NOT_FOUND = "Subcloud Group not found"

INVALID_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("1", id="digit"),
    pytest.param("12345", id="all-digits"),
    pytest.param("a" * 256, id="256-chars"),
    pytest.param("/", id="only-slash"),
    pytest.param("a/b", id="has-slash"),
    *(pytest.param(f"grp{char}x", id=f"has-{char}") for char in FORBIDDEN_NAME_CHARS),
    *(pytest.param(char, id=f"only-{char}") for char in FORBIDDEN_NAME_CHARS),
    pytest.param("Default", id="Default"),
    pytest.param("default", id="default"),
    pytest.param("DEFAULT", id="DEFAULT"),
    pytest.param("dEfAuLt", id="dEfAuLt"),
    pytest.param("g\x00", id="nul"),
    pytest.param("\ud800", id="lone-surrogate"),
    pytest.param(" edge", id="leading-space"),
    pytest.param("edge ", id="trailing-space"),
    pytest.param(" Default ", id="spaced-Default"),
    pytest.param(None, id="null"),
    pytest.param(12, id="int"),
    pytest.param(1.5, id="float"),
    pytest.param(True, id="bool"),
    pytest.param(["g"], id="list"),
    pytest.param({"name": "g"}, id="object"),
]
VALID_NAMES = [
    "g",
    "a" * 255,
    "edge sites",
    "edge-1_east",
    "1st-wave",
    "wave2",
    "Défaut",
    "Default2",
    "my-default",
    "!@#%&=;:,<>~`'\"",
]
INVALID_DESCRIPTIONS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("d" * 255, id="255-chars"),
    pytest.param("d" * 1000, id="1000-chars"),
    pytest.param("d\x00", id="nul"),
    pytest.param(None, id="null"),
    pytest.param(5, id="int"),
    pytest.param(False, id="bool"),
    pytest.param(["d"], id="list"),
    pytest.param({}, id="object"),
]
INVALID_APPLY_TYPES = [
    pytest.param("", id="empty"),
    pytest.param("Parallel", id="Parallel"),
    pytest.param("SERIAL", id="SERIAL"),
    pytest.param("both", id="both"),
    pytest.param(" serial", id="padded"),
    pytest.param(None, id="null"),
    pytest.param(1, id="int"),
    pytest.param(True, id="bool"),
    pytest.param(["serial"], id="list"),
    pytest.param({"serial": 1}, id="object"),
]
INVALID_MAX_PARALLELS = [
    pytest.param(0, id="0"),
    pytest.param(-1, id="-1"),
    pytest.param(5001, id="5001"),
    pytest.param(10**30, id="huge"),
    pytest.param("0", id="'0'"),
    pytest.param("5001", id="'5001'"),
    pytest.param("abc", id="abc"),
    pytest.param("", id="empty"),
    pytest.param("1.5", id="'1.5'"),
    pytest.param("5e2", id="'5e2'"),
    pytest.param(1.5, id="1.5"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param(None, id="null"),
    pytest.param([5], id="list"),
    pytest.param({}, id="object"),
]


def assert_error(resp: webtest.TestResponse, status: int, message: str) -> None:
    assert resp.status_int == status, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json == {"code": status, "title": HTTPStatus(status).phrase, "message": message}


def snapshot(api: webtest.TestApp) -> dict:
    """Everything a user can list, to compare before and after a rejected request."""
    groups = api.get(GROUPS).json
    return {
        "subclouds": api.get("/v1.0/subclouds").json,
        "groups": groups,
        "members": {
            group["id"]: api.get(f"{GROUPS}/{group['id']}/subclouds").json
            for group in groups["subcloud_groups"]
        },
    }


def create_group(api: webtest.TestApp, **fields) -> dict:
    return api.post_json(GROUPS, fields).json


def create_subcloud(api: webtest.TestApp, name: str, **fields) -> dict:
    body = {"name": name, "endpoint": f"simulated://{name}", **fields}
    return api.post_json("/v1.0/subclouds", body).json


def post_error(api, body, status, message):
    """POST ``body``, expect the error, and check that nothing changed."""
    before = snapshot(api)
    assert_error(api.post_json(GROUPS, body, expect_errors=True), status, message)
    assert snapshot(api) == before


def patch_error(api, ref, body, status, message):
    """PATCH ``ref`` with ``body``, expect the error, and check that nothing changed."""
    before = snapshot(api)
    assert_error(api.patch_json(f"{GROUPS}/{ref}", body, expect_errors=True), status, message)
    assert snapshot(api) == before


def parse_timestamp(value: str) -> datetime.datetime:
    """An ISO 8601 timestamp in UTC."""
    stamp = datetime.datetime.fromisoformat(value)
    assert stamp.utcoffset() == datetime.timedelta(0), value
    return stamp


@pytest.fixture
def group(api):
    """A group ``edge`` (id 2), created with defaults."""
    return create_group(api, name="edge")


class TestDefaultGroup:
    def test_a_new_database_has_only_the_default_group(self, api):
        [default] = api.get(GROUPS).json["subcloud_groups"]

        assert set(default) == GROUP_KEYS
        assert {k: default[k] for k in DEFAULT_GROUP} == DEFAULT_GROUP
        parse_timestamp(default["created-at"])
        assert default["updated-at"] is None

    @pytest.mark.parametrize("ref", ["1", "Default"])
    def test_default_is_shown_by_id_or_name(self, api, ref):
        assert api.get(f"{GROUPS}/{ref}").json == api.get(GROUPS).json["subcloud_groups"][0]

    @pytest.mark.parametrize("ref", ["1", "Default"])
    def test_default_may_not_be_deleted(self, api, ref):
        before = snapshot(api)

        resp = api.delete(f"{GROUPS}/{ref}", expect_errors=True)

        assert_error(resp, 400, "Default Subcloud Group may not be deleted")
        assert snapshot(api) == before

    @pytest.mark.parametrize("name", ["Other", "default", "DEFAULT", "", 5, None])
    def test_default_name_cannot_be_changed(self, api, name):
        patch_error(api, "Default", {"name": name}, 400, "Default group name cannot be changed")

    def test_renaming_default_with_other_changes_changes_nothing(self, api):
        body = {"name": "Other", "description": "new", "max_parallel_subclouds": 9}

        patch_error(api, 1, body, 400, "Default group name cannot be changed")

    def test_default_keeping_its_name_is_nothing_to_update(self, api):
        patch_error(api, 1, {"name": "Default"}, 400, "nothing to update")

    def test_default_keeping_its_name_with_other_changes_is_updated(self, api):
        body = {
            "name": "Default",
            "description": "all sites",
            "update_apply_type": "serial",
            "max_parallel_subclouds": 10,
        }

        resp = api.patch_json(f"{GROUPS}/Default", body)

        assert {k: resp.json[k] for k in body} == body
        assert api.get(f"{GROUPS}/1").json == resp.json

    def test_default_keeping_its_name_with_an_invalid_change_changes_nothing(self, api):
        body = {"name": "Default", "description": "ok", "max_parallel_subclouds": 0}

        patch_error(api, "Default", body, 400, INVALID_MAX_PARALLEL)


class TestCreate:
    def test_name_alone_gets_the_defaults(self, api):
        before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)

        resp = api.post_json(GROUPS, {"name": "edge"})

        created = resp.json
        assert resp.content_type == "application/json"
        assert set(created) == GROUP_KEYS
        assert {k: v for k, v in created.items() if k not in ("created-at", "updated-at")} == {
            "id": 2,
            "name": "edge",
            "description": "No description provided",
            "update_apply_type": "parallel",
            "max_parallel_subclouds": 2,
        }
        assert (
            before <= parse_timestamp(created["created-at"]) <= datetime.datetime.now(datetime.UTC)
        )
        assert created["updated-at"] is None

    def test_created_group_is_listed_and_shown_by_id_and_name(self, api):
        created = create_group(api, name="edge", description="Edge sites")

        assert api.get(GROUPS).json["subcloud_groups"][1:] == [created]
        assert api.get(f"{GROUPS}/{created['id']}").json == created
        assert api.get(f"{GROUPS}/edge").json == created

    def test_every_field_is_taken(self, api):
        body = {
            "name": "edge",
            "description": "Edge sites",
            "update_apply_type": "serial",
            "max_parallel_subclouds": 100,
        }

        created = create_group(api, **body)

        assert {k: created[k] for k in body} == body
        assert api.get(f"{GROUPS}/edge").json == created

    @pytest.mark.parametrize("name", VALID_NAMES)
    def test_valid_names_are_accepted(self, api, name):
        created = create_group(api, name=name)

        assert created["name"] == name
        assert api.get(f"{GROUPS}/{created['id']}").json["name"] == name

    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_names_are_rejected(self, api, name):
        post_error(api, {"name": name}, 400, INVALID_NAME)

    def test_name_is_required(self, api):
        post_error(api, {"description": "no name"}, 400, INVALID_NAME)

    def test_empty_object_lacks_a_name(self, api):
        post_error(api, {}, 400, INVALID_NAME)

    @pytest.mark.parametrize("description", ["d", "d" * 254, "Ottawa, ON — édge"])
    def test_valid_descriptions_are_accepted(self, api, description):
        assert create_group(api, name="g", description=description)["description"] == description

    @pytest.mark.parametrize("description", INVALID_DESCRIPTIONS)
    def test_invalid_descriptions_are_rejected(self, api, description):
        post_error(api, {"name": "g", "description": description}, 400, INVALID_DESCRIPTION)

    @pytest.mark.parametrize("apply_type", ["parallel", "serial"])
    def test_valid_apply_types_are_accepted(self, api, apply_type):
        assert create_group(api, name="g", update_apply_type=apply_type)["update_apply_type"] == (
            apply_type
        )

    @pytest.mark.parametrize("apply_type", INVALID_APPLY_TYPES)
    def test_invalid_apply_types_are_rejected(self, api, apply_type):
        post_error(api, {"name": "g", "update_apply_type": apply_type}, 400, INVALID_APPLY_TYPE)

    @pytest.mark.parametrize(
        ("value", "stored"),
        [(1, 1), (2, 2), (5000, 5000), ("50", 50), ("1", 1), ("5000", 5000), (" 7 ", 7)],
    )
    def test_valid_max_parallel_is_stored_as_an_integer(self, api, value, stored):
        created = create_group(api, name="g", max_parallel_subclouds=value)

        assert created["max_parallel_subclouds"] == stored
        assert api.get(f"{GROUPS}/g").json["max_parallel_subclouds"] == stored

    @pytest.mark.parametrize("value", INVALID_MAX_PARALLELS)
    def test_invalid_max_parallel_is_rejected(self, api, value):
        post_error(api, {"name": "g", "max_parallel_subclouds": value}, 400, INVALID_MAX_PARALLEL)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                {"name": "", "description": "", "update_apply_type": "x"},
                INVALID_NAME,
            ),
            (
                {"name": "g", "description": "", "update_apply_type": "x"},
                INVALID_DESCRIPTION,
            ),
            (
                {"name": "g", "update_apply_type": "x", "max_parallel_subclouds": 0},
                INVALID_APPLY_TYPE,
            ),
        ],
    )
    def test_fields_are_checked_in_the_documented_order(self, api, body, message):
        post_error(api, body, 400, message)

    @pytest.mark.parametrize("name", ["edge", "Edge-2"])
    def test_duplicate_name_is_rejected(self, api, name):
        create_group(api, name=name, description="the first")

        post_error(api, {"name": name, "description": "the second"}, 400, NAME_EXISTS)

    def test_unknown_keys_are_ignored(self, api):
        body = {
            "name": "edge",
            "id": 99,
            "created-at": "2000-01-01T00:00:00+00:00",
            "updated-at": "2000-01-01T00:00:00+00:00",
            "subclouds": ["sc1"],
            "ref": "Default",
            "colour": "blue",
        }

        created = create_group(api, **body)

        assert created["id"] == 2
        assert set(created) == GROUP_KEYS
        assert parse_timestamp(created["created-at"]).year > 2000
        assert created["updated-at"] is None
        assert api.get(f"{GROUPS}/2/subclouds").json == {"subclouds": []}

    def test_groups_are_listed_in_id_order(self, api):
        for name in ("zulu", "alpha", "mike"):
            create_group(api, name=name)

        groups = api.get(GROUPS).json["subcloud_groups"]

        assert [(g["id"], g["name"]) for g in groups] == [
            (1, "Default"),
            (2, "zulu"),
            (3, "alpha"),
            (4, "mike"),
        ]


class TestShow:
    @pytest.mark.parametrize("ref", ["2", "99", "0", "9" * 30, "nope", "default", "%C2%B2"])
    def test_unknown_group_is_404(self, api, ref):
        resp = api.get(f"{GROUPS}/{ref}", expect_errors=True)

        assert_error(resp, 404, GROUP_NOT_FOUND)

    def test_a_name_with_spaces_and_unicode_is_found(self, api):
        created = create_group(api, name="édge sites")

        assert api.get(f"{GROUPS}/%C3%A9dge%20sites").json == created


class TestUpdate:
    @pytest.mark.parametrize(
        "body",
        [
            {"name": "renamed"},
            {"description": "Edge sites"},
            {"update_apply_type": "serial"},
            {"max_parallel_subclouds": 5000},
            {"max_parallel_subclouds": "50"},
            {
                "name": "renamed",
                "description": "Edge sites",
                "update_apply_type": "serial",
                "max_parallel_subclouds": 1,
            },
        ],
    )
    @pytest.mark.parametrize("by", ["id", "name"])
    def test_fields_are_updated_and_others_kept(self, api, group, body, by):
        ref = group["id"] if by == "id" else group["name"]

        resp = api.patch_json(f"{GROUPS}/{ref}", body)

        updated = resp.json
        expected = {**group, **body}
        if "max_parallel_subclouds" in body:
            expected["max_parallel_subclouds"] = int(body["max_parallel_subclouds"])
        assert {k: v for k, v in updated.items() if k != "updated-at"} == {
            k: v for k, v in expected.items() if k != "updated-at"
        }
        assert api.get(f"{GROUPS}/{group['id']}").json == updated
        assert parse_timestamp(updated["updated-at"]) >= parse_timestamp(updated["created-at"])

    def test_renamed_group_is_found_by_its_new_name_only(self, api, group):
        api.patch_json(f"{GROUPS}/edge", {"name": "core"})

        assert api.get(f"{GROUPS}/core").json["id"] == group["id"]
        assert_error(api.get(f"{GROUPS}/edge", expect_errors=True), 404, GROUP_NOT_FOUND)

    def test_renaming_frees_the_old_name(self, api, group):
        api.patch_json(f"{GROUPS}/edge", {"name": "core"})

        assert create_group(api, name="edge")["id"] == 3

    def test_keeping_the_same_name_is_allowed(self, api, group):
        resp = api.patch_json(f"{GROUPS}/edge", {"name": "edge", "description": "same name"})

        assert resp.json["name"] == "edge"
        assert resp.json["description"] == "same name"

    @pytest.mark.parametrize("name", ["core", "Default"])
    def test_renaming_to_a_taken_name_is_rejected(self, api, group, name):
        create_group(api, name="core")
        message = NAME_EXISTS if name == "core" else INVALID_NAME

        patch_error(api, "edge", {"name": name}, 400, message)

    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_names_are_rejected(self, api, group, name):
        patch_error(api, "edge", {"name": name}, 400, INVALID_NAME)

    @pytest.mark.parametrize("description", INVALID_DESCRIPTIONS)
    def test_invalid_descriptions_are_rejected(self, api, group, description):
        patch_error(api, "edge", {"description": description}, 400, INVALID_DESCRIPTION)

    @pytest.mark.parametrize("apply_type", INVALID_APPLY_TYPES)
    def test_invalid_apply_types_are_rejected(self, api, group, apply_type):
        patch_error(api, "edge", {"update_apply_type": apply_type}, 400, INVALID_APPLY_TYPE)

    @pytest.mark.parametrize("value", INVALID_MAX_PARALLELS)
    def test_invalid_max_parallel_is_rejected(self, api, group, value):
        patch_error(api, "edge", {"max_parallel_subclouds": value}, 400, INVALID_MAX_PARALLEL)

    def test_a_valid_change_with_an_invalid_one_changes_nothing(self, api, group):
        body = {"name": "core", "description": "fine", "max_parallel_subclouds": 5001}

        patch_error(api, "edge", body, 400, INVALID_MAX_PARALLEL)

    @pytest.mark.parametrize(
        "body",
        [{}, {"colour": "blue"}, {"id": 5}, {"created-at": "2000-01-01"}, {"subclouds": []}],
        ids=["empty", "unknown", "id", "created-at", "subclouds"],
    )
    def test_nothing_to_update(self, api, group, body):
        patch_error(api, "edge", body, 400, "nothing to update")

    def test_unknown_keys_beside_a_change_are_ignored(self, api, group):
        resp = api.patch_json(f"{GROUPS}/edge", {"description": "new", "id": 7, "colour": "red"})

        assert resp.json["id"] == group["id"]
        assert resp.json["description"] == "new"
        assert set(resp.json) == GROUP_KEYS

    @pytest.mark.parametrize("ref", ["99", "nope", "9" * 30])
    def test_unknown_group_is_404(self, api, group, ref):
        patch_error(api, ref, {"description": "new"}, 404, GROUP_NOT_FOUND)

    def test_unknown_group_is_404_even_with_an_invalid_body(self, api, group):
        patch_error(api, "nope", {"max_parallel_subclouds": 0}, 404, GROUP_NOT_FOUND)


class TestDelete:
    @pytest.mark.parametrize("by", ["id", "name"])
    def test_empty_group_is_deleted(self, api, group, by):
        ref = group["id"] if by == "id" else group["name"]

        resp = api.delete(f"{GROUPS}/{ref}")

        # 200 with the group as it was: StarlingX's client takes 204 for a failure.
        assert resp.status_int == 200
        assert resp.json == group
        assert api.get(GROUPS).json["subcloud_groups"] == [api.get(f"{GROUPS}/Default").json]
        for gone in (str(group["id"]), "edge"):
            assert_error(api.get(f"{GROUPS}/{gone}", expect_errors=True), 404, GROUP_NOT_FOUND)
            assert_error(
                api.get(f"{GROUPS}/{gone}/subclouds", expect_errors=True), 404, GROUP_NOT_FOUND
            )

    def test_deleted_name_can_be_reused(self, api, group):
        api.delete(f"{GROUPS}/edge")

        assert create_group(api, name="edge")["name"] == "edge"

    @pytest.mark.parametrize("ref", ["99", "nope"])
    def test_unknown_group_is_404(self, api, group, ref):
        before = snapshot(api)

        resp = api.delete(f"{GROUPS}/{ref}", expect_errors=True)

        assert_error(resp, 404, GROUP_NOT_FOUND)
        assert snapshot(api) == before

    def test_deleted_group_cannot_be_deleted_again(self, api, group):
        api.delete(f"{GROUPS}/edge")

        assert_error(api.delete(f"{GROUPS}/edge", expect_errors=True), 404, GROUP_NOT_FOUND)

    @pytest.mark.parametrize("by", ["id", "name"])
    def test_group_with_subclouds_is_not_deleted(self, api, group, by):
        create_subcloud(api, "sc1", group="edge")
        ref = group["id"] if by == "id" else group["name"]
        before = snapshot(api)

        resp = api.delete(f"{GROUPS}/{ref}", expect_errors=True)

        assert_error(resp, 409, "Subcloud Group not empty")
        assert snapshot(api) == before

    def test_group_emptied_of_its_subclouds_can_be_deleted(self, api, group):
        create_subcloud(api, "sc1", group="edge")
        api.patch_json("/v1.0/subclouds/sc1", {"group_id": 1})

        assert api.delete(f"{GROUPS}/edge").status_int == 200
        assert api.get("/v1.0/subclouds/sc1").json["group_id"] == 1

    def test_group_whose_subclouds_were_deleted_can_be_deleted(self, api, group):
        create_subcloud(api, "sc1", group="edge")
        api.delete("/v1.0/subclouds/sc1")

        assert api.delete(f"{GROUPS}/edge").status_int == 200


class TestListSubclouds:
    @pytest.fixture
    def members(self, api, group):
        """``sc1`` and ``sc3`` in ``edge``; ``sc2`` in Default."""
        return {
            "sc1": create_subcloud(api, "sc1", group="edge"),
            "sc2": create_subcloud(api, "sc2"),
            "sc3": create_subcloud(api, "sc3", group_id=group["id"]),
        }

    @pytest.mark.parametrize("ref", ["2", "edge"])
    def test_lists_the_groups_subclouds_in_id_order(self, api, members, ref):
        resp = api.get(f"{GROUPS}/{ref}/subclouds")

        assert resp.json == {"subclouds": [members["sc1"], members["sc3"]]}

    @pytest.mark.parametrize("ref", ["1", "Default"])
    def test_default_lists_the_subclouds_without_a_group(self, api, members, ref):
        assert api.get(f"{GROUPS}/{ref}/subclouds").json == {"subclouds": [members["sc2"]]}

    def test_members_are_rendered_as_in_the_subcloud_list(self, api, members):
        listed = {sc["name"]: sc for sc in api.get("/v1.0/subclouds").json["subclouds"]}

        for ref in ("Default", "edge"):
            for subcloud in api.get(f"{GROUPS}/{ref}/subclouds").json["subclouds"]:
                assert subcloud == listed[subcloud["name"]]

    def test_empty_group_lists_nothing(self, api, group):
        assert api.get(f"{GROUPS}/edge/subclouds").json == {"subclouds": []}

    def test_a_moved_subcloud_is_listed_in_its_new_group(self, api, members):
        api.patch_json("/v1.0/subclouds/sc1", {"group": "Default"})

        default = api.get(f"{GROUPS}/Default/subclouds").json["subclouds"]
        edge = api.get(f"{GROUPS}/edge/subclouds").json["subclouds"]
        assert [sc["name"] for sc in default] == ["sc1", "sc2"]
        assert [sc["name"] for sc in edge] == ["sc3"]

    def test_passwords_in_endpoints_are_masked(self, api, group):
        create_subcloud(api, "sc1", group="edge", endpoint="https://admin:Hunter2@sc1:8443")

        resp = api.get(f"{GROUPS}/edge/subclouds")

        assert resp.json["subclouds"][0]["endpoint"] == "https://admin:***@sc1:8443"
        assert "Hunter2" not in resp.text

    @pytest.mark.parametrize("ref", ["99", "nope", "9" * 30])
    def test_unknown_group_is_404(self, api, ref):
        resp = api.get(f"{GROUPS}/{ref}/subclouds", expect_errors=True)

        assert_error(resp, 404, GROUP_NOT_FOUND)


class TestNeverA500:
    """Odd JSON values in every field are a 400, never a server error."""

    ODD_VALUES = [None, True, 0, -1, 2**70, 1.5, "", " ", "\x00", [], [1], {}, {"a": 1}]

    @pytest.mark.parametrize("value", ODD_VALUES)
    @pytest.mark.parametrize(
        "field", ["name", "description", "update_apply_type", "max_parallel_subclouds"]
    )
    def test_odd_values_are_rejected_on_create_and_update(self, api, group, field, value):
        base = {} if field == "name" else {"name": "g"}
        before = snapshot(api)

        created = api.post_json(GROUPS, {**base, field: value}, expect_errors=True)
        updated = api.patch_json(f"{GROUPS}/edge", {field: value}, expect_errors=True)

        assert created.status_int == 400, created.text
        assert updated.status_int == 400, updated.text
        assert snapshot(api) == before
