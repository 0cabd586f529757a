"""Options of the ``[prestage]`` group: what prestaging does and needs."""

from oslo_config import cfg

GROUP = cfg.OptGroup("prestage", title="Prestage options")

opts = [
    cfg.StrOpt(
        "release_store",
        default="$state_path/releases",
        help="Directory of the release store: package blobs by sha256 digest. The API "
        "writes and serves them; with several API hosts, share it (e.g. NFS).",
    ),
    cfg.IntOpt(
        "max_blob_bytes",
        default=16 * 1024**3,
        min=1,
        help="Largest package file (blob) the API accepts in an upload, in bytes.",
    ),
    cfg.IntOpt(
        "max_manifest_bytes",
        default=64 * 1024**2,
        min=1,
        help="Largest release manifest (POST /v1.0/releases: every file's path, size and "
        "digest) the API accepts, in bytes. Other request bodies are limited by "
        "[oslo_middleware] max_request_body_size.",
    ),
    cfg.FloatOpt(
        "simulated_preparation_seconds",
        default=0.0,
        min=0.0,
        max=3600.0,
        help="How long preparing a release's packages takes. Preparation is simulated "
        "until the release store exists; it runs once per strategy.",
    ),
    cfg.ListOpt(
        "simulated_preparation_failures",
        default=[],
        help="Releases whose (simulated) package preparation fails, to try out how a "
        "strategy handles it: every step waiting on it fails at once with its reason.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
