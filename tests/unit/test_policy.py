"""Default policies: reads need reader, writes need admin or configurator, in a system
project (admin or services) or with a system-scoped token."""

import pytest

from dcmanager.common import context as dc_context
from dcmanager.common import exception
from dcmanager.common import policy

READ_RULES = ["dc_api:subclouds:get", "dc_api:subcloud_groups:get"]
WRITE_RULES = [
    f"dc_api:{resource}:{action}"
    for resource in ("subclouds", "subcloud_groups")
    for action in ("create", "modify", "delete")
]


def _ctx(*roles: str, project: str = "admin") -> dc_context.RequestContext:
    return dc_context.RequestContext(
        user_id="u", project_id="p", project_name=project, roles=list(roles)
    )


@pytest.mark.parametrize("rule", READ_RULES + WRITE_RULES)
@pytest.mark.parametrize("role", ["admin", "configurator"])
def test_admin_and_configurator_may_do_everything(conf, rule, role):
    policy.authorize(rule, _ctx(role))


@pytest.mark.parametrize("rule", READ_RULES)
def test_reader_may_read(conf, rule):
    policy.authorize(rule, _ctx("reader"))


@pytest.mark.parametrize("rule", WRITE_RULES)
def test_reader_may_not_write(conf, rule):
    with pytest.raises(exception.PolicyNotAuthorized, match=rule) as info:
        policy.authorize(rule, _ctx("reader"))
    assert info.value.code == 403


@pytest.mark.parametrize("rule", READ_RULES + WRITE_RULES)
def test_no_role_may_do_nothing(conf, rule):
    with pytest.raises(exception.PolicyNotAuthorized):
        policy.authorize(rule, _ctx("member"))


def test_noauth_context_is_admin(conf):
    for rule in READ_RULES + WRITE_RULES:
        policy.authorize(rule, dc_context.get_admin_context())


def test_policy_file_overrides_defaults(conf, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"dc_api:subclouds:get": "role:auditor"\n')
    policy.get_enforcer()  # registers the [oslo_policy] options
    conf.set_override("policy_file", str(policy_file), group="oslo_policy")
    policy.reset()
    try:
        policy.authorize("dc_api:subclouds:get", _ctx("auditor"))
        with pytest.raises(exception.PolicyNotAuthorized):
            policy.authorize("dc_api:subclouds:get", _ctx("reader"))
    finally:
        conf.clear_override("policy_file", group="oslo_policy")


@pytest.mark.parametrize("rule", READ_RULES + WRITE_RULES)
def test_an_admin_of_another_project_is_no_admin_here(conf, rule):
    with pytest.raises(exception.PolicyNotAuthorized):
        policy.authorize(rule, _ctx("admin", "reader", project="tenant1"))


@pytest.mark.parametrize("rule", READ_RULES + WRITE_RULES)
def test_the_services_project_and_system_scope_count(conf, rule):
    policy.authorize(rule, _ctx("admin", project="services"))
    system = dc_context.RequestContext(user_id="u", roles=["admin"], system_scope="all")
    policy.authorize(rule, system)
