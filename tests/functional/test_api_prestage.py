"""``PATCH /v1.0/subclouds/{ref}/prestage``: the standalone prestage of one subcloud,
through the real app and a migrated SQLite database.

Validation, eligibility and the refusals while a strategy holds the subcloud are checked
with no engine role running (a started prestage then stays ``prestaging``); the runs use
every engine role in-process (``roles``) against simulated subclouds. Every rejected
request is checked for its status, its exact message, and for leaving everything (the
subclouds, the strategy, the step rows) exactly as it was; every response body of every
test is checked for the sysadmin password.
"""

import pytest
from sqlalchemy import func
from sqlalchemy import orm
from sqlalchemy import select

from dcmanager.db.sqlalchemy import models
from dcmanager.orchestrator import prestage as prestage_actions
from tests.functional import strategy_helpers as sh

SUBCLOUDS = "/v1.0/subclouds"
PASSWORD = sh.PASSWORD
VALID = {"sysadmin_password": PASSWORD}

BODY_REQUIRED = "Body required"
MALFORMED = "Request body is malformed."
NOT_FOUND = "Subcloud not found"
RELEASE_INVALID = "Specified release format is not supported. Version format must be MM.mm."
PASSWORD_REQUIRED = "subcloud sysadmin_password required"
PASSWORD_UNDECODABLE = (
    "Failed to decode subcloud sysadmin_password, verify the password is base64 encoded"
)
INSTALL_EXCLUSIVE = "for_install and for_sw_deploy are mutually exclusive"
OFFLINE = "Subcloud is offline."
UNMANAGED = "Subcloud is not managed."
DEPLOYING = "Subcloud deploy status is deploying, not complete."
PACKAGES_FAILURE = "simulated failure of the packages transfer (fail=packages)"


def bool_invalid(value, field: str) -> str:
    return f"Invalid value '{value}' for {field} - must be True/False or 'true'/'false'"


def skipped(name: str, reason: str) -> str:
    return f"Prestage skipped '{name}': {reason}"


def busy(name: str, reason: str) -> str:
    return f"Subcloud {name} {reason}"


def path(ref) -> str:
    return f"{SUBCLOUDS}/{ref}/prestage"


def prestage(api, ref, **fields) -> dict:
    return api.patch_json(path(ref), {**VALID, **fields}).json


def moving_snapshot(api, engine) -> dict:
    """What a rejected request could change while the engine works on something else:
    the states and arguments, not the times the engine updates as it polls."""
    strategy = api.get(sh.STRATEGY, expect_errors=True)
    steps = api.get(sh.STEPS, expect_errors=True)
    return {
        "subclouds": [
            {k: v for k, v in sc.items() if k != "updated-at"}
            for sc in api.get(SUBCLOUDS).json["subclouds"]
        ],
        "strategy": strategy.status_int == 200 and strategy.json["state"],
        "steps": steps.status_int == 200
        and [(s["cloud"], s["state"]) for s in steps.json["strategy-steps"]],
        "standalone": standalone_steps(engine),
        "step rows": step_count(engine),
    }


def prestage_error(api, db, ref, body, status: int, message: str, moving=False) -> None:
    """PATCH ``body`` (a dict, or bytes sent as they are), expect the error, and check
    that nothing changed (``moving``: while the engine runs something)."""
    take = moving_snapshot if moving else sh.snapshot
    before = take(api, db)
    if isinstance(body, bytes):
        resp = sh.request(api, "PATCH", path(ref), body)
    else:
        resp = api.patch_json(path(ref), body, expect_errors=True)
    sh.assert_error(resp, status, message)
    assert take(api, db) == before


def standalone_steps(engine) -> list[tuple]:
    """The standalone prestage steps: (subcloud id, state, secret, extra args)."""
    step = models.StrategyStep
    with orm.Session(engine) as session:
        return [
            tuple(row)
            for row in session.execute(
                select(step.subcloud_id, step.state, step.secret, step.extra_args)
                .where(step.strategy_id.is_(None))
                .order_by(step.id)
            ).all()
        ]


def step_count(engine) -> int:
    with orm.Session(engine) as session:
        return session.scalar(select(func.count()).select_from(models.StrategyStep))


def prestage_status(api, name: str) -> str | None:
    return api.get(f"{SUBCLOUDS}/{name}").json["prestage-status"]


def wait_prestage_end(api, name: str, timeout: float = 60.0) -> dict:
    return sh.wait_subcloud(
        api,
        name,
        lambda s: s["prestage-status"] in ("complete", "failed"),
        "the prestage to end",
        timeout,
    )


@pytest.fixture(autouse=True)
def responses(api, monkeypatch):
    """Every response of the test; none may carry the password, plain or base64."""
    seen = sh.record_responses(api, monkeypatch)
    yield seen
    sh.assert_no_password(seen)


@pytest.fixture
def online(api, conf):
    """``sc1``, ``sc2``: managed and online (one audit round), in Default."""
    for name in ("sc1", "sc2"):
        sh.register(api, name)
    sh.audit_once(conf)


@pytest.fixture
def ineligible(api, conf, online):
    """Besides ``sc1``/``sc2``: ``down`` (offline), ``idle`` (unmanaged), ``deploying``
    (reports deploy status deploying)."""
    sh.register(api, "down", "offline=true")
    sh.register(api, "idle", managed=False)
    sh.register(api, "deploying", "deploy_status=deploying")
    sh.audit_once(conf)
    return {"down": OFFLINE, "idle": UNMANAGED, "deploying": DEPLOYING}


# Validation (no manager running).


class TestValidation:
    def test_empty_body(self, api, db, online):
        prestage_error(api, db, "sc1", b"", 400, BODY_REQUIRED)

    @pytest.mark.parametrize("body", [b"abc", b"{", b"[]", b'"x"', b"null"])
    def test_malformed_body(self, api, db, online, body):
        prestage_error(api, db, "sc1", body, 400, MALFORMED)

    @pytest.mark.parametrize("body", [{}, {"sysadmin_password": ""}, {"sysadmin_password": None}])
    def test_password_required(self, api, db, online, body):
        prestage_error(api, db, "sc1", body, 400, PASSWORD_REQUIRED)

    @pytest.mark.parametrize(
        "value", ["abc", "TGk2OW51eCo", "TGk2 OW51eCo=", "Li69nux*", "é", 123, True, [PASSWORD]]
    )
    def test_password_not_base64(self, api, db, online, value):
        prestage_error(api, db, "sc1", {"sysadmin_password": value}, 400, PASSWORD_UNDECODABLE)

    @pytest.mark.parametrize("release", ["25.9", "2509", "v25.09", "", 25.09, "25.09.1"])
    def test_invalid_release(self, api, db, online, release):
        prestage_error(api, db, "sc1", {**VALID, "release": release}, 400, RELEASE_INVALID)

    def test_release_not_in_the_store(self, api, db, online):
        prestage_error(
            api,
            db,
            "sc1",
            {**VALID, "release": "30.03"},
            400,
            "Release 30.03 is not in the release store: upload it first (dcmanager release upload)",
        )

    @pytest.mark.empty_release_store
    def test_empty_store(self, api, db, online):
        prestage_error(
            api,
            db,
            "sc1",
            VALID,
            400,
            "No release in the release store: upload one first (dcmanager release upload)",
        )

    @pytest.mark.parametrize("field", ["force", "for_install", "for_sw_deploy"])
    @pytest.mark.parametrize("value", ["abc", "", 1])
    def test_invalid_booleans(self, api, db, online, field, value):
        prestage_error(api, db, "sc1", {**VALID, field: value}, 400, bool_invalid(value, field))

    def test_install_flags_are_mutually_exclusive(self, api, db, online):
        body = {**VALID, "for_install": True, "for_sw_deploy": "true"}
        prestage_error(api, db, "sc1", body, 400, INSTALL_EXCLUSIVE)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                {"force": "x", "release": "x", "sysadmin_password": "abc"},
                bool_invalid("x", "force"),
            ),
            ({"release": "x", "sysadmin_password": None}, RELEASE_INVALID),
            ({"sysadmin_password": "abc", "for_install": "x"}, PASSWORD_UNDECODABLE),
            ({"for_install": "x", "for_sw_deploy": "x"}, bool_invalid("x", "for_install")),
        ],
    )
    def test_order(self, api, db, online, body, message):
        prestage_error(api, db, "sc1", {**VALID, **body}, 400, message)

    @pytest.mark.parametrize("ref", ["nope", "99", "SC1"])
    @pytest.mark.parametrize("body", [VALID, {}, b""])
    def test_unknown_subcloud_is_404_whatever_the_body(self, api, db, online, ref, body):
        prestage_error(api, db, ref, body, 404, NOT_FOUND)

    @pytest.mark.parametrize("name", ["down", "idle", "deploying"])
    def test_ineligible_subcloud(self, api, db, ineligible, name):
        prestage_error(api, db, name, VALID, 400, skipped(name, ineligible[name]))

    def test_the_body_is_checked_before_eligibility(self, api, db, ineligible):
        prestage_error(api, db, "down", {"sysadmin_password": "abc"}, 400, PASSWORD_UNDECODABLE)

    @pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
    def test_only_patch(self, api, db, online, method):
        before = sh.snapshot(api, db)

        resp = sh.request(api, method, path("sc1"), b'{"sysadmin_password": "TGk2OW51eCo="}')

        sh.assert_error(resp, 405, f"Method {method} is not allowed on {path('sc1')}")
        assert sh.snapshot(api, db) == before


# Starting (no manager running: the prestage stays where the API put it).


class TestStart:
    @pytest.mark.parametrize("ref", ["sc1", "1"])
    def test_response_is_the_subcloud_prestaging(self, api, db, online, ref):
        before = api.get(f"{SUBCLOUDS}/sc1").json

        subcloud = prestage(api, ref)

        assert subcloud["prestage-status"] == "prestaging"
        assert subcloud["prestage-software-version"] == "25.09"
        assert subcloud["error-description"] is None
        changed = ("prestage-status", "prestage-software-version", "updated-at")
        unchanged = {k: v for k, v in before.items() if k not in changed}
        assert {k: subcloud[k] for k in unchanged} == unchanged
        assert api.get(f"{SUBCLOUDS}/sc1").json == subcloud
        assert prestage_status(api, "sc2") is None

    def test_arguments_are_kept_and_the_password_encrypted(self, api, db, online):
        prestage(api, "sc1", release="24.09", force="true", for_sw_deploy=True, bogus=1)

        [(subcloud_id, state, secret, extra)] = standalone_steps(db)
        assert (subcloud_id, state) == (1, "prestage-precheck")
        assert extra == {
            "force": True,
            "prestage-software-version": "24.09",
            "for_install": False,
            "for_sw_deploy": True,
        }
        assert secret
        assert PASSWORD.encode() not in secret
        assert sh.PLAIN_PASSWORD.encode() not in secret

    def test_a_standalone_prestage_is_not_a_strategy(self, api, db, online):
        prestage(api, "sc1")

        sh.assert_error(api.get(sh.STRATEGY, expect_errors=True), 404, "Strategy not found")

    def test_already_prestaging_is_409(self, api, db, online):
        prestage(api, "sc1")

        prestage_error(api, db, "sc1", VALID, 409, busy("sc1", "is already prestaging"))
        prestage_error(
            api, db, "1", {**VALID, "force": True}, 409, busy("sc1", "is already prestaging")
        )
        # Another subcloud is not held.
        assert prestage(api, "sc2")["prestage-status"] == "prestaging"

    def test_a_prestaging_subcloud_is_skipped_by_a_strategy(self, api, db, online):
        prestage(api, "sc1")

        resp = api.post_json(
            sh.STRATEGY, {"type": "prestage", **VALID, "cloud_name": "sc1"}, expect_errors=True
        )
        sh.assert_error(resp, 400, skipped("sc1", "Subcloud is already prestaging."))

        sh.create(api)
        steps = sh.steps(api)
        assert (steps["sc1"]["state"], steps["sc1"]["details"]) == (
            "skipped",
            "Subcloud is already prestaging.",
        )
        assert steps["sc2"]["state"] == "initial"


class TestHeldByAStrategy:
    @pytest.mark.parametrize("actions", [[], ["apply"], ["apply", "abort"]])
    def test_409_while_the_subcloud_is_in_the_strategy(self, api, db, online, actions):
        sh.create(api, cloud_name="sc1")
        for action in actions:
            api.post_json(f"{sh.STRATEGY}/actions", {"action": action})

        prestage_error(api, db, "sc1", VALID, 409, busy("sc1", "is part of the current strategy"))
        prestage_error(api, db, "1", VALID, 409, busy("sc1", "is part of the current strategy"))

    def test_a_subcloud_outside_the_strategy_is_free(self, api, db, online):
        sh.create(api, cloud_name="sc1")

        assert prestage(api, "sc2")["prestage-status"] == "prestaging"

    def test_body_and_eligibility_come_before_the_conflict(self, api, db, ineligible):
        sh.create(api, cloud_name="sc1")

        prestage_error(api, db, "sc1", {}, 400, PASSWORD_REQUIRED)


# Runs, with every engine role.


class TestRun:
    def test_runs_to_complete(self, api, db, roles):
        sh.add_subclouds(api, ["sc1"], "delay=0.1")

        started = prestage(api, "sc1", release="24.09")

        assert started["prestage-status"] == "prestaging"
        done = wait_prestage_end(api, "sc1")
        assert done["prestage-status"] == "complete"
        assert done["prestage-versions"] == "24.09"
        assert done["error-description"] is None
        # The finished prestage leaves no step (nor encrypted password) behind.
        sh.wait_for(lambda: step_count(db) == 0, what="the step removed")

        assert prestage(api, "sc1")["prestage-status"] == "prestaging"
        done = wait_prestage_end(api, "sc1")
        assert (done["prestage-status"], done["prestage-versions"]) == ("complete", "24.09,25.09")

    def test_409_while_running_and_free_once_done(self, api, db, roles):
        sh.add_subclouds(api, ["sc1", "sc2"], "delay=60")
        prestage(api, "sc1")

        prestage_error(
            api, db, "sc1", VALID, 409, busy("sc1", "is already prestaging"), moving=True
        )
        resp = api.post_json(
            sh.STRATEGY, {"type": "prestage", **VALID, "cloud_name": "sc1"}, expect_errors=True
        )
        sh.assert_error(resp, 400, skipped("sc1", "Subcloud is already prestaging."))

        sh.set_options(api, "sc1")
        assert wait_prestage_end(api, "sc1")["prestage-status"] == "complete"
        sh.wait_for(lambda: step_count(db) == 0, what="the step removed")
        assert sh.create(api, cloud_name="sc1")["state"] == "initial"

    def test_failure_is_shown_on_the_subcloud_and_cleared_by_a_new_prestage(self, api, roles):
        sh.add_subclouds(api, ["sc1"], "fail=packages")

        prestage(api, "sc1")

        failed = wait_prestage_end(api, "sc1")
        assert (failed["prestage-status"], failed["error-description"]) == (
            "failed",
            PACKAGES_FAILURE,
        )
        assert failed["prestage-versions"] is None

        sh.set_options(api, "sc1")
        again = prestage(api, "sc1")
        assert (again["prestage-status"], again["error-description"]) == ("prestaging", None)
        done = wait_prestage_end(api, "sc1")
        assert (done["prestage-status"], done["error-description"]) == ("complete", None)

    def test_same_precheck_as_orchestration(self, api, roles):
        sh.add_subclouds(api, ["sc1"], "alarms=1")
        sh.add_subclouds(api, ["sc2"], "fail=precheck")

        prestage(api, "sc1")
        prestage(api, "sc2")

        sc1 = wait_prestage_end(api, "sc1")
        assert (sc1["prestage-status"], sc1["error-description"]) == (
            "failed",
            prestage_actions.ALARMS_MESSAGE,
        )
        sc2 = wait_prestage_end(api, "sc2")
        assert (sc2["prestage-status"], sc2["error-description"]) == (
            "failed",
            "Subcloud health check failed: simulated health check failure (fail=precheck)",
        )
        # force passes the alarms.
        prestage(api, "sc1", force="true")
        assert wait_prestage_end(api, "sc1")["prestage-status"] == "complete"

    def test_409_during_an_applied_strategy_and_free_after_it(self, api, db, roles):
        sh.add_subclouds(api, ["sc1", "sc2"], "delay=60")
        sh.create(api, **{"max-parallel-subclouds": 1})
        sh.apply(api)
        sh.wait_subcloud(api, "sc1", lambda s: s["prestage-status"] == "prestaging", "running")
        assert sh.steps(api)["sc2"]["state"] == "initial"

        # sc1 runs in the strategy; sc2 waits for its turn in it.
        prestage_error(
            api, db, "sc1", VALID, 409, busy("sc1", "is already prestaging"), moving=True
        )
        prestage_error(
            api, db, "sc2", VALID, 409, busy("sc2", "is part of the current strategy"), moving=True
        )

        sh.set_options(api, "sc1")
        sh.set_options(api, "sc2")
        assert sh.wait_final(api)["state"] == "complete"
        assert prestage(api, "sc2")["prestage-status"] == "prestaging"
        assert wait_prestage_end(api, "sc2")["prestage-status"] == "complete"
