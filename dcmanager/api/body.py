"""Request bodies, held back until a controller has authorised the caller.

:class:`BodyGate` takes the body out of the WSGI environment before anything else sees
the request: neither pecan's routing (which parses JSON and form bodies to look for
arguments) nor a hook reads a byte of it. A controller asks for it with
:func:`pending` after its policy check, and reads at most its route's limit:

- ``PUT /v1.0/blobs/...``: streamed to the release store, never held in memory, up to
  ``[prestage] max_blob_bytes`` (checked by the controller, against Content-Length);
- ``POST /v1.0/releases``: a release manifest, up to ``[prestage] max_manifest_bytes``;
- ``POST /v1.0/apps``: an application tarball, up to ``[apps] max_tarball_bytes``;
- ``POST /v1.0/subclouds/bulk``: many subclouds, up to ``[api] max_bulk_bytes``;
- any other body: up to ``[oslo_middleware] max_request_body_size``.

A body declared larger than its limit is refused with 413 at once, before anything is
read; a body without a Content-Length (chunked) is read up to the limit, then refused.
"""

import dataclasses
import io
from http import HTTPStatus
from typing import BinaryIO

import webob.request
from oslo_config import cfg
from oslo_middleware import opts as middleware_opts

from dcmanager.api import errors
from dcmanager.common import exception

ENVIRON_KEY = "dcmanager.pending_body"
BLOBS_PATH = "/v1.0/blobs/"
RELEASES_PATH = "/v1.0/releases"
APPS_PATH = "/v1.0/apps"
BULK_PATH = "/v1.0/subclouds/bulk"
READ_CHUNK = 64 * 1024


def register_opts(conf: cfg.ConfigOpts) -> None:
    """``[oslo_middleware] max_request_body_size``, as oslo.middleware defines it."""
    for group, options in middleware_opts.list_opts_sizelimit():
        conf.register_opts(options, group=group)


class BodyTooLarge(exception.DCManagerException):
    code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    msg_fmt = "%(reason)s"


@dataclasses.dataclass
class PendingBody:
    """A request's body, not yet read."""

    stream: BinaryIO
    length: int | None
    """The declared Content-Length; None for a chunked body."""
    content_type: str
    """The media type, without parameters (``application/json``)."""
    content_type_header: str
    """The whole Content-Type header (a multipart boundary is a parameter)."""
    limit: int | None
    """The most this route reads into memory; None where the controller streams."""
    too_large: str
    """What a 413 says."""
    _data: bytes | None = None

    def stream_declared(self) -> BinaryIO:
        """The body as a stream that ends after its declared length (the server's own
        input may wait for more on a kept-alive connection)."""
        return webob.request.LimitedLengthFile(self.stream, self.length or 0)

    def read(self) -> bytes:
        """The whole body, read once.

        :raises BodyTooLarge: it is longer than the route's limit.
        """
        if self._data is None:
            limit = self.limit if self.limit is not None else 0
            if self.length is not None and self.length > limit:
                raise BodyTooLarge(reason=self.too_large)
            wanted = self.length if self.length is not None else limit + 1
            chunks, size = [], 0
            while size < wanted:
                chunk = self.stream.read(min(READ_CHUNK, wanted - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > limit:
                raise BodyTooLarge(reason=self.too_large)
            self._data = b"".join(chunks)
        return self._data


def pending(environ: dict) -> PendingBody:
    """The request's held-back body (an empty one when the gate did not run)."""
    found = environ.get(ENVIRON_KEY)
    if found is None:
        return PendingBody(io.BytesIO(), 0, "", "", 0, errors.TOO_LARGE_MESSAGE)
    return found


def _content_length(environ: dict) -> int | None:
    """The declared length; None when there is none (chunked)."""
    value = environ.get("CONTENT_LENGTH", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise exception.Invalid(f"Invalid Content-Length '{value}'")
    return int(value)


class BodyGate:
    """WSGI middleware: holds every request's body back for its controller."""

    def __init__(self, app, conf: cfg.ConfigOpts) -> None:
        self.app = app
        self.conf = conf
        register_opts(conf)

    def _limit(self, method: str, path: str) -> tuple[int | None, str]:
        if method == "PUT" and path.startswith(BLOBS_PATH):
            return None, errors.TOO_LARGE_MESSAGE
        if method == "POST" and path.rstrip("/") == APPS_PATH:
            limit = self.conf.apps.max_tarball_bytes
            return (
                limit,
                f"An application tarball is limited to [apps] max_tarball_bytes ({limit} bytes)",
            )
        if method == "POST" and path.rstrip("/") == RELEASES_PATH:
            limit = self.conf.prestage.max_manifest_bytes
            return limit, (
                f"A release manifest is limited to [prestage] max_manifest_bytes ({limit} bytes)"
            )
        if method == "POST" and path.rstrip("/") == BULK_PATH:
            limit = self.conf.api.max_bulk_bytes
            return limit, (
                f"A bulk registration is limited to [api] max_bulk_bytes ({limit} bytes)"
            )
        return self.conf.oslo_middleware.max_request_body_size, errors.TOO_LARGE_MESSAGE

    def __call__(self, environ, start_response):
        limit, too_large = self._limit(environ.get("REQUEST_METHOD", ""), environ["PATH_INFO"])
        try:
            length = _content_length(environ)
        except exception.Invalid as exc:
            return errors.error_response(HTTPStatus.BAD_REQUEST, exc.message)(
                environ, start_response
            )
        if limit is not None and length is not None and length > limit:
            return errors.error_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)(
                environ, start_response
            )
        header = environ.pop("CONTENT_TYPE", "")
        environ[ENVIRON_KEY] = PendingBody(
            stream=environ["wsgi.input"],
            length=length,
            content_type=header.split(";", 1)[0].strip().lower(),
            content_type_header=header,
            limit=limit,
            too_large=too_large,
        )
        environ["wsgi.input"] = io.BytesIO()
        environ["CONTENT_LENGTH"] = "0"
        return self.app(environ, start_response)
