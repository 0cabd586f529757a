"""Builds the API's WSGI application: pecan app plus its middleware stack."""

import pecan
from oslo_config import cfg
from oslo_middleware import request_id

from dcmanager.api import argspecs
from dcmanager.api import body
from dcmanager.api import errors
from dcmanager.api import etags
from dcmanager.api import hooks
from dcmanager.api import ui
from dcmanager.common import exception
from dcmanager.common import wsgi
from dcmanager.conf import default as default_conf


def setup_app(conf: cfg.ConfigOpts = cfg.CONF):
    """The WSGI application serving ``/``, ``/v1.0`` and the dashboard under ``/ui/``.

    :raises ConfigInvalid: keystone authentication is not configured.
    """
    argspecs.keep_signatures()
    app = pecan.make_app(
        "dcmanager.api.controllers.root.RootController",
        hooks=[
            hooks.ContextHook(conf),
            hooks.ServicesHook(conf),
            errors.ErrorHook(),
        ],
        force_canonical=False,
        guess_content_type_from_ext=False,
        debug=False,
    )
    if conf.auth_strategy == default_conf.AUTH_KEYSTONE:
        # Imported here: it (and oslo.cache with it) costs every process a fifth of a
        # second of start-up, and the embedded default never needs it.
        from keystonemiddleware import auth_token

        protected = auth_token.AuthProtocol(app, {"oslo_config_config": conf})
        # auth_token registers its options as it starts; without this one it would
        # answer every unauthenticated request with a 500.
        if not conf.keystone_authtoken.www_authenticate_uri:
            raise exception.ConfigInvalid(
                reason="auth_strategy = keystone needs [keystone_authtoken] "
                "www_authenticate_uri (and the service credentials auth_token uses)"
            )
        app = wsgi.PublicRootDispatcher(app, protected)
    # The dashboard's files and login, never through authentication.
    app = ui.UiDispatcher(app, conf)
    app = body.BodyGate(app, conf)
    app = request_id.RequestId(app)
    app = etags.ETags(app)
    return errors.JsonErrorMiddleware(app)
