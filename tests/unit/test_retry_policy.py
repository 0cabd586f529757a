"""The retry policy: how a create request's ``retry`` is checked and filled in, and how
the engine reads it (which failures retry, and after how long)."""

import pytest

from dcmanager.api.schemas import retry_policy
from dcmanager.api.schemas import sw_update_strategy
from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.states import FailureKind
from dcmanager.orchestrator import retries

PHASES = states.PRESTAGE_PHASES
DEFAULTS = {
    "attempts": 3,
    "initial-interval": 30.0,
    "backoff": 2.0,
    "max-interval": 600.0,
    "never": ["disk", "ineligible", "password", "system-mode"],
    "phases": {},
}


def test_an_empty_policy_gets_every_default():
    assert retry_policy.validate({}, PHASES) == DEFAULTS


def test_a_longer_first_wait_than_the_default_longest_does_not_grow():
    policy = retry_policy.validate({"initial-interval": 3600}, PHASES)
    assert (policy["initial-interval"], policy["max-interval"]) == (3600.0, 3600.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "Invalid retry: must be an object (attempts, initial-interval...)"),
        (
            {"tries": 2},
            "Invalid retry: unknown field(s) tries; known: attempts, initial-interval, "
            "backoff, max-interval, never, phases",
        ),
        ({"attempts": 0}, "Invalid retry attempts '0': must be an integer from 1 to 100"),
        ({"attempts": 2.5}, "Invalid retry attempts '2.5': must be an integer from 1 to 100"),
        ({"attempts": True}, "Invalid retry attempts 'True': must be an integer from 1 to 100"),
        ({"attempts": "3"}, "Invalid retry attempts '3': must be an integer from 1 to 100"),
        ({"attempts": 2.0}, "Invalid retry attempts '2.0': must be an integer from 1 to 100"),
        (
            {"attempts": 10**400},
            f"Invalid retry attempts '{10**400}': must be an integer from 1 to 100",
        ),
        (
            {"backoff": 10**400},
            f"Invalid retry backoff '{10**400}': must be a number from 1 to 10",
        ),
        ({"backoff": 0.5}, "Invalid retry backoff '0.5': must be a number from 1 to 10"),
        (
            {"initial-interval": -1},
            "Invalid retry initial-interval '-1': must be a number from 0 to 86400",
        ),
        (
            {"initial-interval": 60, "max-interval": 10},
            "Invalid retry max-interval 10: less than its initial-interval 60",
        ),
        (
            {"never": ["disk", "bogus"]},
            "Invalid retry never '['disk', 'bogus']': must be a list of failure kinds "
            f"({', '.join(FailureKind)})",
        ),
        (
            {"phases": {"app-applying": {}}},
            "Invalid retry phases: must map phases of the strategy "
            f"({', '.join(PHASES)}) to objects of attempts, initial-interval, backoff, "
            "max-interval",
        ),
        (
            {"phases": {"prestaging-images": {"never": []}}},
            "Invalid retry phases prestaging-images: unknown field(s) never",
        ),
        (
            {"phases": {"prestaging-images": {"attempts": 101}}},
            "Invalid retry phases prestaging-images attempts '101': must be an integer "
            "from 1 to 100",
        ),
    ],
)
def test_a_bad_policy_is_refused_saying_what_is_wrong(value, message):
    with pytest.raises(exception.Invalid) as raised:
        retry_policy.validate(value, PHASES)
    assert raised.value.message == message


def test_waits_grow_by_the_backoff_up_to_the_longest():
    stored = retry_policy.validate(
        {"attempts": 5, "initial-interval": 10, "backoff": 3, "max-interval": 60}, PHASES
    )
    policy = retries.RetryPolicy.from_args(stored)
    kind = FailureKind.OPERATION
    waits = [policy.delay("prestaging-packages", attempt, kind) for attempt in range(1, 6)]
    # Before attempts 2, 3, 4 and 5; none after the fifth.
    assert waits == [10.0, 30.0, 60.0, 60.0, None]


def test_a_phase_has_its_own_numbers_over_the_policys():
    stored = retry_policy.validate(
        {
            "attempts": 2,
            "initial-interval": 5,
            "phases": {"prestaging-images": {"attempts": 4, "backoff": 1}},
        },
        PHASES,
    )
    assert stored["phases"] == {"prestaging-images": {"attempts": 4, "backoff": 1.0}}
    policy = retries.RetryPolicy.from_args(stored)
    kind = FailureKind.UNREACHABLE
    assert [policy.delay("prestaging-images", n, kind) for n in (1, 2, 3, 4)] == [
        5.0,
        5.0,
        5.0,
        None,
    ]
    assert [policy.delay("prestage-precheck", n, kind) for n in (1, 2)] == [5.0, None]


def test_kinds_in_never_and_the_preparation_are_never_retried():
    policy = retries.RetryPolicy.from_args(retry_policy.validate({"never": ["alarms"]}, PHASES))
    assert policy.delay("prestage-precheck", 1, FailureKind.ALARMS) is None
    assert policy.delay("prestage-precheck", 1, FailureKind.DISK) == 30.0
    assert policy.delay("prestage-preparing-packages", 1, FailureKind.PREPARATION) is None
    # An outcome that says no kind is not retried either.
    assert policy.delay("prestage-precheck", 1, None) is None


def test_no_policy_is_none():
    assert retries.RetryPolicy.from_args(None) is None
    assert retries.RetryPolicy.from_args({}) is None


class _Catalog:
    """The stored state a create is checked against: release 25.09 and app demo 1.0."""

    def group(self, ref):
        return None

    def release(self, version):
        return "25.09"

    def app_version(self, name, wanted, include_prerelease):
        return "1.0"


def test_an_app_update_takes_a_policy_over_its_own_phases():
    body = {
        "type": "app-update",
        "app": "demo",
        "retry": {"phases": {"app-recovering": {"attempts": 1}}},
    }

    request = sw_update_strategy.validate_create(body, _Catalog())

    assert request.values["extra_args"]["retry"]["phases"] == {"app-recovering": {"attempts": 1}}
    body["retry"] = {"phases": {"prestaging-images": {"attempts": 1}}}
    with pytest.raises(exception.Invalid) as raised:
        sw_update_strategy.validate_create(body, _Catalog())
    assert raised.value.message.startswith("Invalid retry phases")


def test_a_prestage_stores_its_policy_filled_in():
    body = {"type": "prestage", "sysadmin_password": "TGk2OW51eCo=", "retry": {"attempts": 2}}

    request = sw_update_strategy.validate_create(body, _Catalog())

    assert request.values["extra_args"]["retry"] == {**DEFAULTS, "attempts": 2}
