"""Policies of ``/v1.0/subcloud-groups``."""

from oslo_policy import policy

from dcmanager.policies import base

PREFIX = "dc_api:subcloud_groups:%s"

rules = [
    policy.DocumentedRuleDefault(
        name=PREFIX % "get",
        check_str=base.READER,
        description="List subcloud groups, show one or list its subclouds.",
        operations=[
            {"method": "GET", "path": "/v1.0/subcloud-groups"},
            {"method": "GET", "path": "/v1.0/subcloud-groups/{group}"},
            {"method": "GET", "path": "/v1.0/subcloud-groups/{group}/subclouds"},
        ],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "create",
        check_str=base.ADMIN,
        description="Create a subcloud group.",
        operations=[{"method": "POST", "path": "/v1.0/subcloud-groups"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "modify",
        check_str=base.ADMIN,
        description="Update a subcloud group.",
        operations=[{"method": "PATCH", "path": "/v1.0/subcloud-groups/{group}"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "delete",
        check_str=base.ADMIN,
        description="Delete an empty subcloud group (never Default).",
        operations=[{"method": "DELETE", "path": "/v1.0/subcloud-groups/{group}"}],
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
