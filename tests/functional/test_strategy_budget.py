"""A strategy's failure budget (max-failures): a number of steps, or a percentage of
those in scope, that may fail before the strategy starts no more steps."""

import pytest

from dcmanager.common import states
from tests.functional import strategy_helpers as sh

INVALID = (
    "Invalid max-failures '{}': must be a number of steps (0 or more) or a percentage of "
    "them ('10%')"
)


def _online(api, conf, names, options: str = "") -> None:
    for name in names:
        sh.register(api, name, options)
    sh.audit_once(conf)


@pytest.mark.parametrize(
    ("wanted", "budget"), [(0, 0), (3, 3), ("50%", 2), ("0%", 0), ("100%", 4), ("30%", 1)]
)
def test_max_failures_is_resolved_against_the_steps_in_scope(api, conf, wanted, budget):
    _online(api, conf, ["sc1", "sc2", "sc3", "sc4"])
    _online(api, conf, ["off"], "offline=true")  # skipped: not in the budget's count

    created = sh.create(api, **{"max-failures": wanted})

    assert created["extra-args"]["max-failures"] == wanted
    assert created["extra-args"]["failure-budget"] == budget


@pytest.mark.parametrize("wanted", [-1, "abc", "150%", "5 %", "%", 1.5, True, [], "-1%"])
def test_an_invalid_max_failures_is_refused(api, conf, wanted):
    _online(api, conf, ["sc1"])

    answer = api.post_json(
        sh.STRATEGY,
        {"type": "prestage", "sysadmin_password": sh.PASSWORD, "max-failures": wanted},
        status=400,
    ).json

    assert answer["message"] == INVALID.format(wanted)
    assert api.get(sh.STRATEGY, status=404)


def test_max_failures_and_stop_on_failure_exclude_each_other(api, conf):
    _online(api, conf, ["sc1"])

    answer = api.post_json(
        sh.STRATEGY,
        {
            "type": "prestage",
            "sysadmin_password": sh.PASSWORD,
            "max-failures": 1,
            "stop-on-failure": True,
        },
        status=400,
    ).json

    assert answer["message"] == (
        "stop-on-failure and max-failures exclude each other (stop-on-failure is max-failures 0)"
    )


def test_past_its_budget_a_strategy_starts_no_step_and_ends_failed(api, roles):
    failing = ["sc1", "sc2", "sc3"]
    sh.add_subclouds(api, failing, options="fail=packages")
    sh.add_subclouds(api, ["sc4", "sc5"])
    sh.create(api, **{"subcloud-apply-type": "serial", "max-failures": 1})
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "failed"
    steps = sh.steps(api)
    # One failure is within the budget; the second exceeds it: nothing starts after.
    assert [steps[name]["state"] for name in ["sc1", "sc2", "sc3", "sc4", "sc5"]] == [
        "failed",
        "failed",
        "aborted",
        "aborted",
        "aborted",
    ]
    assert steps["sc4"]["details"] == states.NOT_STARTED_BUDGET.format(1)
