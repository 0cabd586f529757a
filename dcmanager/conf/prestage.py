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
        "blob_grace_seconds",
        default=24 * 3600.0,
        min=0.0,
        help="How long a blob no release names is kept after it was last uploaded: an "
        "upload sends blobs first and names them in its release after, so keep this "
        "longer than the longest upload. Then the collector removes it.",
    ),
    cfg.FloatOpt(
        "blob_collect_interval",
        default=3600.0,
        min=1.0,
        help="Seconds between two runs of the collector of unused blobs (it runs in the "
        "orchestrator; several orchestrators take turns, under a database lock).",
    ),
    cfg.URIOpt(
        "repository_url",
        schemes=["http", "https"],
        help="The API's URL as subcloud agents reach it (e.g. http://10.10.10.2:8119): "
        "agents fetch the release store's files from <repository_url>/v1.0/blobs. "
        "Needed by subclouds whose endpoint is http(s):// (a dcmanager-agent).",
    ),
    cfg.URIOpt(
        "registry_url",
        schemes=["http", "https"],
        help="The container registry (OCI distribution API) agents pull a release's "
        "images from, e.g. http://10.10.10.2:9001. Needed when a release lists images.",
    ),
    cfg.FloatOpt(
        "max_bandwidth_per_subcloud",
        default=0.0,
        min=0.0,
        help="Most MiB/s one subcloud's agent downloads at (packages and images); 0: no cap.",
    ),
    cfg.FloatOpt(
        "max_bandwidth_total",
        default=0.0,
        min=0.0,
        help="Most MiB/s each API process serves release files at, all subclouds "
        "together; 0: no cap. With several API processes the cap applies to each.",
    ),
    cfg.FloatOpt(
        "simulated_preparation_seconds",
        default=0.0,
        min=0.0,
        max=3600.0,
        help="Extra time preparing a release's packages takes (it runs once per "
        "strategy), to try out how strategies wait on it.",
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
