"""Policies of ``/v1.0/helm_charts``."""

from oslo_policy import policy

from dcmanager.policies import base

PREFIX = "dc_api:helm_charts:%s"

rules = [
    policy.DocumentedRuleDefault(
        name=PREFIX % "get",
        check_str=base.READER,
        description=(
            "List the Helm charts that have system overrides, or show one chart's "
            "system, user and combined overrides (generated secrets masked)."
        ),
        operations=[
            {"method": "GET", "path": "/v1.0/helm_charts"},
            {"method": "GET", "path": "/v1.0/helm_charts/{name}?namespace={namespace}"},
        ],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "modify",
        check_str=base.ADMIN,
        description="Update a chart's user overrides in a namespace.",
        operations=[{"method": "PATCH", "path": "/v1.0/helm_charts/{name}?namespace={namespace}"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "delete",
        check_str=base.ADMIN,
        description="Delete a chart's user overrides in a namespace.",
        operations=[{"method": "DELETE", "path": "/v1.0/helm_charts/{name}?namespace={namespace}"}],
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
