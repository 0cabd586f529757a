"""Policy enforcement with oslo.policy; the rules are in :mod:`dcmanager.policies`."""

import threading

from oslo_config import cfg
from oslo_policy import policy

from dcmanager import policies
from dcmanager.common import context as dc_context
from dcmanager.common import exception

_ENFORCER: policy.Enforcer | None = None
_LOCK = threading.Lock()


def get_enforcer(conf: cfg.ConfigOpts | None = None) -> policy.Enforcer:
    """The process-wide enforcer (also the ``oslo.policy.enforcer`` entry point)."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is None:
            enforcer = policy.Enforcer(conf or cfg.CONF)
            enforcer.register_defaults(policies.list_rules())
            _ENFORCER = enforcer
        return _ENFORCER


def reset() -> None:
    """Forget the enforcer so the next call re-reads configuration (tests)."""
    global _ENFORCER
    with _LOCK:
        _ENFORCER = None


def authorize_any(rules: list[str], context: dc_context.RequestContext) -> None:
    """Check that ``context`` may perform at least one of ``rules`` (before reading a
    request that names which).

    :raises PolicyNotAuthorized: it may perform none of them.
    """
    enforcer = get_enforcer()
    if not any(enforcer.authorize(rule, {}, context, do_raise=False) for rule in rules):
        raise exception.PolicyNotAuthorized(action=" or ".join(rules))


def authorize(rule: str, context: dc_context.RequestContext, target: dict | None = None) -> None:
    """:raises PolicyNotAuthorized: ``context`` may not perform ``rule``."""
    try:
        get_enforcer().authorize(rule, target or {}, context, do_raise=True)
    except policy.PolicyNotAuthorized as exc:
        raise exception.PolicyNotAuthorized(action=rule) from exc
