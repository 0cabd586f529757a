"""``/v1.0/sw-update-strategy`` through the real app and a migrated SQLite database.

Validation (in the documented order), show, actions, delete and steps are checked with
no engine role running, so a strategy stays in the state the API put it in. The
lifecycle tests run every engine role in-process (``roles``) against simulated
subclouds. Every rejected request is checked for its status, its exact message, and for
leaving everything a user can see (and the strategy rows) exactly as it was; every
response body of every test is checked for the sysadmin password.
"""

import datetime
import json

import pytest
from sqlalchemy import func
from sqlalchemy import orm
from sqlalchemy import select
from sqlalchemy import text

from dcmanager.common import states
from dcmanager.conf import CONF
from dcmanager.db.sqlalchemy import models
from dcmanager.drivers import simulator
from dcmanager.orchestrator import service as orchestrator_service
from tests import releases as test_releases
from tests.functional import strategy_helpers as sh

STRATEGY = sh.STRATEGY
ACTIONS = f"{STRATEGY}/actions"
STEPS = sh.STEPS
SUBCLOUDS = "/v1.0/subclouds"
GROUPS = "/v1.0/subcloud-groups"
PASSWORD = sh.PASSWORD
VALID = {"type": "prestage", "sysadmin_password": PASSWORD}

STRATEGY_KEYS = {
    "id",
    "type",
    "subcloud-apply-type",
    "max-parallel-subclouds",
    "stop-on-failure",
    "state",
    "created-at",
    "updated-at",
    "extra-args",
    "eta",
}
STEP_KEYS = {
    "id",
    "cloud",
    "stage",
    "state",
    "details",
    "progress",
    "attempt",
    "retry-at",
    "history",
    "started-at",
    "finished-at",
    "created-at",
    "updated-at",
}
DEFAULT_EXTRA_ARGS = {
    "force": False,
    "prestage-software-version": "25.09",
    "for_install": False,
    "for_sw_deploy": False,
}

# The seed's curl samples, as sent.
SEED_CREATE = {
    "type": "prestage",
    "sysadmin_password": "TGk2OW51eCo=",
    "force": "true",
    "max-parallel-subclouds": "50",
    "group": "Default",
}

BODY_REQUIRED = "Body required"
MALFORMED = "Request body is malformed."
APPLY_TYPE_INVALID = "subcloud-apply-type invalid"
GROUP_INVALID = "Invalid group_id"
GROUP_EXCLUSIVE = "cloud_name and subcloud_group are mutually exclusive"
TYPE_REQUIRED = "type required"
TYPE_INVALID = "type invalid"
RELEASE_INVALID = "Specified release format is not supported. Version format must be MM.mm."
PASSWORD_REQUIRED = "subcloud sysadmin_password required"
PASSWORD_UNDECODABLE = (
    "Failed to decode subcloud sysadmin_password, verify the password is base64 encoded"
)
INSTALL_EXCLUSIVE = "for_install and for_sw_deploy are mutually exclusive"
NO_STEPS = "Strategy has no steps to apply"
EXISTS = "Strategy of type: 'prestage' already exists"
NOT_FOUND = "Strategy not found"
STEP_NOT_FOUND = "Strategy step not found"
ACTION_REQUIRED = "action required"
INVALID_ACTION = "Invalid action '{}': must be one of apply, pause, resume, abort, retry-failed"
STEP_STATES = (
    "initial, prestage-precheck, prestage-preparing-packages, prestaging-packages, "
    "prestaging-images, complete, failed, aborted, skipped, app-update-precheck, "
    "app-uploading, app-applying, app-rolling-back, app-cleanup, app-recovering"
)
OFFLINE = "Subcloud is offline."
UNMANAGED = "Subcloud is not managed."
DEPLOYING = "Subcloud deploy status is deploying, not complete."
PRESTAGING = "Subcloud is already prestaging."


def bool_invalid(value, field: str) -> str:
    return f"Invalid value '{value}' for {field} - must be True/False or 'true'/'false'"


def parallel_not_int(value) -> str:
    return f"max-parallel-subclouds invalid value. Value: {value}"


def parallel_out_of_range(value) -> str:
    return (
        f"Invalid max-parallel-subclouds value: {value}. For prestage strategy, "
        "the value must be between 1 and 5000."
    )


def state_conflict(state: str, action: str) -> str:
    return f"Strategy in state {state} cannot be {action}"


def skipped(name: str, reason: str) -> str:
    return f"Prestage skipped '{name}': {reason}"


# Helpers.

assert_error = sh.assert_error
raw = sh.request
db_rows = sh.db_rows
snapshot = sh.snapshot


def strategy_secret(engine) -> bytes | None:
    with orm.Session(engine) as session:
        return session.scalar(select(models.Strategy.secret))


def strategy_count(engine) -> int:
    with orm.Session(engine) as session:
        return session.scalar(select(func.count()).select_from(models.Strategy))


def create_error(api, db, body, status: int, message: str) -> None:
    """POST ``body`` (a dict, or bytes sent as they are), expect the error, and check
    that nothing changed."""
    before = snapshot(api, db)
    if isinstance(body, bytes):
        resp = raw(api, "POST", STRATEGY, body)
    else:
        resp = api.post_json(STRATEGY, body, expect_errors=True)
    assert_error(resp, status, message)
    assert snapshot(api, db) == before


def action_error(api, db, body, status: int, message: str, query: str = "") -> None:
    before = snapshot(api, db)
    if isinstance(body, bytes):
        resp = raw(api, "POST", ACTIONS + query, body)
    else:
        resp = api.post_json(ACTIONS + query, body, expect_errors=True)
    assert_error(resp, status, message)
    assert snapshot(api, db) == before


def delete_error(api, db, status: int, message: str, query: str = "") -> None:
    before = snapshot(api, db)
    assert_error(api.delete(STRATEGY + query, expect_errors=True), status, message)
    assert snapshot(api, db) == before


def get_error(api, db, path: str, status: int, message: str) -> None:
    before = snapshot(api, db)
    assert_error(api.get(path, expect_errors=True), status, message)
    assert snapshot(api, db) == before


def post_strategy(api, **fields) -> dict:
    return api.post_json(STRATEGY, {**VALID, **fields}).json


def act(api, action: str, query: str = "") -> dict:
    return api.post_json(ACTIONS + query, {"action": action}).json


def step_list(api, query: str = "") -> list[dict]:
    return api.get(STEPS + query).json["strategy-steps"]


def clouds(step_list_: list[dict]) -> list[str]:
    return [step["cloud"] for step in step_list_]


def parse_timestamp(value: str) -> datetime.datetime:
    stamp = datetime.datetime.fromisoformat(value)
    assert stamp.utcoffset() == datetime.timedelta(0), value
    return stamp


def add_group(api, name: str, apply_type: str = "parallel", max_parallel: int = 2) -> dict:
    return api.post_json(
        GROUPS,
        {"name": name, "update_apply_type": apply_type, "max_parallel_subclouds": max_parallel},
    ).json


def standalone_prestage(api, name: str) -> dict:
    """Start a standalone prestage (with no manager running, it stays ``prestaging``)."""
    return api.patch_json(f"{SUBCLOUDS}/{name}/prestage", {"sysadmin_password": PASSWORD}).json


# Fixtures.


@pytest.fixture(autouse=True)
def responses(api, monkeypatch):
    """Every response of the test; none may carry the password, plain or base64."""
    seen = sh.record_responses(api, monkeypatch)
    yield seen
    sh.assert_no_password(seen)


@pytest.fixture
def online(api, conf):
    """``sc1``, ``sc2``, ``sc3``: managed and online (one audit round), in Default."""
    names = ["sc1", "sc2", "sc3"]
    for name in names:
        sh.register(api, name)
    sh.audit_once(conf)
    return names


@pytest.fixture
def ineligible(api, conf, online):
    """Besides the online ``sc1..sc3`` in Default, group ``mixed`` (id 2) holds ``good``
    (eligible) and one subcloud per eligibility problem: ``down`` (offline),
    ``idle`` (unmanaged), ``deploying`` (reports deploy status deploying) and ``busy``
    (already prestaging: a standalone prestage that no manager runs)."""
    add_group(api, "mixed")
    sh.register(api, "good", group="mixed")
    sh.register(api, "down", "offline=true", group="mixed")
    sh.register(api, "idle", group="mixed", managed=False)
    sh.register(api, "deploying", "deploy_status=deploying", group="mixed")
    sh.register(api, "busy", group="mixed")
    sh.audit_once(conf)
    assert standalone_prestage(api, "busy")["prestage-status"] == "prestaging"
    return {
        "down": OFFLINE,
        "idle": UNMANAGED,
        "deploying": DEPLOYING,
        "busy": PRESTAGING,
    }


# Create: request body.


class TestCreateBody:
    def test_empty_body(self, api, db, online):
        create_error(api, db, b"", 400, BODY_REQUIRED)

    @pytest.mark.parametrize("body", [b"abc", b"{", b'{"type": "prestage",}', b"\xff\xfe"])
    def test_body_that_is_not_json(self, api, db, online, body):
        create_error(api, db, body, 400, MALFORMED)

    @pytest.mark.parametrize("body", [b"[]", b'"prestage"', b"null", b"1"])
    def test_body_that_is_not_an_object(self, api, db, online, body):
        create_error(api, db, body, 400, MALFORMED)

    def test_unknown_keys_are_ignored(self, api, online):
        strategy = post_strategy(api, bogus=1, **{"sysadmin-password": "x"})

        assert strategy["state"] == "initial"
        assert strategy["extra-args"] == DEFAULT_EXTRA_ARGS


# Create: each rule of the documented order.


class TestCreateForce:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (True, True),
            (False, False),
            ("true", True),
            ("false", False),
            ("TRUE", True),
            ("False", False),
        ],
    )
    def test_valid_values(self, api, online, value, expected):
        strategy = post_strategy(api, force=value)

        assert strategy["extra-args"]["force"] is expected
        assert api.get(STRATEGY).json["extra-args"]["force"] is expected

    @pytest.mark.parametrize("value", ["abc", "yes", "1", "", 1, 0])
    def test_invalid_values(self, api, db, online, value):
        create_error(api, db, {**VALID, "force": value}, 400, bool_invalid(value, "force"))

    def test_missing_means_false(self, api, online):
        assert post_strategy(api)["extra-args"]["force"] is False


class TestCreateApplyType:
    @pytest.mark.parametrize(("value", "max_parallel"), [("parallel", 2), ("serial", 1)])
    def test_valid_values(self, api, online, value, max_parallel):
        strategy = post_strategy(api, **{"subcloud-apply-type": value})

        assert strategy["subcloud-apply-type"] == value
        assert strategy["max-parallel-subclouds"] == max_parallel

    @pytest.mark.parametrize("value", ["bogus", "Serial", "PARALLEL", "", 1, True])
    def test_invalid_values(self, api, db, online, value):
        create_error(api, db, {**VALID, "subcloud-apply-type": value}, 400, APPLY_TYPE_INVALID)

    def test_missing_means_parallel(self, api, online):
        assert post_strategy(api)["subcloud-apply-type"] == "parallel"


class TestCreateGroup:
    @pytest.fixture
    def groups(self, api, conf, online):
        """``edge`` (id 2, parallel, 7) holding ``e1``, ``e2``; ``line`` (id 3, serial, 5)
        holding ``l1``; ``empty`` (id 4) with no member; ``sc1..sc3`` in Default."""
        add_group(api, "edge", "parallel", 7)
        add_group(api, "line", "serial", 5)
        add_group(api, "empty")
        sh.register(api, "e1", group="edge")
        sh.register(api, "e2", group="edge")
        sh.register(api, "l1", group="line")
        sh.audit_once(conf)

    @pytest.mark.parametrize("key", ["subcloud_group", "group"])
    @pytest.mark.parametrize("ref", [2, "2", "edge"])
    def test_group_by_id_or_name_scopes_the_steps(self, api, groups, key, ref):
        strategy = post_strategy(api, **{key: ref})

        assert strategy["state"] == "initial"
        assert clouds(step_list(api)) == ["e1", "e2"]

    @pytest.mark.parametrize("ref", [1, "1", "Default"])
    def test_default_group(self, api, groups, ref):
        strategy = post_strategy(api, group=ref)

        assert (strategy["subcloud-apply-type"], strategy["max-parallel-subclouds"]) == (
            "parallel",
            2,
        )
        assert clouds(step_list(api)) == ["sc1", "sc2", "sc3"]

    @pytest.mark.parametrize(
        ("fields", "apply_type", "max_parallel"),
        [
            ({"group": "edge"}, "parallel", 7),
            ({"group": "edge", "max-parallel-subclouds": "50"}, "parallel", 50),
            ({"group": "edge", "max-parallel-subclouds": 1}, "parallel", 1),
            ({"group": "edge", "subcloud-apply-type": "serial"}, "serial", 1),
            ({"group": "line"}, "serial", 1),
            ({"group": "line", "subcloud-apply-type": "parallel"}, "parallel", 5),
            (
                {"group": "line", "subcloud-apply-type": "parallel", "max-parallel-subclouds": 9},
                "parallel",
                9,
            ),
            ({"group": "line", "max-parallel-subclouds": 9}, "serial", 1),
            ({"subcloud_group": "Default", "max-parallel-subclouds": "50"}, "parallel", 50),
        ],
    )
    def test_group_defaults_and_explicit_overrides(
        self, api, groups, fields, apply_type, max_parallel
    ):
        strategy = post_strategy(api, **fields)

        assert strategy["subcloud-apply-type"] == apply_type
        assert strategy["max-parallel-subclouds"] == max_parallel
        shown = api.get(STRATEGY).json
        assert (shown["subcloud-apply-type"], shown["max-parallel-subclouds"]) == (
            apply_type,
            max_parallel,
        )

    @pytest.mark.parametrize("key", ["subcloud_group", "group"])
    @pytest.mark.parametrize("ref", [99, "99", "nogroup", "", "default ", True, 1.5, [1], {}])
    def test_unknown_group(self, api, db, groups, key, ref):
        create_error(api, db, {**VALID, key: ref}, 400, GROUP_INVALID)

    @pytest.mark.parametrize("key", ["subcloud_group", "group"])
    @pytest.mark.parametrize("ref", ["edge", 2, "nogroup"])
    def test_group_and_cloud_name_are_mutually_exclusive(self, api, db, groups, key, ref):
        create_error(api, db, {**VALID, key: ref, "cloud_name": "e1"}, 400, GROUP_EXCLUSIVE)

    def test_a_null_group_is_no_group(self, api, groups):
        post_strategy(api, group=None, cloud_name="e1")

        assert clouds(step_list(api)) == ["e1"]

    def test_an_empty_group_has_no_steps(self, api, db, groups):
        create_error(api, db, {**VALID, "group": "empty"}, 422, NO_STEPS)


class TestCreateMaxParallel:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [(1, 1), ("1", 1), (50, 50), ("50", 50), (5000, 5000), ("5000", 5000)],
    )
    def test_valid_values(self, api, online, value, expected):
        strategy = post_strategy(api, **{"max-parallel-subclouds": value})

        assert strategy["max-parallel-subclouds"] == expected
        assert api.get(STRATEGY).json["max-parallel-subclouds"] == expected

    @pytest.mark.parametrize("value", ["abc", "", "1.5", 2.5, "1e3", "0x10", True, [2], {}])
    def test_not_an_integer(self, api, db, online, value):
        create_error(
            api, db, {**VALID, "max-parallel-subclouds": value}, 400, parallel_not_int(value)
        )

    @pytest.mark.parametrize(
        ("value", "shown"), [(0, 0), ("0", 0), (-1, -1), ("-5", -5), (5001, 5001), ("5001", 5001)]
    )
    def test_out_of_range(self, api, db, online, value, shown):
        create_error(
            api, db, {**VALID, "max-parallel-subclouds": value}, 400, parallel_out_of_range(shown)
        )

    def test_missing_means_two(self, api, online):
        assert post_strategy(api)["max-parallel-subclouds"] == 2

    def test_null_means_two(self, api, online):
        assert post_strategy(api, **{"max-parallel-subclouds": None})["max-parallel-subclouds"] == 2

    @pytest.mark.parametrize("value", [2, "50", 5000])
    def test_serial_means_one(self, api, online, value):
        strategy = post_strategy(
            api, **{"subcloud-apply-type": "serial", "max-parallel-subclouds": value}
        )

        assert strategy["max-parallel-subclouds"] == 1


class TestCreateType:
    @pytest.mark.parametrize("body", [{}, {"type": ""}, {"type": None}])
    def test_type_required(self, api, db, online, body):
        create_error(api, db, {"sysadmin_password": PASSWORD, **body}, 400, TYPE_REQUIRED)

    @pytest.mark.parametrize("value", ["upgrade", "Prestage", "PRESTAGE", " prestage", 1, True])
    def test_type_invalid(self, api, db, online, value):
        create_error(api, db, {**VALID, "type": value}, 400, TYPE_INVALID)

    def test_type_shown(self, api, online):
        assert post_strategy(api)["type"] == "prestage"


class TestCreatePrestageArgs:
    @pytest.mark.parametrize("release", ["24.09", "25.09"])
    def test_releases_in_the_store(self, api, online, release):
        strategy = post_strategy(api, release=release)

        assert strategy["extra-args"]["prestage-software-version"] == release

    def test_default_release_is_the_newest_upload(self, api, online):
        # Uploaded after 24.09 and 25.09: the last upload, not the highest version.
        test_releases.seed(CONF.prestage.release_store, ("23.09",))

        assert post_strategy(api)["extra-args"]["prestage-software-version"] == "23.09"

    @pytest.mark.parametrize("release", ["00.00", "99.12"])
    def test_release_not_in_the_store(self, api, online, release):
        answer = api.post_json(STRATEGY, {**VALID, "release": release}, status=400).json
        assert answer["message"] == (
            f"Release {release} is not in the release store: upload it first "
            "(dcmanager release upload)"
        )
        api.get(STRATEGY, status=404)

    @pytest.mark.empty_release_store
    def test_empty_store(self, api, online):
        answer = api.post_json(STRATEGY, VALID, status=400).json
        assert answer["message"] == (
            "No release in the release store: upload one first (dcmanager release upload)"
        )
        api.get(STRATEGY, status=404)

    @pytest.mark.parametrize(
        "release",
        [
            "25.9",
            "2509",
            "25.09.1",
            "v25.09",
            "25-09",
            "ab.cd",
            "",
            " 25.09",
            "25.09\n",
            25.09,
            2509,
            ["25.09"],
        ],
    )
    def test_invalid_releases(self, api, db, online, release):
        create_error(api, db, {**VALID, "release": release}, 400, RELEASE_INVALID)

    @pytest.mark.parametrize("body", [{}, {"sysadmin_password": ""}, {"sysadmin_password": None}])
    def test_password_required(self, api, db, online, body):
        create_error(api, db, {"type": "prestage", **body}, 400, PASSWORD_REQUIRED)

    @pytest.mark.parametrize(
        "value",
        [
            "abc",
            "TGk2OW51eCo",
            "TGk2 OW51eCo=",
            "TGk2OW51eCo=\n",
            "!!!!",
            "Li69nux*",
            "é",
            123,
            True,
            ["TGk2OW51eCo="],
        ],
    )
    def test_password_not_base64(self, api, db, online, value):
        create_error(
            api, db, {"type": "prestage", "sysadmin_password": value}, 400, PASSWORD_UNDECODABLE
        )

    @pytest.mark.parametrize(
        ("fields", "for_install", "for_sw_deploy"),
        [
            ({}, False, False),
            ({"for_install": True}, True, False),
            ({"for_install": "TRUE", "for_sw_deploy": "false"}, True, False),
            ({"for_sw_deploy": "true"}, False, True),
            ({"for_install": False, "for_sw_deploy": True}, False, True),
        ],
    )
    def test_install_flags(self, api, online, fields, for_install, for_sw_deploy):
        extra = post_strategy(api, **fields)["extra-args"]

        assert (extra["for_install"], extra["for_sw_deploy"]) == (for_install, for_sw_deploy)

    @pytest.mark.parametrize("field", ["for_install", "for_sw_deploy"])
    def test_invalid_install_flags(self, api, db, online, field):
        create_error(api, db, {**VALID, field: "abc"}, 400, bool_invalid("abc", field))

    def test_install_flags_are_mutually_exclusive(self, api, db, online):
        create_error(
            api, db, {**VALID, "for_install": "true", "for_sw_deploy": True}, 400, INSTALL_EXCLUSIVE
        )


class TestCreateStopOnFailure:
    @pytest.mark.parametrize(
        ("value", "expected"), [(True, True), ("true", True), ("FALSE", False), (False, False)]
    )
    def test_valid_values(self, api, online, value, expected):
        strategy = post_strategy(api, **{"stop-on-failure": value})

        assert strategy["stop-on-failure"] is expected
        assert api.get(STRATEGY).json["stop-on-failure"] is expected

    @pytest.mark.parametrize("value", ["abc", "yes", "", 1])
    def test_invalid_values(self, api, db, online, value):
        create_error(
            api,
            db,
            {**VALID, "stop-on-failure": value},
            400,
            bool_invalid(value, "stop-on-failure"),
        )

    def test_missing_means_false(self, api, online):
        assert post_strategy(api)["stop-on-failure"] is False


class TestCreateScope:
    def test_no_scope_means_every_subcloud(self, api, online):
        post_strategy(api)

        assert clouds(step_list(api)) == ["sc1", "sc2", "sc3"]

    def test_one_named_subcloud(self, api, online):
        post_strategy(api, cloud_name="sc2")

        steps = step_list(api)
        assert clouds(steps) == ["sc2"]
        assert steps[0]["state"] == "initial"

    @pytest.mark.parametrize("name", ["nope", "SC1", "sc1 ", "1", "", 1, True])
    def test_unknown_subcloud(self, api, db, online, name):
        create_error(api, db, {**VALID, "cloud_name": name}, 400, f"Subcloud {name} does not exist")

    @pytest.mark.parametrize("name", ["down", "idle", "deploying", "busy"])
    def test_one_ineligible_subcloud(self, api, db, ineligible, name):
        create_error(api, db, {**VALID, "cloud_name": name}, 400, skipped(name, ineligible[name]))

    def test_an_offline_unmanaged_subcloud_is_reported_offline(self, api, db, online):
        sh.register(api, "new", managed=False)

        create_error(api, db, {**VALID, "cloud_name": "new"}, 400, skipped("new", OFFLINE))

    def test_ineligible_group_members_become_skipped_steps(self, api, ineligible):
        strategy = post_strategy(api, group="mixed")

        assert strategy["state"] == "initial"
        steps = step_list(api)
        assert clouds(steps) == ["good", "down", "idle", "deploying", "busy"]
        by_cloud = {step["cloud"]: step for step in steps}
        assert (by_cloud["good"]["state"], by_cloud["good"]["details"]) == ("initial", None)
        assert by_cloud["good"]["finished-at"] is None
        for name, reason in ineligible.items():
            assert (by_cloud[name]["state"], by_cloud[name]["details"]) == ("skipped", reason)
            assert by_cloud[name]["started-at"] is None
            assert by_cloud[name]["finished-at"] is not None

    def test_ineligible_subclouds_are_skipped_without_a_group_too(self, api, ineligible):
        post_strategy(api)

        states = {step["cloud"]: step["state"] for step in step_list(api)}
        assert states == {
            "sc1": "initial",
            "sc2": "initial",
            "sc3": "initial",
            "good": "initial",
            "down": "skipped",
            "idle": "skipped",
            "deploying": "skipped",
            "busy": "skipped",
        }

    def test_a_group_with_no_eligible_member(self, api, db, ineligible):
        api.patch_json(f"{SUBCLOUDS}/good", {"management-state": "unmanaged"})

        create_error(api, db, {**VALID, "group": "mixed"}, 422, NO_STEPS)

    def test_no_subcloud_at_all(self, api, db):
        create_error(api, db, VALID, 422, NO_STEPS)

    def test_no_eligible_subcloud_at_all(self, api, db):
        sh.register(api, "sc1")

        create_error(api, db, VALID, 422, NO_STEPS)

    def test_prestage_status_complete_or_failed_is_eligible(self, api, db, online):
        with orm.Session(db) as session, session.begin():
            session.get(models.Subcloud, 1).prestage_status = "failed"
            session.get(models.Subcloud, 2).prestage_status = "complete"

        post_strategy(api)

        assert [step["state"] for step in step_list(api)] == ["initial"] * 3


class TestCreateOrder:
    """A body with several problems gets the message of the first in the contract's
    order: force, apply type, group, max parallel, type, release, password, stop on
    failure, cloud name, then 422."""

    # Each problem, in the documented order. The body for problem k carries problems
    # k..n, so the message must be k's. The group problem comes with a cloud_name
    # (problem n), so what it reports is their exclusion.
    CASCADE = [
        ({"force": "abc"}, bool_invalid("abc", "force")),
        ({"subcloud-apply-type": "bogus"}, APPLY_TYPE_INVALID),
        ({"subcloud_group": "nogroup"}, GROUP_EXCLUSIVE),
        ({"max-parallel-subclouds": "abc"}, parallel_not_int("abc")),
        ({"type": "upgrade"}, TYPE_INVALID),
        ({"release": "25.9"}, RELEASE_INVALID),
        ({"sysadmin_password": "abc"}, PASSWORD_UNDECODABLE),
        ({"stop-on-failure": "abc"}, bool_invalid("abc", "stop-on-failure")),
        ({"cloud_name": "nope"}, "Subcloud nope does not exist"),
    ]

    @pytest.mark.parametrize("first", range(len(CASCADE)))
    def test_cascade(self, api, db, online, first):
        body = dict(VALID)
        for problem, _ in self.CASCADE[first:]:
            body.update(problem)

        create_error(api, db, body, 400, self.CASCADE[first][1])

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                {"force": "abc", "sysadmin_password": "abc", "group": 99, "release": "x"},
                bool_invalid("abc", "force"),
            ),
            (
                {"subcloud-apply-type": "x", "group": "edge", "cloud_name": "sc1"},
                APPLY_TYPE_INVALID,
            ),
            ({"group": 99, "max-parallel-subclouds": 0}, GROUP_INVALID),
            ({"group": "nogroup", "type": None}, GROUP_INVALID),
            ({"max-parallel-subclouds": 0, "sysadmin_password": None}, parallel_out_of_range(0)),
            ({"max-parallel-subclouds": 5001, "release": "x"}, parallel_out_of_range(5001)),
            ({"max-parallel-subclouds": "x", "type": None}, parallel_not_int("x")),
            ({"type": None, "sysadmin_password": None}, TYPE_REQUIRED),
            ({"type": "", "release": "x"}, TYPE_REQUIRED),
            ({"type": "x", "sysadmin_password": "abc"}, TYPE_INVALID),
            ({"release": "x", "sysadmin_password": None}, RELEASE_INVALID),
            ({"sysadmin_password": None, "for_install": "x"}, PASSWORD_REQUIRED),
            ({"sysadmin_password": "", "stop-on-failure": "x"}, PASSWORD_REQUIRED),
            ({"for_install": "x", "stop-on-failure": "x"}, bool_invalid("x", "for_install")),
            (
                {"for_install": True, "for_sw_deploy": True, "stop-on-failure": "x"},
                INSTALL_EXCLUSIVE,
            ),
            ({"stop-on-failure": "x", "cloud_name": "down"}, bool_invalid("x", "stop-on-failure")),
            ({"stop-on-failure": "x", "group": "mixed"}, bool_invalid("x", "stop-on-failure")),
        ],
    )
    def test_pairs(self, api, db, ineligible, body, message):
        create_error(api, db, {**VALID, **body}, 400, message)

    def test_unknown_subcloud_before_nothing_to_apply(self, api, db):
        create_error(api, db, {**VALID, "cloud_name": "nope"}, 400, "Subcloud nope does not exist")

    def test_every_rule_before_nothing_to_apply(self, api, db):
        create_error(
            api, db, {**VALID, "stop-on-failure": "x"}, 400, bool_invalid("x", "stop-on-failure")
        )


class TestSeedMalformedSamples:
    """The seed's four malformed curl samples, as sent (JSON content type)."""

    def test_malformed_data(self, api, db, online):
        create_error(api, db, b"abc", 400, MALFORMED)

    def test_missing_mandatory_parameter(self, api, db, online):
        create_error(api, db, b'{"type": "prestage"}', 400, PASSWORD_REQUIRED)

    def test_sysadmin_password_not_encoded(self, api, db, online):
        create_error(
            api, db, b'{"type": "prestage", "sysadmin_password": "abc"}', 400, PASSWORD_UNDECODABLE
        )

    def test_invalid_force_option_value(self, api, db, online):
        body = b'{"type": "prestage", "sysadmin_password": "TGk2OW51eCo=", "force": "abc"}'
        create_error(api, db, body, 400, bool_invalid("abc", "force"))


class TestOnlyOneStrategy:
    @pytest.mark.parametrize("actions", [[], ["apply"], ["apply", "abort"]])
    def test_second_create_is_409(self, api, db, online, actions):
        post_strategy(api, cloud_name="sc1")
        for action in actions:
            act(api, action)

        create_error(api, db, {**VALID, "cloud_name": "sc2"}, 409, EXISTS)
        create_error(api, db, dict(SEED_CREATE), 409, EXISTS)

    def test_second_create_while_deleting_is_409(self, api, db, online):
        post_strategy(api)
        api.delete(STRATEGY)

        create_error(api, db, VALID, 409, EXISTS)

    def test_an_invalid_second_create_reports_its_first_problem(self, api, db, online):
        post_strategy(api)

        create_error(api, db, {**VALID, "force": "abc"}, 400, bool_invalid("abc", "force"))


# Show.


class TestShow:
    def test_no_strategy(self, api, db, online):
        get_error(api, db, STRATEGY, 404, NOT_FOUND)
        get_error(
            api, db, f"{STRATEGY}?type=prestage", 404, "Strategy of type 'prestage' not found"
        )
        get_error(api, db, STEPS, 404, NOT_FOUND)
        get_error(api, db, f"{STEPS}/sc1", 404, NOT_FOUND)

    def test_fields_of_a_new_strategy(self, api, db, online):
        created = post_strategy(
            api,
            release="24.09",
            force="true",
            for_install="true",
            **{"max-parallel-subclouds": "3", "stop-on-failure": "TRUE"},
        )

        assert set(created) == STRATEGY_KEYS
        assert created["type"] == "prestage"
        assert created["subcloud-apply-type"] == "parallel"
        assert created["max-parallel-subclouds"] == 3
        assert created["stop-on-failure"] is True
        assert created["state"] == "initial"
        assert created["extra-args"] == {
            "force": True,
            "prestage-software-version": "24.09",
            "for_install": True,
            "for_sw_deploy": False,
        }
        created_at = parse_timestamp(created["created-at"])
        assert abs(datetime.datetime.now(datetime.UTC) - created_at) < datetime.timedelta(minutes=1)
        assert created["updated-at"] is None
        assert api.get(STRATEGY).json == created
        assert api.get(f"{STRATEGY}?type=prestage").json == created

    @pytest.mark.parametrize("kind", ["upgrade", "Prestage", "sw-deploy", "x y"])
    def test_wrong_type_is_404_everywhere(self, api, db, online, kind):
        post_strategy(api)
        query = f"?type={kind.replace(' ', '%20')}"
        message = f"Strategy of type '{kind}' not found"

        get_error(api, db, STRATEGY + query, 404, message)
        get_error(api, db, STEPS + query, 404, message)
        get_error(api, db, f"{STEPS}/sc1{query}", 404, message)
        action_error(api, db, {"action": "apply"}, 404, message, query)
        delete_error(api, db, 404, message, query)
        assert api.get(STRATEGY).json["state"] == "initial"

    def test_the_password_is_stored_encrypted_and_never_shown(self, api, db, online):
        created = post_strategy(api)

        secret = strategy_secret(db)
        assert secret
        assert PASSWORD.encode() not in secret
        assert sh.PLAIN_PASSWORD.encode() not in secret
        assert "sysadmin_password" not in json.dumps(created)
        # The autouse fixture checks every response body for the password itself.

    def test_the_time_of_a_change_is_shown(self, api, online):
        created = post_strategy(api)

        applied = act(api, "apply")

        assert applied["created-at"] == created["created-at"]
        assert parse_timestamp(applied["updated-at"]) >= parse_timestamp(created["created-at"])
        assert api.get(STRATEGY).json == applied


# Actions, with no orchestrator running: the strategy stays where the API put it.


class TestActions:
    def test_empty_body(self, api, db, online):
        post_strategy(api)
        action_error(api, db, b"", 400, BODY_REQUIRED)

    @pytest.mark.parametrize("body", [b"abc", b"[]", b'"apply"'])
    def test_malformed_body(self, api, db, online, body):
        post_strategy(api)
        action_error(api, db, body, 400, MALFORMED)

    @pytest.mark.parametrize("body", [{}, {"action": ""}, {"action": None}, {"type": "apply"}])
    def test_action_required(self, api, db, online, body):
        post_strategy(api)
        action_error(api, db, body, 400, ACTION_REQUIRED)

    @pytest.mark.parametrize("action", ["bogus", "APPLY", "Abort", "delete", "apply "])
    def test_unknown_action(self, api, db, online, action):
        post_strategy(api)
        action_error(
            api,
            db,
            {"action": action},
            400,
            INVALID_ACTION.format(action),
        )

    def test_an_invalid_action_is_400_even_with_no_strategy(self, api, db, online):
        action_error(api, db, {}, 400, ACTION_REQUIRED)
        action_error(api, db, {"action": "x"}, 400, INVALID_ACTION.format("x"))

    @pytest.mark.parametrize("action", ["apply", "abort"])
    def test_no_strategy(self, api, db, online, action):
        action_error(api, db, {"action": action}, 404, NOT_FOUND)
        action_error(
            api,
            db,
            {"action": action},
            404,
            "Strategy of type 'prestage' not found",
            "?type=prestage",
        )

    def test_abort_only_from_applying(self, api, db, online):
        post_strategy(api)
        action_error(api, db, {"action": "abort"}, 409, state_conflict("initial", "aborted"))

    def test_apply_abort_and_every_refusal_on_the_way(self, api, db, online):
        created = post_strategy(api)

        applied = act(api, "apply", "?type=prestage")
        assert applied["state"] == "applying"
        assert {k: v for k, v in applied.items() if k not in ("state", "updated-at")} == {
            k: v for k, v in created.items() if k not in ("state", "updated-at")
        }
        assert api.get(STRATEGY).json == applied
        action_error(api, db, {"action": "apply"}, 409, state_conflict("applying", "applied"))
        delete_error(api, db, 409, state_conflict("applying", "deleted"))
        create_error(api, db, VALID, 409, EXISTS)

        aborted = act(api, "abort")
        assert aborted["state"] == "abort requested"
        assert api.get(STRATEGY).json == aborted
        assert api.get(f"{STRATEGY}?type=prestage").json == aborted
        action_error(
            api, db, {"action": "abort"}, 409, state_conflict("abort requested", "aborted")
        )
        action_error(
            api, db, {"action": "apply"}, 409, state_conflict("abort requested", "applied")
        )
        delete_error(api, db, 409, state_conflict("abort requested", "deleted"))
        # Nothing ran: the steps are as they were created.
        assert [step["state"] for step in step_list(api)] == ["initial"] * 3


# Delete, with no orchestrator running: the strategy stays in ``deleting``.


class TestDelete:
    @pytest.mark.parametrize("query", ["", "?type=prestage"])
    def test_delete_from_initial(self, api, db, online, query):
        created = post_strategy(api)
        assert strategy_secret(db)

        deleting = api.delete(STRATEGY + query).json

        assert deleting["state"] == "deleting"
        assert deleting["id"] == created["id"]
        assert set(deleting) == STRATEGY_KEYS
        # The password goes at once, before the orchestrator removes the strategy.
        assert strategy_secret(db) is None
        assert strategy_count(db) == 1
        assert api.get(STRATEGY).json == deleting

    def test_every_action_is_refused_while_deleting(self, api, db, online):
        post_strategy(api)
        api.delete(STRATEGY)

        action_error(api, db, {"action": "apply"}, 409, state_conflict("deleting", "applied"))
        action_error(api, db, {"action": "abort"}, 409, state_conflict("deleting", "aborted"))
        delete_error(api, db, 409, state_conflict("deleting", "deleted"))

    def test_no_strategy(self, api, db, online):
        delete_error(api, db, 404, NOT_FOUND)
        delete_error(api, db, 404, "Strategy of type 'prestage' not found", "?type=prestage")

    def test_the_secret_stays_while_the_delete_is_refused(self, api, db, online):
        post_strategy(api)
        act(api, "apply")
        secret = strategy_secret(db)

        delete_error(api, db, 409, state_conflict("applying", "deleted"))

        assert strategy_secret(db) == secret


# Steps.


class TestSteps:
    @pytest.fixture
    def five(self, api, conf):
        """A strategy over ``sc1..sc5``; ``sc2`` and ``sc4`` unmanaged (skipped).
        Returns the step ids by cloud."""
        for index in range(1, 6):
            sh.register(api, f"sc{index}", managed=index not in (2, 4))
        sh.audit_once(conf)
        post_strategy(api)
        return {step["cloud"]: step["id"] for step in step_list(api)}

    def test_list_is_ordered_by_id(self, api, five):
        steps = step_list(api)

        assert clouds(steps) == ["sc1", "sc2", "sc3", "sc4", "sc5"]
        ids = [step["id"] for step in steps]
        assert ids == sorted(ids) and len(set(ids)) == 5
        for step in steps:
            assert set(step) == STEP_KEYS
            assert step["stage"] == 1
            assert step["progress"] is None
            assert step["started-at"] is None
            parse_timestamp(step["created-at"])
        assert api.get(f"{STEPS}?type=prestage").json == {"strategy-steps": steps}

    def test_fields_of_initial_and_skipped_steps(self, api, five):
        steps = {step["cloud"]: step for step in step_list(api)}

        assert steps["sc1"]["state"] == "initial"
        assert steps["sc1"]["details"] is None
        assert steps["sc1"]["finished-at"] is None
        assert steps["sc2"]["state"] == "skipped"
        assert steps["sc2"]["details"] == UNMANAGED
        parse_timestamp(steps["sc2"]["finished-at"])

    def test_limit_and_marker_page_through(self, api, five):
        page1 = step_list(api, "?limit=2")
        page2 = step_list(api, f"?limit=2&marker={page1[-1]['id']}")
        page3 = step_list(api, f"?limit=2&marker={page2[-1]['id']}")
        page4 = step_list(api, f"?limit=2&marker={page3[-1]['id']}")

        assert [clouds(page) for page in (page1, page2, page3, page4)] == [
            ["sc1", "sc2"],
            ["sc3", "sc4"],
            ["sc5"],
            [],
        ]
        assert page1 + page2 + page3 == step_list(api)

    def test_marker_alone_and_big_limits(self, api, five):
        assert clouds(step_list(api, f"?marker={five['sc3']}")) == ["sc4", "sc5"]
        assert clouds(step_list(api, "?marker=0")) == ["sc1", "sc2", "sc3", "sc4", "sc5"]
        assert clouds(step_list(api, "?limit=10000")) == ["sc1", "sc2", "sc3", "sc4", "sc5"]
        assert clouds(step_list(api, "?limit=1")) == ["sc1"]

    def test_state_filter(self, api, five):
        assert clouds(step_list(api, "?state=skipped")) == ["sc2", "sc4"]
        assert clouds(step_list(api, "?state=initial")) == ["sc1", "sc3", "sc5"]
        assert step_list(api, "?state=complete") == []
        assert clouds(step_list(api, f"?state=initial&limit=1&marker={five['sc1']}")) == ["sc3"]

    @pytest.mark.parametrize("value", ["0", "10001", "abc", "-1", "", "1.5", "1e2", "%20"])
    def test_invalid_limit(self, api, db, five, value):
        shown = " " if value == "%20" else value
        get_error(
            api,
            db,
            f"{STEPS}?limit={value}",
            400,
            f"Invalid limit '{shown}': must be an integer from 1 to 10000",
        )

    @pytest.mark.parametrize("value", ["abc", "", "1.5", "sc1"])
    def test_invalid_marker(self, api, db, five, value):
        get_error(
            api, db, f"{STEPS}?marker={value}", 400, f"Invalid marker '{value}': must be a step id"
        )

    @pytest.mark.parametrize("value", ["bogus", "", "Initial", "running", "deleting"])
    def test_invalid_state(self, api, db, five, value):
        get_error(
            api,
            db,
            f"{STEPS}?state={value}",
            400,
            f"Invalid state '{value}': must be one of {STEP_STATES}",
        )

    def test_one_step_by_cloud_name(self, api, five):
        listed = {step["cloud"]: step for step in step_list(api)}

        for name in ("sc1", "sc2", "sc5"):
            assert api.get(f"{STEPS}/{name}").json == listed[name]
            assert api.get(f"{STEPS}/{name}?type=prestage").json == listed[name]

    @pytest.mark.parametrize("name", ["nope", "SC1", "1"])
    def test_unknown_step(self, api, db, five, name):
        get_error(api, db, f"{STEPS}/{name}", 404, STEP_NOT_FOUND)

    @pytest.mark.parametrize("name", ["index", "steps", "actions", "index_get"])
    def test_cloud_names_that_look_like_controller_names(self, api, conf, name):
        sh.register(api, name)
        sh.audit_once(conf)
        post_strategy(api)

        step = api.get(f"{STEPS}/{name}").json

        assert (step["cloud"], step["state"]) == (name, "initial")

    def test_a_subcloud_outside_the_strategy_has_no_step(self, api, db, online):
        post_strategy(api, cloud_name="sc1")

        get_error(api, db, f"{STEPS}/sc2", 404, STEP_NOT_FOUND)

    def test_deeper_paths_are_404(self, api, db, five):
        path = f"{STEPS}/sc1/details"
        get_error(api, db, path, 404, f"The resource could not be found: {path}")


class TestWrongMethods:
    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("PUT", STRATEGY, "GET, POST, DELETE"),
            ("PATCH", STRATEGY, "GET, POST, DELETE"),
            ("GET", ACTIONS, "POST"),
            ("PUT", ACTIONS, "POST"),
            ("DELETE", ACTIONS, "POST"),
            ("POST", STEPS, "GET"),
            ("DELETE", STEPS, "GET"),
            ("PATCH", STEPS, "GET"),
            ("POST", f"{STEPS}/sc1", "GET"),
            ("DELETE", f"{STEPS}/sc1", "GET"),
            ("OPTIONS", f"{STEPS}/sc1", "GET"),
        ],
    )
    def test_wrong_method_is_405_and_changes_nothing(self, api, db, online, method, path, allowed):
        post_strategy(api)
        before = snapshot(api, db)

        resp = raw(api, method, path, b'{"action": "apply", "type": "prestage"}')

        assert_error(resp, 405, f"Method {method} is not allowed on {path}")
        assert set(resp.headers["Allow"].split(", ")) == set(allowed.split(", "))
        assert snapshot(api, db) == before

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", f"{STRATEGY}/nope"),
            ("POST", f"{STRATEGY}/nope"),
            ("DELETE", f"{STRATEGY}/nope"),
            ("GET", f"{STRATEGY}/sc1"),
            ("POST", f"{ACTIONS}/apply"),
            ("GET", f"{STEPS}/sc1/details"),
        ],
    )
    def test_unknown_sub_path_is_404(self, api, db, online, method, path):
        post_strategy(api)
        before = snapshot(api, db)

        resp = raw(api, method, path, json.dumps(VALID).encode())

        assert_error(resp, 404, f"The resource could not be found: {path}")
        assert snapshot(api, db) == before


# Lifecycle with every engine role running.


class TestSeedCurlFlow:
    def test_create_get_apply_delete_as_in_the_seed(self, api, db, roles):
        sh.add_subclouds(api, ["sc1", "sc2", "sc3"], "delay=0.1")
        add_group(api, "other")
        sh.add_subclouds(api, ["o1"], group="other")

        created = raw(api, "POST", STRATEGY, json.dumps(SEED_CREATE).encode())
        assert created.status_int == 200, created.text
        strategy = created.json
        assert strategy["type"] == "prestage"
        assert strategy["subcloud-apply-type"] == "parallel"
        assert strategy["max-parallel-subclouds"] == 50
        assert strategy["stop-on-failure"] is False
        assert strategy["state"] == "initial"
        assert strategy["extra-args"] == {**DEFAULT_EXTRA_ARGS, "force": True}
        assert clouds(step_list(api)) == ["sc1", "sc2", "sc3"]

        shown = raw(api, "GET", f"{STRATEGY}?type=prestage")
        assert shown.status_int == 200
        assert shown.json == strategy

        applied = raw(api, "POST", f"{ACTIONS}?type=prestage", b'{"action": "apply"}')
        assert applied.status_int == 200, applied.text
        assert applied.json["state"] == "applying"

        final = sh.wait_final(api)
        assert final["state"] == "complete"
        steps = step_list(api)
        full_images = {
            "bytes_done": simulator.IMAGES_BYTES,
            "bytes_total": simulator.IMAGES_BYTES,
            "artifacts_done": simulator.IMAGES_COUNT,
            "artifacts_total": simulator.IMAGES_COUNT,
        }
        for step in steps:
            assert step["state"] == "complete"
            assert step["details"] is None
            assert step["progress"] == full_images
            assert parse_timestamp(step["started-at"]) <= parse_timestamp(step["finished-at"])
        for name in ("sc1", "sc2", "sc3"):
            subcloud = api.get(f"{SUBCLOUDS}/{name}").json
            assert subcloud["prestage-status"] == "complete"
            assert subcloud["prestage-versions"] == "25.09"
        assert api.get(f"{SUBCLOUDS}/o1").json["prestage-status"] is None

        # Nothing more can be done to a complete strategy but deleting it.
        action_error(api, db, {"action": "apply"}, 409, state_conflict("complete", "applied"))
        action_error(api, db, {"action": "abort"}, 409, state_conflict("complete", "aborted"))
        create_error(api, db, VALID, 409, EXISTS)

        deleted = raw(api, "DELETE", f"{STRATEGY}?type=prestage")
        assert deleted.status_int == 200
        assert deleted.json["state"] == "deleting"
        assert strategy_secret(db) is None
        sh.wait_for(
            lambda: api.get(STRATEGY, expect_errors=True).status_int == 404, what="the deletion"
        )
        get_error(
            api, db, f"{STRATEGY}?type=prestage", 404, "Strategy of type 'prestage' not found"
        )
        get_error(api, db, STRATEGY, 404, NOT_FOUND)
        get_error(api, db, STEPS, 404, NOT_FOUND)
        assert db_rows(db) == {"strategies": [], "steps": []}
        # The subclouds keep their outcome, and a new strategy may be created.
        assert api.get(f"{SUBCLOUDS}/sc1").json["prestage-status"] == "complete"
        assert post_strategy(api, group="other")["state"] == "initial"


class TestRun:
    def test_an_aborting_strategy_refuses_apply_abort_and_delete(self, api, db, online):
        """No orchestrator runs here: the strategy stays aborting as the database says."""
        post_strategy(api)
        with db.begin() as connection:
            connection.execute(text("UPDATE strategies SET state = 'aborting'"))
        for action, verb in (("apply", "applied"), ("abort", "aborted")):
            resp = api.post_json(ACTIONS, {"action": action}, expect_errors=True)
            assert_error(resp, 409, state_conflict("aborting", verb))
        assert_error(
            api.delete(STRATEGY, expect_errors=True), 409, state_conflict("aborting", "deleted")
        )
        assert api.get(STRATEGY).json["state"] == "aborting"

    def test_show_while_applying_aborting_and_aborted(self, api, db, roles):
        # Each phase takes a minute: the first step stays running until the test
        # makes its subcloud fast.
        sh.add_subclouds(api, ["sc1", "sc2", "sc3"], "delay=60")
        created = post_strategy(api, **{"max-parallel-subclouds": 1})
        assert api.get(STRATEGY).json == created

        assert act(api, "apply")["state"] == "applying"
        running = sh.wait_step(api, "sc1", lambda s: s["state"] == "prestage-precheck", "precheck")
        assert running["started-at"] is not None and running["finished-at"] is None
        assert api.get(STRATEGY).json["state"] == "applying"
        assert [s["state"] for s in step_list(api)][1:] == ["initial", "initial"]
        sh.wait_subcloud(api, "sc1", lambda s: s["prestage-status"] == "prestaging", "prestaging")
        assert [(s["id"], s["state"]) for s in step_list(api, "?state=prestage-precheck")] == [
            (running["id"], "prestage-precheck")
        ]
        resp = api.post_json(ACTIONS, {"action": "apply"}, expect_errors=True)
        assert_error(resp, 409, state_conflict("applying", "applied"))
        assert_error(
            api.delete(STRATEGY, expect_errors=True), 409, state_conflict("applying", "deleted")
        )

        assert act(api, "abort")["state"] == "abort requested"
        final = sh.wait_final(api)

        # The running step stopped where it was (its operation cancelled at the
        # subcloud); the others never started.
        assert final["state"] == "aborted" and final["id"] == created["id"]
        steps = {s["cloud"]: s for s in step_list(api)}
        assert [steps[n]["state"] for n in ("sc1", "sc2", "sc3")] == ["aborted"] * 3
        assert steps["sc1"]["details"] == "prestage-precheck: aborted"
        assert steps["sc1"]["finished-at"] is not None
        for name in ("sc2", "sc3"):
            assert steps[name]["details"] == orchestrator_service.ABORTED
            assert steps[name]["started-at"] is None
            assert steps[name]["finished-at"] is not None
        sc1 = api.get(f"{SUBCLOUDS}/sc1").json
        assert sc1["prestage-status"] == "failed"
        assert sc1["error-description"] == "Prestage aborted in prestage-precheck."
        assert api.get(f"{SUBCLOUDS}/sc2").json["prestage-status"] is None
        action_error(api, db, {"action": "apply"}, 409, state_conflict("aborted", "applied"))
        action_error(api, db, {"action": "abort"}, 409, state_conflict("aborted", "aborted"))
        create_error(api, db, VALID, 409, EXISTS)

        assert api.delete(STRATEGY).json["state"] == "deleting"
        sh.wait_for(
            lambda: api.get(STRATEGY, expect_errors=True).status_int == 404, what="the deletion"
        )

    @pytest.mark.slow
    def test_progress_is_shown_while_transferring(self, api, roles):
        sh.add_subclouds(api, ["sc1"], "delay=2")
        post_strategy(api)
        act(api, "apply")

        step = sh.wait_step(
            api,
            "sc1",
            lambda s: (
                s["state"] == "prestaging-packages"
                and s["progress"]
                and 0 < s["progress"]["bytes_done"] < s["progress"]["bytes_total"]
            ),
            "packages half transferred",
        )

        progress = step["progress"]
        assert set(progress) == {"bytes_done", "bytes_total", "artifacts_done", "artifacts_total"}
        assert progress["bytes_total"] == simulator.PACKAGES_BYTES
        assert progress["artifacts_total"] == simulator.PACKAGES_COUNT
        assert 0 <= progress["artifacts_done"] <= simulator.PACKAGES_COUNT
        assert api.get(STRATEGY).json["state"] == "applying"
        final_step = sh.wait_step(
            api, "sc1", lambda s: s["state"] == "complete", "complete", timeout=60
        )
        assert final_step["progress"]["bytes_done"] == simulator.IMAGES_BYTES
        assert sh.wait_final(api)["state"] == "complete"

    def test_a_failed_step_fails_the_strategy(self, api, db, roles):
        sh.add_subclouds(api, ["sc1"], "fail=packages")
        sh.add_subclouds(api, ["sc2"])
        post_strategy(api)
        act(api, "apply")

        final = sh.wait_final(api)

        assert final["state"] == "failed"
        steps = {s["cloud"]: s for s in step_list(api)}
        reason = "simulated failure of the packages transfer (fail=packages)"
        assert steps["sc1"]["state"] == "failed"
        assert steps["sc1"]["details"] == f"prestaging-packages: {reason}"
        assert steps["sc1"]["finished-at"] is not None
        assert steps["sc2"]["state"] == "complete"
        sc1 = api.get(f"{SUBCLOUDS}/sc1").json
        assert (sc1["prestage-status"], sc1["error-description"]) == ("failed", reason)
        assert api.get(f"{STEPS}/sc1").json == steps["sc1"]
        assert clouds(step_list(api, "?state=failed")) == ["sc1"]
        action_error(api, db, {"action": "apply"}, 409, state_conflict("failed", "applied"))
        action_error(api, db, {"action": "abort"}, 409, state_conflict("failed", "aborted"))

        assert api.delete(STRATEGY).json["state"] == "deleting"
        sh.wait_for(
            lambda: api.get(STRATEGY, expect_errors=True).status_int == 404, what="the deletion"
        )
        # A subcloud whose prestage failed may be prestaged again.
        assert post_strategy(api, cloud_name="sc1")["state"] == "initial"

    def test_stop_on_failure(self, api, roles):
        sh.add_subclouds(api, ["sc1"], "fail=precheck")
        sh.add_subclouds(api, ["sc2", "sc3"])
        post_strategy(api, **{"stop-on-failure": "true", "subcloud-apply-type": "serial"})
        act(api, "apply")

        assert sh.wait_final(api)["state"] == "failed"

        steps = {s["cloud"]: s for s in step_list(api)}
        assert steps["sc1"]["state"] == "failed"
        assert steps["sc1"]["details"] == (
            "prestage-precheck: Subcloud health check failed: "
            "simulated health check failure (fail=precheck)"
        )
        for name in ("sc2", "sc3"):
            assert steps[name]["state"] == "aborted"
            assert steps[name]["details"] == states.NOT_STARTED_STOPPED

    def test_subclouds_that_became_ineligible_after_create_fail_their_step(self, api, conf, roles):
        sh.add_subclouds(api, ["sc1", "sc2", "sc3", "sc4"])
        post_strategy(api)
        api.patch_json(f"{SUBCLOUDS}/sc2", {"management-state": "unmanaged"})
        sh.set_options(api, "sc3", "offline=true")
        sh.set_options(api, "sc4", "deploy_status=deploying")
        sh.wait_subcloud(api, "sc3", lambda s: s["availability-status"] == "offline", "offline")
        sh.wait_subcloud(api, "sc4", lambda s: s["deploy-status"] == "deploying", "deploying")
        assert [s["state"] for s in step_list(api)] == ["initial"] * 4

        act(api, "apply")

        assert sh.wait_final(api)["state"] == "failed"
        steps = {s["cloud"]: s for s in step_list(api)}
        assert steps["sc1"]["state"] == "complete"
        expected = {
            "sc2": "Subcloud sc2 is unmanaged.",
            "sc3": OFFLINE,
            "sc4": DEPLOYING,
        }
        for name, reason in expected.items():
            assert (steps[name]["state"], steps[name]["details"]) == (
                "failed",
                f"prestage-precheck: {reason}",
            )
            subcloud = api.get(f"{SUBCLOUDS}/{name}").json
            assert (subcloud["prestage-status"], subcloud["error-description"]) == (
                "failed",
                reason,
            )
