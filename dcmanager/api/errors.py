"""JSON error bodies: ``{"code": <int>, "title": "<reason>", "message": "<text>"}``.

Errors raised inside the pecan app are rendered by :class:`ErrorHook`; error responses
made by the middleware around it (401 from auth_token, 413 from the body size limit) and
anything that escapes are rewritten by :class:`JsonErrorMiddleware`, so no error ever
leaves the API as HTML or a traceback.
"""

import json
import logging
from http import HTTPStatus

import pecan
import webob
import webob.exc
from pecan import hooks

from dcmanager.common import exception

LOG = logging.getLogger(__name__)


def error_response(code: int, message: str) -> webob.Response:
    try:
        title = HTTPStatus(code).phrase
    except ValueError:
        title = "Error"
    body = {"code": code, "title": title, "message": message}
    return webob.Response(
        status=code, json_body=body, content_type="application/json", charset="UTF-8"
    )


def _http_exception_message(exc: webob.exc.HTTPException) -> str:
    if exc.code == HTTPStatus.NOT_FOUND:
        return f"The resource could not be found: {pecan.request.path}"
    if exc.code == HTTPStatus.METHOD_NOT_ALLOWED:
        return f"Method {pecan.request.method} is not allowed on {pecan.request.path}"
    return exc.detail or exc.explanation or exc.title


class ErrorHook(hooks.PecanHook):
    """Render exceptions raised while routing or in a controller as JSON."""

    def on_error(self, state, exc: Exception) -> webob.Response:
        if isinstance(exc, exception.DCManagerException):
            if exc.code >= HTTPStatus.INTERNAL_SERVER_ERROR:
                LOG.error(
                    "Request %s %s failed: %s",
                    state.request.method,
                    state.request.path,
                    exc.message,
                )
            return error_response(int(exc.code), exc.message)
        if isinstance(exc, webob.exc.HTTPException):
            return error_response(exc.code, _http_exception_message(exc))
        LOG.error(
            "Unexpected error in %s %s", state.request.method, state.request.path, exc_info=exc
        )
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")


class JsonErrorMiddleware:
    """Outermost WSGI layer: every error response is a dcmanager JSON error."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        request = webob.Request(environ)
        try:
            response = request.get_response(self.app)
        except Exception:
            LOG.exception("Unexpected error in %s %s", request.method, request.path)
            response = error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")
        if response.status_int >= 400 and not self._is_dcmanager_error(response):
            response = error_response(response.status_int, self._message_of(response))
        return response(environ, start_response)

    @staticmethod
    def _is_dcmanager_error(response: webob.Response) -> bool:
        if response.content_type != "application/json":
            return False
        try:
            body = json.loads(response.body)
        except ValueError:
            return False
        return isinstance(body, dict) and {"code", "title", "message"} <= body.keys()

    @staticmethod
    def _message_of(response: webob.Response) -> str:
        """The human message of a foreign error response (keystonemiddleware's JSON
        error, or a webob exception page), else the status reason."""
        if response.content_type == "application/json":
            try:
                error = json.loads(response.body).get("error", {})
                if isinstance(error, dict) and error.get("message"):
                    return str(error["message"])
            except (ValueError, AttributeError):
                pass
        if response.status_int == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            return "Request is too large."
        if response.status_int == HTTPStatus.UNAUTHORIZED:
            return "Authentication required: send a valid X-Auth-Token."
        return response.status.split(" ", 1)[-1]
