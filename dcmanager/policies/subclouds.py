"""Policies of ``/v1.0/subclouds``."""

from oslo_policy import policy

from dcmanager.policies import base

PREFIX = "dc_api:subclouds:%s"

rules = [
    policy.DocumentedRuleDefault(
        name=PREFIX % "get",
        check_str=base.READER,
        description="List subclouds or show one.",
        operations=[
            {"method": "GET", "path": "/v1.0/subclouds"},
            {"method": "GET", "path": "/v1.0/subclouds/{subcloud}"},
        ],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "create",
        check_str=base.ADMIN,
        description="Register a subcloud.",
        operations=[{"method": "POST", "path": "/v1.0/subclouds"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "modify",
        check_str=base.ADMIN,
        description="Update a subcloud, manage or unmanage it.",
        operations=[{"method": "PATCH", "path": "/v1.0/subclouds/{subcloud}"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "prestage",
        check_str=base.ADMIN,
        description="Prestage one subcloud outside any strategy.",
        operations=[{"method": "PATCH", "path": "/v1.0/subclouds/{subcloud}/prestage"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "delete",
        check_str=base.ADMIN,
        description="Delete an unmanaged subcloud.",
        operations=[{"method": "DELETE", "path": "/v1.0/subclouds/{subcloud}"}],
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
