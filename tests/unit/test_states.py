"""The state tables: every state reachable, every end final, the engine bound by them."""

import pytest

from dcmanager.common import states
from dcmanager.common.states import StepState
from dcmanager.common.states import StrategyState


def _reachable(transitions, start):
    seen, todo = {start}, [start]
    while todo:
        for target in transitions[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_every_strategy_state_is_reachable_from_initial():
    assert _reachable(states.STRATEGY_TRANSITIONS, StrategyState.INITIAL) == set(StrategyState)


def test_every_strategy_path_ends_deleted():
    for state in StrategyState:
        assert StrategyState.DELETING in _reachable(states.STRATEGY_TRANSITIONS, state)
    assert states.STRATEGY_TRANSITIONS[StrategyState.DELETING] == frozenset()


def test_strategy_actions_follow_the_contract():
    def sources(target: StrategyState) -> set[StrategyState]:
        return {s for s, t in states.STRATEGY_TRANSITIONS.items() if target in t}

    # Apply from initial, resume from a pause, retry-failed from failed, pause from
    # applying, abort from applying or a pause, delete only from these.
    paused = {StrategyState.PAUSING, StrategyState.PAUSED}
    assert sources(StrategyState.APPLYING) == {StrategyState.INITIAL, StrategyState.FAILED} | paused
    assert states.STRATEGY_ACTIONS["retry-failed"] == (
        frozenset({StrategyState.FAILED}),
        StrategyState.APPLYING,
    )
    assert sources(StrategyState.PAUSING) == {StrategyState.APPLYING}
    assert sources(StrategyState.ABORT_REQUESTED) == {StrategyState.APPLYING} | paused
    for action, (froms, target) in states.STRATEGY_ACTIONS.items():
        assert all(target in states.STRATEGY_TRANSITIONS[s] for s in froms), action
    assert {s for s, t in states.STRATEGY_TRANSITIONS.items() if StrategyState.DELETING in t} == (
        states.STRATEGY_DELETABLE
    )
    # An aborted strategy never ends complete.
    assert StrategyState.COMPLETE not in states.STRATEGY_TRANSITIONS[StrategyState.ABORTING]


def test_steps_walk_the_prestage_phases_in_order():
    state, walked = StepState.INITIAL, []
    state = StepState.PRECHECK
    while state != StepState.COMPLETE:
        walked.append(state)
        following = states.next_phase(state)
        assert following in states.STEP_TRANSITIONS[state]
        state = following
    assert walked == list(states.PRESTAGE_PHASES)


def test_each_strategy_type_walks_its_own_table():
    for strategy_type, phases in states.STRATEGY_PHASES.items():
        first = states.first_phase(strategy_type)
        assert first == phases[0]
        assert first in states.STEP_TRANSITIONS[StepState.INITIAL]
        # Every phase of the type is reachable from its first one, within the table
        # (a new attempt begins again from initial).
        forward = {s: t - {StepState.INITIAL} for s, t in states.STEP_TRANSITIONS.items()}
        reachable = _reachable(forward, first)
        assert set(phases) <= reachable
        assert reachable - set(phases) <= states.STEP_FINISHED
    # The API lists both types' states, not the standalone operations' own.
    assert StepState.APP_UPDATE_PRECHECK in states.STRATEGY_STEP_STATES
    assert StepState.APP_PRECHECK not in states.STRATEGY_STEP_STATES
    assert StepState.APP_REMOVING not in states.STRATEGY_STEP_STATES


def test_every_step_state_is_reachable_and_every_path_ends():
    reachable = _reachable(states.STEP_TRANSITIONS, StepState.INITIAL)
    assert reachable == set(StepState)
    # A step is moved to skipped only by an app-update's precheck (the site is at the
    # target already); others are created skipped.
    assert [s for s in StepState if StepState.SKIPPED in states.STEP_TRANSITIONS[s]] == [
        StepState.APP_UPDATE_PRECHECK
    ]
    for state in StepState:
        ends = _reachable(states.STEP_TRANSITIONS, state) & states.STEP_FINISHED
        assert ends, f"{state} can never finish"
    # A finished step stays finished, except that retry-failed runs a failed one again.
    for state in states.STEP_FINISHED - {StepState.FAILED}:
        assert states.STEP_TRANSITIONS[state] == frozenset()
    assert states.STEP_TRANSITIONS[StepState.FAILED] == {StepState.INITIAL}


def test_a_strategy_phase_that_fails_may_wait_for_its_next_attempt():
    # A retried failure returns the step to initial (no place in the window): from a
    # prestage phase, or from the states an app-update step fails in; a standalone
    # application operation is never retried that way.
    for state in states.PRESTAGE_PHASES:
        assert StepState.INITIAL in states.STEP_TRANSITIONS[state]
    retried = {StepState.APP_UPDATE_PRECHECK, StepState.APP_UPLOADING, StepState.APP_RECOVERING}
    for state in states.APP_PHASES:
        assert (StepState.INITIAL in states.STEP_TRANSITIONS[state]) == (state in retried)


def test_every_active_step_state_can_fail():
    for state in states.STEP_ACTIVE:
        assert StepState.FAILED in states.STEP_TRANSITIONS[state]


def test_moves_outside_the_tables_are_refused():
    states.check_step_transition(StepState.PRECHECK, StepState.PREPARING_PACKAGES)
    with pytest.raises(states.InvalidTransition):
        states.check_step_transition(StepState.COMPLETE, StepState.FAILED)
    with pytest.raises(states.InvalidTransition):
        states.check_step_transition(StepState.INITIAL, StepState.COMPLETE)
    with pytest.raises(states.InvalidTransition):
        states.check_strategy_transition(StrategyState.ABORTING, StrategyState.COMPLETE)


def test_dot_rendering_names_every_state_and_transition():
    dot = states.to_dot()
    for state in StrategyState:
        assert f'"strategy:{state}"' in dot
    for state in StepState:
        assert f'"step:{state}"' in dot
    edges = sum(len(t) for t in states.STRATEGY_TRANSITIONS.values()) + sum(
        len(t) for t in states.STEP_TRANSITIONS.values()
    )
    assert dot.count("->") == edges
