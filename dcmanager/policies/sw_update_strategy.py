"""Policies of ``/v1.0/sw-update-strategy``."""

from oslo_policy import policy

from dcmanager.policies import base

PREFIX = "dc_api:sw_update_strategy:%s"
PATH = "/v1.0/sw-update-strategy"
# The actions of POST .../actions, each its own rule.
ACTIONS = {
    "apply": "Apply the strategy.",
    "pause": "Pause the strategy: no step starts; the running ones finish.",
    "resume": "Resume a paused strategy.",
    "abort": "Abort the strategy.",
    "retry-failed": "Run a failed strategy's failed steps again.",
}

rules = [
    policy.DocumentedRuleDefault(
        name=PREFIX % "get",
        check_str=base.READER,
        description="Show the strategy and its steps.",
        operations=[
            {"method": "GET", "path": PATH},
            {"method": "GET", "path": f"{PATH}/steps"},
            {"method": "GET", "path": f"{PATH}/steps/{{cloud_name}}"},
        ],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "create",
        check_str=base.ADMIN,
        description="Create a strategy.",
        operations=[{"method": "POST", "path": PATH}],
    ),
    *(
        policy.DocumentedRuleDefault(
            name=PREFIX % action,
            check_str=base.ADMIN,
            description=description,
            operations=[{"method": "POST", "path": f"{PATH}/actions"}],
        )
        for action, description in ACTIONS.items()
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "delete",
        check_str=base.ADMIN,
        description="Delete the strategy.",
        operations=[{"method": "DELETE", "path": PATH}],
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
