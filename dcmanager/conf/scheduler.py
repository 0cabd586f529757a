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
        default=512,
        min=1,
        max=4096,
        help="Subclouds the audit asks at the same time (threads, green threads under "
        "eventlet). A subcloud that does not answer holds one for audit_timeout "
        "seconds: keep it above the subclouds expected to be silent at once, so that "
        "they wait together (those silent in the last round are asked first) instead "
        "of in waves of audit_timeout each.",
    ),
    cfg.FloatOpt(
        "audit_timeout",
        default=5.0,
        min=0.1,
        max=300.0,
        help="Seconds the audit waits for one subcloud to connect and answer; longer and "
        "it counts as not answering in this round. Agents are asked with this instead "
        "of [subcloud_agent] request_timeout; an agent's answer includes its look-ups "
        "of the site's platform (the agent's [platform] request_timeout), so keep those "
        "well under it.",
    ),
    cfg.FloatOpt(
        "audit_record_interval",
        default=0.5,
        min=0.01,
        max=60.0,
        help="Seconds at most between a subcloud's answer and its record in the "
        "database: the audit writes the answers gathered so far at this pace (or "
        "sooner, every audit_record_batch answers), one transaction each time.",
    ),
    cfg.IntOpt(
        "audit_record_batch",
        default=500,
        min=1,
        max=5000,
        help="Answers the audit writes in one transaction at most.",
    ),
    cfg.FloatOpt(
        "audit_lease_seconds",
        default=30.0,
        min=0.5,
        max=3600.0,
        help="How long an audit process holds its share of the fleet (its shards of "
        "subclouds) without renewing it. Each renews every quarter of it and shares "
        "the shards with the other live audit processes; the share of one that dies is "
        "taken over by the others once its lease has lapsed. The hosts' clocks must "
        "agree to well within it.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
