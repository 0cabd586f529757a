"""Policies of ``/v1.0/subclouds/{ref}/apps`` (the applications at a site)."""

from oslo_policy import policy

from dcmanager.policies import base

PREFIX = "dc_api:subcloud_apps:%s"

rules = [
    policy.DocumentedRuleDefault(
        name=PREFIX % "get",
        check_str=base.READER,
        description="List a subcloud's applications, or show one.",
        operations=[
            {"method": "GET", "path": "/v1.0/subclouds/{subcloud}/apps"},
            {"method": "GET", "path": "/v1.0/subclouds/{subcloud}/apps/{name}"},
        ],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "operate",
        check_str=base.ADMIN,
        description="Apply, update or remove an application at a subcloud.",
        operations=[{"method": "POST", "path": "/v1.0/subclouds/{subcloud}/apps/{name}"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "delete",
        check_str=base.ADMIN,
        description="Delete an application (nothing of it applied) from a subcloud.",
        operations=[{"method": "DELETE", "path": "/v1.0/subclouds/{subcloud}/apps/{name}"}],
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
