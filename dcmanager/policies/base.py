"""Rules the per-resource policies are built from."""

from oslo_policy import policy

ADMIN = "rule:admin_api"
READER = "rule:reader_api"

rules = [
    policy.RuleDefault(
        name="admin_api",
        check_str="role:admin or role:configurator",
        description="May change the fleet: the admin or configurator role.",
    ),
    policy.RuleDefault(
        name="reader_api",
        check_str="role:reader or role:admin or role:configurator",
        description="May read the fleet: the reader role, or any role that may change it.",
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
