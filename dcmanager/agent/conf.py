"""The agent's options: its own configuration file, apart from dcmanager's."""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = cfg.OptGroup("agent", title="dcmanager-agent options")
CONTROLLER_GROUP = cfg.OptGroup(
    "controller",
    title="How the agent authenticates to the system controller",
    help="keystoneauth1 session and auth plugin options used to read the release "
    "store (GET /v1.0/releases and /v1.0/blobs). Leave auth_type unset when the "
    "controller runs with auth_strategy = noauth; otherwise give a user with the "
    "reader role (auth_type = password, auth_url, username, password, ...).",
)

AUTH_KEYSTONE = "keystone"
AUTH_TOKEN = "token"

opts = [
    cfg.HostAddressOpt(
        "bind_host",
        default="127.0.0.1",
        help="Address the agent listens on: the subcloud's management address, "
        "reachable from the system controller's workers.",
    ),
    cfg.PortOpt("bind_port", default=8129, help="Port the agent listens on."),
    cfg.IntOpt(
        "max_connections",
        default=16,
        min=2,
        max=1024,
        help="Requests the agent serves at once (connections kept alive included); "
        "further connections wait in the listen queue.",
    ),
    cfg.StrOpt(
        "cert_file",
        help="PEM certificate (chain) to serve HTTPS with; register the subcloud with an "
        "https:// endpoint, and give workers the CA in [subcloud_agent] cafile.",
    ),
    cfg.StrOpt("key_file", help="PEM private key of cert_file."),
    cfg.StrOpt(
        "state_dir",
        default="/var/lib/dcmanager-agent",
        help="Where the agent keeps what it prestaged: blobs by sha256, the releases "
        "made of them, image references and its operations.",
    ),
    cfg.StrOpt(
        "software_dir",
        default="/opt/software",
        help="Where a prestage for software deployment (the default) puts each "
        "release's packages: <software_dir>/<release>, with the release's manifest "
        "beside it as <release>.manifest.json.",
    ),
    cfg.StrOpt(
        "platform_backup_dir",
        default="/opt/platform-backup",
        help="Where a prestage for install (--for-install) puts each release's "
        "packages: <platform_backup_dir>/<release>, with its manifest beside it.",
    ),
    cfg.StrOpt(
        "local_registry_url",
        help="The site's own container registry (a StarlingX site's registry.local, "
        "e.g. https://registry.local:9001): prestaged images are pushed there. Unset: "
        "image blobs stay in the state directory only.",
    ),
    cfg.StrOpt("local_registry_username", help="User to push to local_registry_url as."),
    cfg.StrOpt("local_registry_password", secret=True, help="Password of local_registry_username."),
    cfg.StrOpt(
        "local_registry_cafile",
        help="CA bundle to verify an https local_registry_url with (default: the system's CAs).",
    ),
    cfg.IntOpt(
        "reserved_disk_bytes",
        default=0,
        min=0,
        help="Disk space the agent leaves to the platform: it reports that much less "
        "free space than the state directory's filesystem has, so a prestage that "
        "would eat into it fails its precheck.",
    ),
    cfg.StrOpt(
        "sysadmin_password_hash",
        secret=True,
        help="Hash of the subcloud's sysadmin password, as printed by "
        "'dcmanager-agent hash-password'. A prestage whose password does not match is "
        "refused; without a hash every prestage is refused.",
    ),
    cfg.StrOpt(
        "auth_strategy",
        default=AUTH_KEYSTONE,
        choices=[
            (
                AUTH_KEYSTONE,
                "Callers present a Keystone token with the admin or service "
                "role, validated with the [keystone_authtoken] options.",
            ),
            (AUTH_TOKEN, "Callers present [agent] auth_token as X-Auth-Token."),
        ],
        help="How the agent authenticates its callers (the system controller). "
        "Unauthenticated calls get 401.",
    ),
    cfg.StrOpt(
        "auth_token",
        secret=True,
        help="The shared token callers present when auth_strategy = token (at least "
        "16 characters).",
    ),
    cfg.ListOpt(
        "repository_urls",
        default=[],
        help="The system controller URLs (as in its [prestage] repository_url) this agent "
        "fetches releases from, and sends its [controller] credentials to; an "
        "operation naming another is refused (403). Empty: every operation is refused "
        "until it is set. Required to start when [controller] has credentials.",
    ),
    cfg.ListOpt(
        "registry_urls",
        default=[],
        help="The container registries (as in the controller's [prestage] registry_url) "
        "this agent pulls images from; an operation naming another is refused (403). "
        "Empty: no images are pulled.",
    ),
    cfg.IntOpt(
        "download_concurrency",
        default=4,
        min=1,
        max=64,
        help="Files one operation downloads at the same time.",
    ),
    cfg.IntOpt(
        "max_attempts",
        default=3,
        min=1,
        help="Attempts per request or file before an operation fails: a broken "
        "connection resumes where it stopped, a digest mismatch starts the file again. "
        "A 404 or a refused credential is never tried again.",
    ),
    cfg.FloatOpt(
        "retry_interval",
        default=1.0,
        min=0.0,
        help="Seconds before the second attempt; each later wait doubles, up to "
        "retry_max_interval, with up to half of retry_interval added at random.",
    ),
    cfg.FloatOpt(
        "retry_max_interval",
        default=30.0,
        min=0.0,
        help="The longest wait between two attempts (before the random part).",
    ),
    cfg.FloatOpt(
        "request_timeout",
        default=30.0,
        min=1.0,
        help="Seconds the agent waits on the controller or the registry to answer "
        "(or to send more of a file) before it tries again.",
    ),
    cfg.StrOpt(
        "platform",
        default="linux/amd64",
        help="For a multi-platform image, the platform whose image is pulled.",
    ),
    cfg.StrOpt(
        "system_mode",
        default="simplex",
        choices=["simplex", "duplex"],
        help="The subcloud's system mode, as reported to prechecks and audits when "
        "[platform] source gives none (a fallback).",
    ),
    cfg.BoolOpt(
        "controller0_active",
        default=True,
        help="Whether controller-0 is the active controller, as reported when [platform] "
        "source gives none (a fallback).",
    ),
    cfg.IntOpt(
        "management_alarms",
        default=0,
        min=0,
        help="Management-affecting alarms raised on the subcloud, as reported when "
        "[platform] source gives none (a fallback; prechecks refuse a subcloud with "
        "alarms unless forced).",
    ),
    cfg.StrOpt(
        "software_version",
        help="The release the subcloud runs, as reported when [platform] source gives "
        "none (a fallback).",
    ),
    cfg.StrOpt(
        "app_backend",
        default="render",
        choices=[
            (
                "render",
                "Render every chart with real Helm into the state directory "
                "(apps/), keeping Helm's release history there, for a tool that applies "
                "the manifests.",
            ),
            (
                "helm",
                "Install, upgrade, roll back and uninstall with real Helm against "
                "the site's Kubernetes cluster (kubeconfig).",
            ),
        ],
        help="How the agent runs the applications of the site. Both need the helm "
        "extra (pip install 'dcmanager[helm]').",
    ),
    cfg.StrOpt(
        "kubeconfig",
        help="The kubeconfig of the site's cluster, for app_backend = helm (default: "
        "Helm's own lookup, KUBECONFIG or ~/.kube/config).",
    ),
    cfg.IntOpt(
        "helm_timeout",
        default=300,
        min=1,
        help="Seconds each Helm action may take, for app_backend = helm.",
    ),
    cfg.IntOpt(
        "app_max_unpacked_bytes",
        default=512 * 1024**2,
        min=1,
        help="Most bytes an application tarball may unpack to at this site.",
    ),
    cfg.IntOpt(
        "app_max_files",
        default=10000,
        min=1,
        help="Most files an application tarball may hold at this site.",
    ),
]


PLATFORM_GROUP = cfg.OptGroup(
    "platform",
    title="Where the agent learns the site's facts",
    help="The system mode, whether controller-0 is active, the management-affecting "
    "alarms, the software deployment state and the running release, which the agent "
    "reports to prechecks and audits (GET /v1/info), come from the source named by "
    "'source'. A fact the source does not give comes from the [agent] option of the "
    "same name and is listed in the answer's fallback_facts. A source that is "
    "configured but fails (unreachable, refused, an answer that makes no sense) "
    "makes the site unhealthy: its reason is the answer's health_problem, which "
    "refuses prestages, and its facts fall back to the [agent] options meanwhile. "
    "For source = starlingx, the keystoneauth1 session and auth plugin options of "
    "this group authenticate to the site's own Keystone (auth_type = password, "
    "auth_url, username, password, project_name, ...; a user the site's services "
    "accept, such as the admin or a service user); leave auth_type unset to reach "
    "the services at sysinv_url, fm_url and usm_url without a token.",
)
SOURCE_CONFIG = "config"
SOURCE_STARLINGX = "starlingx"
SOURCE_COMMAND = "command"
SOURCE_FILE = "file"
STARLINGX_SERVICES = ("sysinv", "fm", "usm")

platform_opts = [
    cfg.StrOpt(
        "source",
        default=SOURCE_CONFIG,
        choices=[
            (
                SOURCE_CONFIG,
                "The [agent] options system_mode, controller0_active, "
                "management_alarms and software_version, as written (every fact is "
                "listed as a fallback).",
            ),
            (
                SOURCE_STARLINGX,
                "The site's StarlingX services: sysinv (GET /v1/isystems, /v1/ihosts), "
                "fm (GET /v1/alarms) and USM (GET /v1/deploy), as starlingx_services "
                "lists them.",
            ),
            (
                SOURCE_COMMAND,
                "The JSON object the 'command' prints on its standard output.",
            ),
            (SOURCE_FILE, "The JSON object the 'file' holds."),
        ],
        help="Where the site's facts come from. A command's or file's JSON object may "
        "hold system_mode (simplex, duplex or duplex-direct), controller0_active "
        "(true/false), management_alarms (a count), deploy_status (complete when no "
        "software deployment is under way) and software_version; the facts it leaves "
        "out come from the [agent] options.",
    ),
    cfg.ListOpt(
        "starlingx_services",
        default=list(STARLINGX_SERVICES),
        item_type=cfg.types.String(choices=STARLINGX_SERVICES),
        help="For source = starlingx, the services asked: sysinv (system_mode, "
        "software_version, controller0_active), fm (management_alarms), usm "
        "(deploy_status; leave it out on releases before USM). The facts of a service "
        "not listed come from the [agent] options.",
    ),
    cfg.StrOpt(
        "interface",
        default="internal",
        choices=["public", "internal", "admin"],
        help="For source = starlingx, the Keystone catalog interface the services are "
        "looked up with (service types platform, faultmanagement and usm).",
    ),
    cfg.StrOpt(
        "region_name",
        help="For source = starlingx, the region whose catalog entries are used "
        "(default: the only one).",
    ),
    cfg.URIOpt(
        "sysinv_url",
        schemes=["http", "https"],
        help="The site's sysinv endpoint (e.g. http://192.168.204.2:6385), instead of "
        "the catalog's 'platform' entry. A trailing /v1 is optional.",
    ),
    cfg.URIOpt(
        "fm_url",
        schemes=["http", "https"],
        help="The site's fm endpoint (e.g. http://192.168.204.2:18002), instead of the "
        "catalog's 'faultmanagement' entry.",
    ),
    cfg.URIOpt(
        "usm_url",
        schemes=["http", "https"],
        help="The site's USM endpoint (e.g. http://192.168.204.2:5497), instead of the "
        "catalog's 'usm' entry.",
    ),
    cfg.StrOpt(
        "command",
        help="For source = command: the command line (split like a shell's words, run "
        "without a shell, as the agent's user) that prints the facts as one JSON "
        "object; a non-zero exit fails the source.",
    ),
    cfg.StrOpt("file", help="For source = file: the JSON file that holds the facts."),
    cfg.FloatOpt(
        "request_timeout",
        default=5.0,
        min=0.1,
        max=300.0,
        help="Seconds each look-up may take: a request to the site's services (they "
        "are asked at the same time), the command, and the probe of [agent] "
        "local_registry_url. Keep it under the controller's [subcloud_agent] "
        "request_timeout, or a site whose services hang looks unreachable.",
    ),
    cfg.FloatOpt(
        "cache_seconds",
        default=10.0,
        min=0.0,
        max=3600.0,
        help="How long an answer of the source and the registry probe is reused for "
        "GET /v1/info (audits, operators); 0: ask every time. A precheck always asks "
        "afresh.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
    conf.register_group(CONTROLLER_GROUP)
    ks_loading.register_session_conf_options(conf, CONTROLLER_GROUP.name)
    ks_loading.register_auth_conf_options(conf, CONTROLLER_GROUP.name)
    # A group of its own per configuration: oslo.config copies a group shallowly, and
    # the auth plugin's options (registered when loaded) would otherwise reach every
    # other configuration object of the process.
    conf.register_group(
        cfg.OptGroup(PLATFORM_GROUP.name, PLATFORM_GROUP.title, PLATFORM_GROUP.help)
    )
    conf.register_opts(platform_opts, group=PLATFORM_GROUP)
    ks_loading.register_session_conf_options(conf, PLATFORM_GROUP.name)
    ks_loading.register_auth_conf_options(conf, PLATFORM_GROUP.name)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """For ``oslo-config-generator`` (namespace ``dcmanager.agent``)."""
    return [
        (GROUP.name, opts),
        (
            CONTROLLER_GROUP.name,
            ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options("password"),
        ),
        (
            PLATFORM_GROUP,
            platform_opts
            + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options("password"),
        ),
    ]
