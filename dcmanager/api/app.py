"""Builds the API's WSGI application: pecan app plus its middleware stack."""

import pecan
import webob
from keystonemiddleware import auth_token
from oslo_config import cfg
from oslo_middleware import request_id
from oslo_middleware import sizelimit

from dcmanager.api import errors
from dcmanager.api import hooks
from dcmanager.common import exception
from dcmanager.common import wsgi
from dcmanager.conf import default as default_conf

BLOBS_PATH = "/v1.0/blobs/"
RELEASES_PATH = "/v1.0/releases"


class _BodyLimits:
    """The request body limit of each route: blob uploads are streamed to disk and
    checked against ``[prestage] max_blob_bytes`` by their controller; a release
    manifest (``POST /v1.0/releases``) may be as large as ``[prestage]
    max_manifest_bytes``; every other body, ``[oslo_middleware] max_request_body_size``.
    """

    def __init__(self, app, conf: cfg.ConfigOpts) -> None:
        self.app = app
        self.conf = conf
        self.limited_app = sizelimit.RequestBodySizeLimiter(app, conf)

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if method == "PUT" and path.startswith(BLOBS_PATH):
            return self.app(environ, start_response)
        if method == "POST" and path.rstrip("/") == RELEASES_PATH:
            limit = self.conf.prestage.max_manifest_bytes
            length = webob.Request(environ).content_length
            if length is not None and length > limit:
                response = errors.error_response(
                    413,
                    f"A release manifest is limited to [prestage] max_manifest_bytes "
                    f"({limit} bytes)",
                )
                return response(environ, start_response)
            if length is None:
                environ["wsgi.input"] = sizelimit.LimitingReader(environ["wsgi.input"], limit)
            return self.app(environ, start_response)
        return self.limited_app(environ, start_response)


def setup_app(conf: cfg.ConfigOpts = cfg.CONF):
    """The WSGI application serving ``/`` and ``/v1.0``.

    :raises ConfigInvalid: keystone authentication is not configured.
    """
    app = pecan.make_app(
        "dcmanager.api.controllers.root.RootController",
        hooks=[
            hooks.ContextHook(conf),
            hooks.ServicesHook(conf),
            hooks.JsonBodyHook(),
            errors.ErrorHook(),
        ],
        force_canonical=False,
        guess_content_type_from_ext=False,
        debug=False,
    )
    if conf.auth_strategy == default_conf.AUTH_KEYSTONE:
        protected = auth_token.AuthProtocol(app, {"oslo_config_config": conf})
        # auth_token registers its options as it starts; without this one it would
        # answer every unauthenticated request with a 500.
        if not conf.keystone_authtoken.www_authenticate_uri:
            raise exception.ConfigInvalid(
                reason="auth_strategy = keystone needs [keystone_authtoken] "
                "www_authenticate_uri (and the service credentials auth_token uses)"
            )
        app = wsgi.PublicRootDispatcher(app, protected)
    app = _BodyLimits(app, conf)
    app = request_id.RequestId(app)
    return errors.JsonErrorMiddleware(app)
