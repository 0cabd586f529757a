"""The web dashboard under ``/ui/``: static files shipped in the package, and the two
calls the page makes before it has a token.

The page is plain HTML, CSS and JavaScript modules (``static/``), served as they are:
nothing is built at install time and nothing is fetched from elsewhere. It talks to
the REST API under ``/v1.0`` with a Keystone token (``X-Auth-Token``), as any client
does, so the API's authentication and policies decide what it may read and do.

- ``GET /ui/config``: how to log in (``{"auth": "noauth" | "keystone"}``).
- ``POST /ui/login``: ``{"username", "password", "project"}`` (keystone: a token from
  Keystone's ``/v3/auth/tokens`` at ``[keystone_authtoken] www_authenticate_uri``;
  noauth: no body needed) answers the token, the user's roles and which of the
  dashboard's actions the policies allow them, so a reader gets no action buttons.
- ``DELETE /ui/login``: log out: the token in ``X-Auth-Token`` is revoked at Keystone
  (noauth: nothing to revoke), so a token copied from the page stops working too.

These paths never pass through authentication: the files hold no data, and the login
is how a token is had.
"""

import json
import logging
import os

import webob
import webob.static
from oslo_config import cfg

from dcmanager.api import body as api_body
from dcmanager.api import errors
from dcmanager.common import context as dc_context
from dcmanager.common import policy
from dcmanager.conf import default as default_conf
from dcmanager.policies import sw_update_strategy as strategy_policies

LOG = logging.getLogger(__name__)

PREFIX = "/ui"
STATIC = os.path.join(os.path.dirname(__file__), "static")
# The dashboard's buttons, each with the policy rule that allows it.
ACTIONS = {
    action: strategy_policies.PREFIX % action
    for action in ("create", *strategy_policies.ACTIONS, "delete")
}
LOGIN_TIMEOUT = 30
# The page runs only its own scripts, is never framed, and its files are taken for
# what they are said to be.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
}


def allowed_actions(ctx: dc_context.RequestContext) -> dict[str, bool]:
    """Which of the dashboard's actions the policies allow ``ctx``."""
    enforcer = policy.get_enforcer()
    return {
        action: bool(enforcer.authorize(rule, {}, ctx, do_raise=False))
        for action, rule in ACTIONS.items()
    }


class UiDispatcher:
    """WSGI: ``/ui`` and below to the dashboard, everything else to ``api``."""

    def __init__(self, api, conf: cfg.ConfigOpts) -> None:
        self.api = api
        self.conf = conf
        self.files = webob.static.DirectoryApp(STATIC)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return self.api(environ, start_response)
        request = webob.Request(environ)
        if path == PREFIX:
            response = webob.Response(status=301, location=request.application_url + "/ui/")
        elif path == PREFIX + "/config":
            response = self._config(request)
        elif path == PREFIX + "/login":
            response = self._login(request)
        else:
            request.path_info_pop()
            response = request.get_response(self.files)
            # The page asks again on every load: a new release's files are used at once.
            response.cache_control = "no-cache"
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    def _keystone(self) -> bool:
        return self.conf.auth_strategy == default_conf.AUTH_KEYSTONE

    def _config(self, request: webob.Request) -> webob.Response:
        if request.method != "GET":
            return errors.error_response(405, f"Method {request.method} is not allowed")
        return webob.Response(json_body={"auth": self.conf.auth_strategy})

    def _login(self, request: webob.Request) -> webob.Response:
        if request.method == "DELETE":
            return self._logout(request)
        if request.method != "POST":
            return errors.error_response(405, f"Method {request.method} is not allowed")
        if not self._keystone():
            ctx = dc_context.get_admin_context()
            return webob.Response(
                json_body={
                    "token": "noauth",
                    "user": "admin",
                    "project": ctx.project_name,
                    "roles": ctx.roles,
                    "allowed": allowed_actions(ctx),
                    "expires": None,
                }
            )
        try:
            body = json.loads(api_body.pending(request.environ).read() or b"null")
        except api_body.BodyTooLarge as exc:
            return errors.error_response(413, exc.message)
        except ValueError:
            body = None
        fields = ("username", "password", "project")
        if not isinstance(body, dict) or not all(
            isinstance(body.get(name), str) and body[name] for name in fields
        ):
            return errors.error_response(400, "username, password and project are required")
        if not isinstance(body.get("domain") or "Default", str):
            return errors.error_response(400, "domain must be a string")
        return _keystone_login(
            self.conf.keystone_authtoken.www_authenticate_uri,
            body["username"],
            body["password"],
            body["project"],
            body.get("domain") or "Default",
        )

    def _logout(self, request: webob.Request) -> webob.Response:
        if not self._keystone():
            return webob.Response(status=204)
        token = request.headers.get("X-Auth-Token")
        if not token:
            return errors.error_response(400, "X-Auth-Token (the token to revoke) is required")
        return _keystone_logout(self.conf.keystone_authtoken.www_authenticate_uri, token)


def _keystone_logout(auth_url: str, token: str) -> webob.Response:
    """Revoke ``token`` at Keystone with itself (a user may revoke their own token). The
    identity v3 root is found by discovery, as the login finds it; a 401 means the
    token is no longer valid, as good as revoked."""
    from keystoneauth1 import discover
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session as ks_session

    keystone = ks_session.Session(timeout=LOGIN_TIMEOUT)
    try:
        root = discover.get_discovery(keystone, auth_url).url_for((3, 0))
        if root is None:
            return errors.error_response(502, f"Keystone at {auth_url} offers no identity v3")
        keystone.delete(
            root.rstrip("/") + "/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        )
    except ks_exc.Unauthorized:
        pass
    except ks_exc.ClientException as exc:
        return _keystone_failed("logout", auth_url, exc)
    return webob.Response(status=204)


def _keystone_failed(action: str, auth_url: str, exc: Exception) -> webob.Response:
    """The answer when Keystone refused (502) or did not answer (503)."""
    from keystoneauth1 import exceptions as ks_exc

    if isinstance(exc, ks_exc.HttpError):
        LOG.warning("Dashboard %s: Keystone at %s refused: %s", action, auth_url, exc)
        return errors.error_response(502, f"Keystone refused the {action}: {exc.message}")
    LOG.warning("Dashboard %s: Keystone at %s did not answer: %s", action, auth_url, exc)
    return errors.error_response(503, f"Keystone could not be reached ({auth_url})")


def _keystone_login(
    auth_url: str, username: str, password: str, project: str, domain: str
) -> webob.Response:
    """A project-scoped token from Keystone, with the user's roles and actions."""
    # Imported here: keystoneauth1 is only needed in keystone mode.
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import generic

    auth = generic.Password(
        auth_url=auth_url,
        username=username,
        password=password,
        project_name=project,
        user_domain_name=domain,
        project_domain_name=domain,
    )
    try:
        access = auth.get_access(ks_session.Session(auth=auth, timeout=LOGIN_TIMEOUT))
    except ks_exc.Unauthorized:
        return errors.error_response(401, "The username, password or project is wrong")
    except ks_exc.ClientException as exc:
        return _keystone_failed("login", auth_url, exc)
    ctx = dc_context.RequestContext(
        user_id=access.user_id,
        project_id=access.project_id,
        project_name=access.project_name,
        roles=access.role_names,
        overwrite=False,  # not the context of the request being served
    )
    return webob.Response(
        json_body={
            "token": access.auth_token,
            "user": access.username,
            "project": access.project_name,
            "roles": access.role_names,
            "allowed": allowed_actions(ctx),
            "expires": access.expires.isoformat() if access.expires else None,
        }
    )
