"""Rules the per-resource policies are built from."""

from oslo_policy import policy

ADMIN = "rule:admin_api"
READER = "rule:reader_api"

rules = [
    policy.RuleDefault(
        name="system_projects",
        check_str="project_name:admin or project_name:services or system_scope:all",
        description="Whose roles count here: a token scoped to the admin or services "
        "project (where the system's operators and services are), or a system-scoped "
        "token. An admin of any other project is not an admin of the fleet.",
    ),
    policy.RuleDefault(
        name="admin_api",
        check_str="(role:admin or role:configurator) and rule:system_projects",
        description="May change the fleet: the admin or configurator role, in a system project.",
    ),
    policy.RuleDefault(
        name="reader_api",
        check_str="(role:reader or role:admin or role:configurator) and rule:system_projects",
        description="May read the fleet: the reader role, or any role that may change it, "
        "in a system project.",
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
