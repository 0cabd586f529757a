"""The agent's REST API (JSON), for the system controller's workers.

``GET /``
    the service and its API version (no authentication);
``GET /v1/info``
    system information and health;
``POST /v1/operations``
    start an operation (``id``, ``kind``, ``release``, ``repository_url``,
    ``registry_url``, ``max_bandwidth``, ``sysadmin_password``): 201, or 200 with the
    operation already started under that id; 403 when the password does not match;
``GET /v1/operations/{id}``
    the operation's state and progress;
``DELETE /v1/operations/{id}``
    cancel it (the partial downloads stay, for the next operation to resume).

Every call but ``GET /`` needs the caller authenticated (``[agent] auth_strategy``).
"""

import hmac
import json
import logging
from typing import Any

import webob
import webob.dec
import webob.exc
from keystonemiddleware import auth_token
from oslo_config import cfg

from dcmanager import version
from dcmanager.agent import admission
from dcmanager.agent import conf as agent_conf
from dcmanager.agent import operations
from dcmanager.common import wsgi

LOG = logging.getLogger(__name__)

# Roles that may drive the agent when callers are authenticated by Keystone.
ALLOWED_ROLES = frozenset(("admin", "service"))
# An application operation carries its charts' overrides (each up to the controller's
# [helm] max_user_overrides_bytes, 1 MiB), an images operation up to 1000 references.
MAX_BODY_BYTES = 8 * 1024 * 1024


class ConfigError(Exception):
    """The agent's configuration cannot work; the message says what to set."""


def _json(status: int, body: Any) -> webob.Response:
    return webob.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json", charset=None
    )


def _error(status: int, message: str) -> webob.Response:
    return _json(status, {"error": message})


class AgentApp:
    def __init__(self, agent: operations.Agent) -> None:
        self.agent = agent

    @webob.dec.wsgify
    def __call__(self, request: webob.Request) -> webob.Response:
        try:
            return self._dispatch(request)
        except Exception:
            # A bug must still answer as the API does: JSON, and no traceback.
            LOG.exception("%s %s failed", request.method, request.path_info)
            return _error(500, "internal error (see the agent's log)")

    def _dispatch(self, request: webob.Request) -> webob.Response:
        parts = [p for p in request.path_info.split("/") if p]
        if not parts:
            if request.method != "GET":
                return _error(405, f"{request.method} is not allowed on /")
            return _json(
                200, {"service": "dcmanager-agent", "version": version.version_string, "api": "v1"}
            )
        if parts[0] != "v1" or len(parts) > 3:
            return _error(404, f"no such resource: {request.path_info}")
        if parts == ["v1", "info"] and request.method == "GET":
            return _json(200, self.agent.info())
        if parts == ["v1", "operations"] and request.method == "POST":
            return self._start(request)
        if len(parts) == 3 and parts[1] == "operations":
            if request.method == "GET":
                record = self.agent.get(parts[2])
            elif request.method == "DELETE":
                record = self.agent.cancel(parts[2])
            else:
                return _error(405, f"{request.method} is not allowed on {request.path_info}")
            if record is None:
                return _error(404, f"no operation {parts[2]}")
            return _json(200, record.view())
        if len(parts) >= 2 and parts[1] in ("info", "operations"):
            return _error(405, f"{request.method} is not allowed on {request.path_info}")
        return _error(404, f"no such resource: {request.path_info}")

    def _start(self, request: webob.Request) -> webob.Response:
        if request.content_length is None or request.content_length > MAX_BODY_BYTES:
            return _error(400, f"the body must be JSON of at most {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            return _error(400, "the body is not JSON (or nests too deeply)")
        try:
            record, created = self.agent.start(body)
        except admission.Refused as exc:
            return _error(exc.status, str(exc))
        return _json(201 if created else 200, record.view())


class _TokenAuth:
    """Lets through requests whose X-Auth-Token is the shared token."""

    def __init__(self, app, token: str) -> None:
        self.app = app
        self.token = token.encode()

    @webob.dec.wsgify
    def __call__(self, request: webob.Request):
        given = request.headers.get("X-Auth-Token", "").encode()
        if not hmac.compare_digest(given, self.token):
            return _error(401, "authentication required: a valid X-Auth-Token")
        return request.get_response(self.app)


class _RoleCheck:
    """After keystonemiddleware: only the admin and service roles may call."""

    def __init__(self, app) -> None:
        self.app = app

    @webob.dec.wsgify
    def __call__(self, request: webob.Request):
        roles = {r.strip() for r in request.headers.get("X-Roles", "").split(",")}
        if not roles & ALLOWED_ROLES:
            return _error(
                403, f"the caller needs one of the roles {', '.join(sorted(ALLOWED_ROLES))}"
            )
        return request.get_response(self.app)


def setup_app(conf: cfg.ConfigOpts, agent: operations.Agent):
    """The WSGI application, with the authentication ``[agent] auth_strategy`` names.

    :raises ConfigError: the authentication is not configured.
    """
    app = AgentApp(agent)
    if conf.agent.auth_strategy == agent_conf.AUTH_TOKEN:
        token = conf.agent.auth_token or ""
        if len(token) < 16:
            raise ConfigError(
                "auth_strategy = token needs [agent] auth_token (16 characters or more)"
            )
        protected = _TokenAuth(app, token)
    else:
        protected = auth_token.AuthProtocol(_RoleCheck(app), {"oslo_config_config": conf})
        if not conf.keystone_authtoken.www_authenticate_uri:
            raise ConfigError(
                "auth_strategy = keystone needs [keystone_authtoken] www_authenticate_uri "
                "(and the credentials auth_token validates tokens with)"
            )
    return wsgi.PublicRootDispatcher(app, protected)
