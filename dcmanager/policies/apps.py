"""Policies of ``/v1.0/apps`` (the application catalog)."""

from oslo_policy import policy

from dcmanager.policies import base

PREFIX = "dc_api:apps:%s"

rules = [
    policy.DocumentedRuleDefault(
        name=PREFIX % "get",
        check_str=base.READER,
        description="List applications, show one, or choose one of its versions.",
        operations=[
            {"method": "GET", "path": "/v1.0/apps"},
            {"method": "GET", "path": "/v1.0/apps/{name}"},
            {"method": "GET", "path": "/v1.0/apps/{name}/versions/{version}"},
        ],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "upload",
        check_str=base.ADMIN,
        description="Upload a version of an application (its tarball).",
        operations=[{"method": "POST", "path": "/v1.0/apps"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "delete",
        check_str=base.ADMIN,
        description="Delete a version of an application from the catalog.",
        operations=[{"method": "DELETE", "path": "/v1.0/apps/{name}/versions/{version}"}],
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
