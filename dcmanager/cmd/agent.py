"""``dcmanager-agent``: the prestage agent of one subcloud.

``dcmanager-agent --config-file /etc/dcmanager/agent.conf`` serves the agent's API;
``dcmanager-agent hash-password`` reads a password (from the terminal, or one line of
stdin) and prints the hash for ``[agent] sysadmin_password_hash``.
"""

import getpass
import logging
import signal
import ssl
import sys
from collections.abc import Sequence

import requests
import requests.adapters
from cheroot import wsgi
from cheroot.ssl import builtin
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log

from dcmanager import version
from dcmanager.agent import app as agent_app
from dcmanager.agent import conf as agent_conf
from dcmanager.agent import operations
from dcmanager.agent import passwords
from dcmanager.agent import registry_auth

LOG = logging.getLogger(__name__)


# Seconds a connection may stay silent (a request's headers or body, a kept-alive
# connection between requests) before the agent drops it.
CONNECTION_TIMEOUT = 60
# Request headers beyond this size are refused (431) before the application sees them;
# a body beyond the application's own limit is refused by it (400).
MAX_HEADER_BYTES = 64 * 1024


class _AccessLog:
    """WSGI middleware: one access-log line per request (cheroot logs none)."""

    def __init__(self, app) -> None:
        self.app = app
        self.log = logging.getLogger("dcmanager.agent.access")

    def __call__(self, environ, start_response):
        def logged(status, headers, exc_info=None):
            self.log.info(
                "%s %s %s %s",
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                status.split(" ", 1)[0],
            )
            return start_response(status, headers, exc_info)

        return self.app(environ, logged)


def build_server(conf: cfg.ConfigOpts, app) -> wsgi.Server:
    """The agent's HTTP(S) server: cheroot, with keep-alive, at most ``[agent]
    max_connections`` requests served at once (more wait in the listen queue), bounded
    request headers, and TLS when ``[agent] cert_file`` is set.

    :raises ConfigError: the TLS files do not go together or do not load.
    """
    server = wsgi.Server(
        (conf.agent.bind_host, conf.agent.bind_port),
        _AccessLog(app),
        numthreads=conf.agent.max_connections,
        max=conf.agent.max_connections,
        request_queue_size=conf.agent.max_connections,
        timeout=CONNECTION_TIMEOUT,
        shutdown_timeout=5,
        server_name="dcmanager-agent",
    )
    server.max_request_header_size = MAX_HEADER_BYTES
    context = _ssl_context(conf)
    if context is not None:
        adapter = builtin.BuiltinSSLAdapter(conf.agent.cert_file, conf.agent.key_file)
        adapter.context = context
        server.ssl_adapter = adapter
    return server


def _http_session(conf: cfg.ConfigOpts) -> requests.Session:
    """A requests session with room for every concurrent download."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=conf.agent.download_concurrency * 2 + 4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def build_agent(conf: cfg.ConfigOpts) -> operations.Agent:
    """The agent, with its sessions to the controller and to registries."""
    auth = ks_loading.load_auth_from_conf_options(conf, agent_conf.CONTROLLER_GROUP.name)
    controller = ks_loading.load_session_from_conf_options(
        conf, agent_conf.CONTROLLER_GROUP.name, auth=auth, session=_http_session(conf)
    )
    registry = _http_session(conf)

    def controller_get(url: str, **kwargs) -> requests.Response:
        return controller.get(url, raise_exc=False, log=False, **kwargs)

    return operations.Agent(conf, controller_get, registry.get, _site_session(conf))


def _site_session(conf: cfg.ConfigOpts) -> requests.Session | None:
    """The session to the site's registry, with its credentials (basic, or exchanged
    for bearer tokens) and CA (None: the agent has no ``[agent] local_registry_url``)."""
    agent = conf.agent
    if not agent.local_registry_url:
        return None
    session = _http_session(conf)
    if agent.local_registry_cafile:
        session.verify = agent.local_registry_cafile
    if agent.local_registry_username:
        session.auth = registry_auth.RegistryAuth(
            agent.local_registry_username,
            agent.local_registry_password or "",
            agent.request_timeout,
            session.verify,
        )
    return session


def hash_password(stdin=sys.stdin) -> int:
    password = (
        getpass.getpass("sysadmin password: ") if stdin.isatty() else stdin.readline().rstrip("\n")
    )
    if not password:
        print("dcmanager-agent hash-password: an empty password", file=sys.stderr)
        return 1
    print(passwords.hash_password(password.encode()))
    return 0


def parse_args(argv: Sequence[str]) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    log.register_options(conf)
    conf.set_default("use_stderr", True)
    conf(
        list(argv),
        project="dcmanager",
        prog="dcmanager-agent",
        version=version.version_string,
        default_config_files=[],
    )
    log.setup(conf, "dcmanager-agent")
    return conf


def _ssl_context(conf: cfg.ConfigOpts) -> ssl.SSLContext | None:
    """The TLS context when ``[agent] cert_file`` is set.

    :raises ConfigError: only one of cert_file and key_file, or files that do not load.
    """
    cert, key = conf.agent.cert_file, conf.agent.key_file
    if not cert and not key:
        return None
    if not (cert and key):
        raise agent_app.ConfigError("[agent] cert_file and key_file go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise agent_app.ConfigError(f"cannot load [agent] cert_file/key_file: {exc}") from None
    return context


def _check(conf: cfg.ConfigOpts) -> None:
    """:raises ConfigError: a setting that cannot work."""
    if conf.agent.sysadmin_password_hash:
        try:
            passwords.check(conf.agent.sysadmin_password_hash)
        except passwords.BadHash as exc:
            raise agent_app.ConfigError(f"[agent] sysadmin_password_hash is {exc}") from None
    else:
        LOG.warning("[agent] sysadmin_password_hash is not set: every prestage will be refused")
    if not conf.agent.repository_urls:
        LOG.warning("[agent] repository_urls is not set: every prestage will be refused")
    if conf.controller.auth_type and not conf.agent.repository_urls:
        raise agent_app.ConfigError(
            "[controller] credentials need [agent] repository_urls: the controllers the "
            "agent may send them to"
        )


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["hash-password"]:
        return hash_password()
    conf = parse_args(argv)
    try:
        _check(conf)
        agent = build_agent(conf)
        app = agent_app.setup_app(conf, agent)
        agent.load()
        server = build_server(conf, app)
        server.prepare()  # binds: an address in use fails here
    except (agent_app.ConfigError, ks_exc.ClientException, cfg.Error) as exc:
        LOG.error("dcmanager-agent cannot start: %s", exc)
        return 1
    except OSError as exc:
        LOG.error("dcmanager-agent cannot start: %s: %s", exc.strerror or exc, exc.filename or "")
        return 1
    bound_host, bound_port = server.bind_addr[:2]
    LOG.info(
        "dcmanager-agent serving %s://%s:%s (auth: %s, state: %s)",
        "https" if server.ssl_adapter else "http",
        f"[{bound_host}]" if ":" in bound_host else bound_host,
        bound_port,
        conf.agent.auth_strategy,
        conf.agent.state_dir,
    )

    def _stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve()
    except SystemExit:
        pass
    finally:
        server.stop()
        agent.stop()
    LOG.info("dcmanager-agent stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
