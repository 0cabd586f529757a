"""Policies of ``/v1.0/sw-update-strategy``."""

from oslo_policy import policy

from dcmanager.policies import base

PREFIX = "dc_api:sw_update_strategy:%s"
PATH = "/v1.0/sw-update-strategy"

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
    policy.DocumentedRuleDefault(
        name=PREFIX % "apply",
        check_str=base.ADMIN,
        description="Apply the strategy.",
        operations=[{"method": "POST", "path": f"{PATH}/actions"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "pause",
        check_str=base.ADMIN,
        description="Pause the strategy: no step starts; the running ones finish.",
        operations=[{"method": "POST", "path": f"{PATH}/actions"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "resume",
        check_str=base.ADMIN,
        description="Resume a paused strategy.",
        operations=[{"method": "POST", "path": f"{PATH}/actions"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "abort",
        check_str=base.ADMIN,
        description="Abort the strategy.",
        operations=[{"method": "POST", "path": f"{PATH}/actions"}],
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
