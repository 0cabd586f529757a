"""Options of the ``[subcloud_agent]`` group: how workers reach subcloud agents.

keystoneauth1 session and auth plugin options. For agents that check Keystone tokens
(``[agent] auth_strategy = keystone``): ``auth_type = password`` and the service
user's credentials. For agents with a shared token (``auth_strategy = token``):
``auth_type = admin_token`` and ``token``.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = cfg.OptGroup(
    "subcloud_agent",
    title="How workers authenticate to subcloud agents",
    help="keystoneauth1 session and auth options for http(s):// subcloud endpoints.",
)

opts = [
    cfg.FloatOpt(
        "request_timeout",
        default=10.0,
        min=0.5,
        help="Seconds a worker waits for an agent to answer one call (a start or a "
        "poll); longer and the subcloud counts as not answering for that poll.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
    ks_loading.register_session_conf_options(conf, GROUP.name)
    ks_loading.register_auth_conf_options(conf, GROUP.name)


def list_opts() -> list[cfg.Opt]:
    return (
        opts
        + ks_loading.get_session_conf_options()
        + ks_loading.get_auth_common_conf_options()
        + ks_loading.get_auth_plugin_conf_options("admin_token")
    )
