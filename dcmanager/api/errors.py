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
from oslo_middleware import request_id as request_id_middleware
from pecan import hooks

from dcmanager.common import exception

LOG = logging.getLogger(__name__)

REQUEST_ID_HEADER = request_id_middleware.HTTP_RESP_HEADER_REQUEST_ID
TOO_LARGE_MESSAGE = "Request is too large."
# Headers of a foreign error response that the JSON error replacing it keeps.
KEPT_ERROR_HEADERS = ("WWW-Authenticate", "Allow", "Retry-After")


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
    if exc.code == HTTPStatus.NOT_ACCEPTABLE:
        return "This API only responds with application/json"
    if exc.code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        # A body without Content-Length overflows while pecan reads it.
        return TOO_LARGE_MESSAGE
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
                # The details are for the log: a server error tells clients nothing more.
                return error_response(int(exc.code), "Internal server error")
            return error_response(int(exc.code), exc.message)
        if isinstance(exc, webob.exc.HTTPException):
            response = error_response(exc.code, _http_exception_message(exc))
            for name in KEPT_ERROR_HEADERS:
                if name in exc.headers:
                    response.headers[name] = exc.headers[name]
            return response
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
            original = response
            response = error_response(response.status_int, self._message_of(response))
            for name in KEPT_ERROR_HEADERS:
                if name in original.headers:
                    response.headers[name] = original.headers[name]
        # A response made here lacks the request id the middleware inside gave the request.
        request_id = environ.get(request_id_middleware.ENV_REQUEST_ID)
        if request_id and REQUEST_ID_HEADER not in response.headers:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response(environ, start_response)

    @staticmethod
    def _is_dcmanager_error(response: webob.Response) -> bool:
        if response.content_type != "application/json":
            return False
        try:
            body = json.loads(response.body)
        except ValueError:
            return False
        # webob's own JSON error pages have the same keys but a string code.
        return (
            isinstance(body, dict)
            and {"code", "title", "message"} <= body.keys()
            and body["code"] == response.status_int
        )

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
            return TOO_LARGE_MESSAGE
        if response.status_int == HTTPStatus.UNAUTHORIZED:
            return "Authentication required: send a valid X-Auth-Token."
        return response.status.split(" ", 1)[-1]
