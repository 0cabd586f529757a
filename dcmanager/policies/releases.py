"""Policies of ``/v1.0/releases`` and ``/v1.0/blobs`` (the release store)."""

from oslo_policy import policy

from dcmanager.policies import base

PREFIX = "dc_api:releases:%s"
BLOB_PREFIX = "dc_api:blobs:%s"

rules = [
    policy.DocumentedRuleDefault(
        name=PREFIX % "get",
        check_str=base.READER,
        description="List releases or show one with its files and images.",
        operations=[
            {"method": "GET", "path": "/v1.0/releases"},
            {"method": "GET", "path": "/v1.0/releases/{version}"},
        ],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "create",
        check_str=base.ADMIN,
        description="Record a release whose blobs are uploaded.",
        operations=[{"method": "POST", "path": "/v1.0/releases"}],
    ),
    policy.DocumentedRuleDefault(
        name=PREFIX % "delete",
        check_str=base.ADMIN,
        description="Delete a release (the collector removes the blobs nothing names).",
        operations=[{"method": "DELETE", "path": "/v1.0/releases/{version}"}],
    ),
    policy.DocumentedRuleDefault(
        name=BLOB_PREFIX % "get",
        check_str=base.READER,
        description="Download a blob (ranges allowed) or ask whether it is stored.",
        operations=[
            {"method": "GET", "path": "/v1.0/blobs/{digest}"},
            {"method": "HEAD", "path": "/v1.0/blobs/{digest}"},
        ],
    ),
    policy.DocumentedRuleDefault(
        name=BLOB_PREFIX % "upload",
        check_str=base.ADMIN,
        description="Upload a blob (a package file's bytes) by its digest.",
        operations=[{"method": "PUT", "path": "/v1.0/blobs/{digest}"}],
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
