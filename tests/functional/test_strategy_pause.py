"""Pause and resume a strategy with the engine running: no step starts while it is
paused, the running ones finish, and resuming (or aborting) takes it on from there."""

from dcmanager.common import states
from tests.functional import strategy_helpers as sh

NAMES = [f"sc{i}" for i in range(1, 5)]


def _action(api, action: str, status: int = 200) -> dict:
    return api.post_json(f"{sh.STRATEGY}/actions", {"action": action}, status=status).json


def _state(api) -> str:
    return api.get(sh.STRATEGY).json["state"]


def _paused_with_two_started(api) -> dict[str, dict]:
    """Four slow subclouds, two at a time: paused once the first two have started."""
    sh.add_subclouds(api, NAMES, options="delay=0.5")
    sh.create(api, **{"max-parallel-subclouds": 2})
    sh.apply(api)
    sh.wait_for(
        lambda: sum(step["state"] != "initial" for step in sh.steps(api).values()) == 2,
        what="the first two steps to start",
    )
    assert _action(api, "pause")["state"] == "pausing"
    sh.wait_for(lambda: _state(api) == "paused", what="the strategy to be paused")
    return sh.steps(api)


def test_a_paused_strategy_lets_its_running_steps_finish_and_starts_no_other(api, roles):
    steps = _paused_with_two_started(api)

    assert {name: step["state"] for name, step in steps.items()} == {
        "sc1": "complete",
        "sc2": "complete",
        "sc3": "initial",
        "sc4": "initial",
    }
    assert _action(api, "resume")["state"] == "applying"
    assert sh.wait_final(api)["state"] == "complete"
    assert {step["state"] for step in sh.steps(api).values()} == {"complete"}


def test_a_paused_strategy_can_be_aborted(api, roles):
    _paused_with_two_started(api)

    assert _action(api, "abort")["state"] == "abort requested"

    assert sh.wait_final(api)["state"] == "aborted"
    steps = sh.steps(api)
    assert [steps[name]["state"] for name in NAMES] == ["complete"] * 2 + ["aborted"] * 2
    assert steps["sc3"]["details"] == states.NOT_STARTED_ABORTED


def test_a_strategy_paused_with_nothing_left_to_start_ends(api, roles):
    sh.add_subclouds(api, NAMES[:2], options="delay=0.3")
    sh.create(api, **{"max-parallel-subclouds": 2})
    sh.apply(api)
    sh.wait_for(
        lambda: all(step["state"] != "initial" for step in sh.steps(api).values()),
        what="both steps to start",
    )

    assert _action(api, "pause")["state"] == "pausing"

    assert sh.wait_final(api)["state"] == "complete"


def test_actions_out_of_turn_are_conflicts(api, conf):
    for name in NAMES[:2]:
        sh.register(api, name)
    sh.audit_once(conf)
    sh.create(api)

    def refused(action: str, state: str, done: str) -> None:
        answer = _action(api, action, status=409)
        assert answer["message"] == f"Strategy in state {state} cannot be {done}"

    refused("pause", "initial", "paused")
    refused("resume", "initial", "resumed")
    sh.apply(api)
    refused("resume", "applying", "resumed")
    assert _action(api, "pause")["state"] == "pausing"
    refused("pause", "pausing", "paused")
    refused("apply", "pausing", "applied")
    assert _action(api, "resume")["state"] == "applying"
    # Nothing runs the strategy here: it stays where the actions put it.
    assert _state(api) == "applying"
