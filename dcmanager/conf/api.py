"""Options of the ``[api]`` group: the REST API server."""

from oslo_config import cfg

GROUP = cfg.OptGroup("api", title="REST API server options")

opts = [
    cfg.HostAddressOpt(
        "bind_host",
        default="127.0.0.1",
        help="Address the API listens on. The default serves only this host; with "
        "auth_strategy = noauth, never bind to a non-loopback address.",
    ),
    cfg.PortOpt("bind_port", default=8119, help="TCP port the API listens on."),
    cfg.IntOpt(
        "max_connections",
        default=1000,
        min=1,
        max=100000,
        help="How many client connections the built-in server handles at once; more "
        "wait in the listen backlog. Requests that reach the database also wait for one "
        "of the [database] max_pool_size + max_overflow connections.",
    ),
    cfg.IntOpt(
        "client_socket_timeout",
        default=900,
        min=1,
        help="Seconds the built-in server waits on an idle client connection before closing it.",
    ),
    cfg.IntOpt(
        "max_bulk_bytes",
        default=4 * 1024 * 1024,
        min=1024,
        help="Largest body of POST /v1.0/subclouds/bulk (up to 5000 subclouds in one "
        "request); other requests keep [oslo_middleware] max_request_body_size.",
    ),
    cfg.FloatOpt(
        "changes_overlap",
        default=10.0,
        min=0.0,
        max=3600.0,
        help="Seconds that next-changed-since (GET /v1.0/subclouds?changed-since=) "
        "reaches back before the answer was read. A change is stamped with its writer's "
        "clock before it commits: one that commits later than this after its stamp, or "
        "whose writer's clock is behind by more, is missed until the client reloads "
        "the whole list (the dashboard does every 5 minutes). Larger is safer; smaller "
        "answers fewer subclouds twice.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
