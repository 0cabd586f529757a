"""Options of the ``[scheduler]`` group: periodic audits."""

from oslo_config import cfg

GROUP = cfg.OptGroup("scheduler", title="Periodic audit options")

opts = [
    cfg.FloatOpt(
        "subcloud_audit_interval",
        default=20.0,
        min=0.1,
        max=3600.0,
        help="Seconds between audits of every subcloud's availability (managed or not). "
        "Audits go on while strategies run.",
    ),
    cfg.IntOpt(
        "offline_after_failures",
        default=2,
        min=1,
        max=100,
        help="Consecutive audits a subcloud must fail to answer before it is offline. "
        "One answer brings it online at once.",
    ),
    cfg.IntOpt(
        "audit_pool_size",
        default=32,
        min=1,
        max=4096,
        help="Threads the audit uses to ask subclouds at the same time.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
