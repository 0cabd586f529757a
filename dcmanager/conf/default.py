"""Options of the ``[DEFAULT]`` group."""

import os

from oslo_config import cfg


def _default_state_path() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "dcmanager")


AUTH_NOAUTH = "noauth"
AUTH_KEYSTONE = "keystone"

opts = [
    cfg.StrOpt(
        "state_path",
        default=_default_state_path(),
        sample_default="<$XDG_STATE_HOME or ~/.local/state>/dcmanager",
        help="Directory where dcmanager keeps its local state: the embedded SQLite "
        "database, key files and the agent's downloads. Created on start if missing. "
        "Services on one host may share it; services on different hosts each have their "
        "own. Production deployments usually set /var/lib/dcmanager. Write an "
        "absolute path: '~' is not expanded.",
    ),
    cfg.StrOpt(
        "auth_strategy",
        default=AUTH_KEYSTONE,
        choices=[
            (
                AUTH_NOAUTH,
                "No authentication: every caller is an administrator. Only "
                "for the embedded mode on a loopback address.",
            ),
            (
                AUTH_KEYSTONE,
                "Validate X-Auth-Token with keystonemiddleware; see the "
                "[keystone_authtoken] group.",
            ),
        ],
        help="How the API authenticates its callers. dcmanager-all (the embedded mode) "
        "defaults to noauth instead.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(opts)
