"""Per-site retry (a strategy's retry policy) and retry-failed, through the real API and
engine with simulated subclouds."""

from tests.functional import strategy_helpers as sh

ACTIONS = f"{sh.STRATEGY}/actions"


def _action(api, action: str, status: int = 200) -> dict:
    return api.post_json(ACTIONS, {"action": action}, status=status).json


def test_a_failed_attempt_is_retried_and_the_step_completes(api, roles):
    sh.add_subclouds(api, ["sc1"], options="fail=packages")
    created = sh.create(api, retry={"attempts": 3, "initial-interval": 1})
    assert created["extra-args"]["retry"] == {
        "attempts": 3,
        "initial-interval": 1.0,
        "backoff": 2.0,
        "max-interval": 600.0,
        "never": ["disk", "ineligible", "password", "system-mode"],
        "phases": {},
    }
    sh.apply(api)

    waiting = sh.wait_step(
        api, "sc1", lambda s: s["state"] == "initial" and s["attempt"] == 2, "wait to retry"
    )
    # The site is mended while the step waits for its next attempt.
    sh.set_options(api, "sc1")

    assert waiting["retry-at"] is not None
    assert waiting["details"].startswith("attempt 2 at ")
    assert sh.wait_final(api)["state"] == "complete"
    step = sh.steps(api)["sc1"]
    assert step["state"] == "complete"
    assert step["attempt"] == 2
    assert step["retry-at"] is None
    [first] = step["history"]
    assert first["attempt"] == 1
    assert first["failure"] == "operation"
    assert first["details"].startswith("prestaging-packages: simulated failure")


def test_a_step_fails_once_its_attempts_are_spent(api, roles):
    sh.add_subclouds(api, ["sc1"], options="fail=images")
    sh.create(
        api,
        retry={
            "attempts": 2,
            "initial-interval": 0.1,
            "phases": {"prestaging-images": {"attempts": 3, "backoff": 1}},
        },
    )
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "failed"
    step = sh.steps(api)["sc1"]
    # The phase's own policy gave it three attempts.
    assert step["attempt"] == 3
    assert [entry["attempt"] for entry in step["history"]] == [1, 2]
    assert all(entry["failure"] == "operation" for entry in step["history"])
    assert step["details"].startswith("prestaging-images: simulated failure")


def test_a_failure_the_policy_never_retries_fails_at_once(api, roles):
    sh.add_subclouds(api, ["sc1"], options="free_disk_gb=0")
    sh.create(api, retry={"attempts": 5, "initial-interval": 0})
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "failed"
    step = sh.steps(api)["sc1"]
    assert step["attempt"] == 1
    assert step["history"] == []
    assert "Not enough free disk space" in step["details"]


def test_a_kind_left_out_of_never_is_retried(api, roles):
    sh.add_subclouds(api, ["sc1"], options="free_disk_gb=0")
    sh.create(api, retry={"attempts": 2, "initial-interval": 0, "never": []})
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "failed"
    step = sh.steps(api)["sc1"]
    assert step["attempt"] == 2
    assert [entry["failure"] for entry in step["history"]] == ["disk"]


def test_a_step_waiting_to_retry_holds_no_place_in_the_window(api, roles):
    sh.add_subclouds(api, ["sc1"], options="fail=precheck")
    sh.add_subclouds(api, ["sc2", "sc3"])
    sh.create(
        api, **{"subcloud-apply-type": "serial"}, retry={"attempts": 2, "initial-interval": 3600}
    )
    sh.apply(api)

    # With a window of one, the others run while sc1 waits an hour for its retry.
    sh.wait_for(
        lambda: [sh.steps(api)[n]["state"] for n in ("sc2", "sc3")] == ["complete"] * 2,
        what="sc2 and sc3 complete",
    )
    assert api.get(sh.STRATEGY).json["state"] == "applying"
    waiting = sh.steps(api)["sc1"]
    assert (waiting["state"], waiting["attempt"]) == ("initial", 2)

    # Aborted while it waits, it ends failed as its attempt did: it ran and failed.
    _action(api, "abort")
    assert sh.wait_final(api)["state"] == "failed"
    step = sh.steps(api)["sc1"]
    assert (step["state"], step["attempt"], step["history"]) == ("failed", 1, [])
    assert step["details"].startswith("prestage-precheck: Subcloud health check failed")
    assert step["retry-at"] is None


def test_retry_failed_runs_only_the_failed_steps_again(api, roles):
    sh.add_subclouds(api, ["sc1"], options="fail=packages")
    sh.add_subclouds(api, ["sc2"])
    sh.create(api)
    sh.apply(api)
    assert sh.wait_final(api)["state"] == "failed"
    before = sh.steps(api)
    sh.set_options(api, "sc1")

    retried = _action(api, "retry-failed")

    assert retried["state"] == "applying"
    assert sh.wait_final(api)["state"] == "complete"
    after = sh.steps(api)
    assert after["sc1"]["state"] == "complete"
    assert after["sc1"]["attempt"] == 2
    [first] = after["sc1"]["history"]
    assert first["attempt"] == 1
    assert first["details"] == before["sc1"]["details"]
    assert "failure" not in first
    # The step that had completed was left alone.
    assert after["sc2"] == before["sc2"]


def test_retry_failed_also_runs_the_steps_the_failure_kept_from_starting(api, roles):
    sh.add_subclouds(api, ["sc1"], options="fail=packages")
    sh.add_subclouds(api, ["sc2", "sc3"])
    sh.create(api, **{"subcloud-apply-type": "serial", "stop-on-failure": True})
    sh.apply(api)
    assert sh.wait_final(api)["state"] == "failed"
    assert [s["state"] for s in sh.steps(api).values()] == ["failed", "aborted", "aborted"]
    sh.set_options(api, "sc1")

    _action(api, "retry-failed")

    assert sh.wait_final(api)["state"] == "complete"
    steps = sh.steps(api)
    assert [steps[n]["state"] for n in ("sc1", "sc2", "sc3")] == ["complete"] * 3
    # Those never ran before: still their first attempt.
    assert [steps[n]["attempt"] for n in ("sc1", "sc2", "sc3")] == [2, 1, 1]


def test_retry_failed_needs_a_failed_strategy(api, conf):
    sh.register(api, "sc1")
    sh.audit_once(conf)
    sh.create(api)

    answer = _action(api, "retry-failed", status=409)

    assert answer["message"] == "Strategy in state initial cannot be retried"
    assert api.get(sh.STRATEGY).json["state"] == "initial"


def test_a_complete_strategy_cannot_be_retried(api, roles):
    sh.add_subclouds(api, ["sc1"])
    sh.create(api)
    sh.apply(api)
    assert sh.wait_final(api)["state"] == "complete"

    answer = _action(api, "retry-failed", status=409)

    assert answer["message"] == "Strategy in state complete cannot be retried"


def test_a_bad_retry_policy_is_refused_and_nothing_is_stored(api, conf):
    sh.register(api, "sc1")
    sh.audit_once(conf)

    answer = api.post_json(
        sh.STRATEGY,
        {"type": "prestage", "sysadmin_password": sh.PASSWORD, "retry": {"attempts": 0}},
        status=400,
    ).json

    assert answer["message"] == "Invalid retry attempts '0': must be an integer from 1 to 100"
    assert api.get(sh.STRATEGY, status=404)
