"""Options of the ``[orchestrator]`` group: the strategy engine and its workers."""

from oslo_config import cfg

GROUP = cfg.OptGroup("orchestrator", title="Orchestration engine options")

opts = [
    cfg.FloatOpt(
        "step_lease_seconds",
        default=30.0,
        min=1.0,
        max=3600.0,
        help="How long a worker holds a running step without renewing its lease. When a "
        "lease expires (the worker died or lost the database) the orchestrator gives "
        "the step to another worker. Keep it several times heartbeat_interval.",
    ),
    cfg.FloatOpt(
        "heartbeat_interval",
        default=10.0,
        min=0.1,
        max=1200.0,
        help="Seconds between a worker's lease renewals (one UPDATE for all its steps).",
    ),
    cfg.FloatOpt(
        "scan_interval",
        default=5.0,
        min=0.1,
        max=600.0,
        help="Seconds between the orchestrator's safety-net scans (expired leases, lost "
        "messages). The window is refilled at once when a step ends, not by this scan. "
        "An orchestrator holds the strategy for three scans; another takes over after.",
    ),
    cfg.FloatOpt(
        "poll_interval",
        default=2.0,
        min=0.05,
        max=600.0,
        help="Seconds between a worker's polls of the operations running on its "
        "subclouds (one request per subcloud per poll).",
    ),
    cfg.FloatOpt(
        "eta_interval",
        default=2.0,
        min=0.1,
        max=600.0,
        help="Seconds between refreshes of an applying strategy's estimated end (each "
        "reads its running steps and the last completed ones' timings).",
    ),
    cfg.FloatOpt(
        "unreachable_timeout",
        default=600.0,
        min=1.0,
        max=86400.0,
        help="Seconds a running step waits for a subcloud that stopped answering before "
        "it fails (sooner if the audit declares the subcloud offline).",
    ),
    cfg.IntOpt(
        "max_step_attempts",
        default=3,
        min=1,
        max=100,
        help="How many workers a step may be given before it fails because they kept "
        "disappearing while running it.",
    ),
    cfg.IntOpt(
        "worker_pool_size",
        default=64,
        min=1,
        max=4096,
        help="Threads a worker uses for calls to subclouds (short calls: no thread ever "
        "waits for a long operation).",
    ),
    cfg.IntOpt(
        "worker_batch_size",
        default=500,
        min=1,
        max=10000,
        help="How many steps a worker moves in one database transaction.",
    ),
    cfg.IntOpt(
        "dispatch_batch_size",
        default=100,
        min=1,
        max=10000,
        help="How many started steps the orchestrator hands to one worker in one "
        "message; workers share a large window this way.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
