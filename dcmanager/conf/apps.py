"""Options of the ``[apps]`` group: the application catalog."""

from oslo_config import cfg

GROUP = cfg.OptGroup("apps", title="Application catalog options")

opts = [
    cfg.IntOpt(
        "max_tarball_bytes",
        default=256 * 1024**2,
        min=1,
        help="Largest application tarball the API accepts in an upload, in bytes (it is "
        "checked in memory before anything of it is kept).",
    ),
    cfg.IntOpt(
        "max_unpacked_bytes",
        default=512 * 1024**2,
        min=1,
        help="Most bytes an application tarball may unpack to.",
    ),
    cfg.IntOpt(
        "max_files",
        default=10000,
        min=1,
        help="Most files an application tarball may hold.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
