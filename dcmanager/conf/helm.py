"""Options of the ``[helm]`` group: Helm chart overrides."""

from oslo_config import cfg

GROUP = cfg.OptGroup("helm", title="Helm chart overrides")

MIB = 1024 * 1024

opts = [
    cfg.IntOpt(
        "max_user_overrides_bytes",
        default=MIB,
        min=1024,
        max=16 * MIB,
        help="The largest user overrides text kept for one chart and namespace, in bytes "
        "of YAML. An update that would make them larger is refused with 400. (Requests "
        "are also limited by [oslo_middleware] max_request_body_size, but a short "
        "expression such as a[65536]=x makes a long text.)",
    ),
    cfg.StrOpt(
        "default_region_name",
        default="RegionOne",
        help="The region system overrides are computed for when no subcloud is named "
        "(GET /v1.0/helm_charts/{name} without ?subcloud=, a simplex site).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
