"""``/v1.0/releases`` and ``/v1.0/blobs``: the release store.

Uploading a release is two steps: every package file not yet in the store is sent as
a blob (``PUT /blobs/sha256:<hex>``, the raw bytes; ``HEAD`` says whether it is there
already), then the manifest (``POST /releases``: version, files with path, size and
digest, image references). The manifest is accepted only when every blob it names is
in the store with the size it states, so a release that exists is always complete.
Blobs are shared by every release that names them; once no release names them, the
collector removes them after a grace period (:mod:`dcmanager.releases.collector`).
"""

import logging
import os

import pecan
import webob

from dcmanager.api import body
from dcmanager.api import errors
from dcmanager.api import validation
from dcmanager.api import views
from dcmanager.api.controllers import base
from dcmanager.api.schemas import releases as schema
from dcmanager.common import exception
from dcmanager.common import pacing
from dcmanager.common import policy
from dcmanager.db import prestage as db_prestage
from dcmanager.db import releases as db_releases
from dcmanager.releases import store

LOG = logging.getLogger(__name__)

POLICY = "dc_api:releases:%s"
BLOB_POLICY = "dc_api:blobs:%s"
BLOB_CONTENT_TYPE = "application/octet-stream"
BLOB_METHODS = "GET, HEAD, PUT"
# How many missing blobs an error names before it only counts the rest.
NAMED_MISSING = 5


MIB = 1024**2
PACED_CHUNK = 64 * 1024
# Every blob download of this process shares it: [prestage] max_bandwidth_total.
_SERVING_PACER = pacing.Pacer(None)


def _paced_chunks(handle, start: int, stop: int):
    """The file's bytes ``[start, stop)``, under the process-wide cap.

    A generator on purpose: pecan reads any other app_iter whole, to see whether the
    body is empty, which would hold a blob in memory instead of streaming it.
    """
    with handle:
        if start == stop:
            yield b""  # so that pecan sees a body, empty, not a 204
            return
        handle.seek(start)
        left = stop - start
        while left > 0:
            # Under a cap, small chunks: streams sharing it take turns often.
            size = PACED_CHUNK if _SERVING_PACER.rate else store.CHUNK
            chunk = handle.read(min(size, left))
            if not chunk:
                return
            left -= len(chunk)
            _SERVING_PACER.take(len(chunk))
            yield chunk


class _BlobResponse(webob.Response):
    """Keeps its Content-Length when pecan swaps in a copy of the body iterator (it
    peeks at a generator to see whether the body is empty; webob would drop the
    length)."""

    def _set_app_iter(self, value) -> None:
        length = self.content_length
        webob.Response.app_iter.fset(self, value)
        self.content_length = length

    app_iter = property(webob.Response.app_iter.fget, _set_app_iter)


def _authorize(rule: str, action: str) -> None:
    policy.authorize(rule % action, pecan.request.context)


def blob_store() -> store.BlobStore:
    return store.BlobStore(pecan.request.conf.prestage.release_store)


def _digest(ref: str) -> str:
    try:
        store.parse_digest(ref)
    except store.BlobError as exc:
        raise exception.Invalid(str(exc)) from exc
    return ref


def _check_blobs(files: list[db_releases.ReleaseFile]) -> None:
    """:raises Invalid: a file's blob is not in the store with the size given."""
    blobs = blob_store()
    wrong = []
    for item in files:
        size = blobs.size(item.digest)
        if size is None:
            wrong.append(f"{item.path} ({item.digest})")
        elif size != item.size:
            wrong.append(f"{item.path} (stored {size} bytes)")
    if wrong:
        named = ", ".join(wrong[:NAMED_MISSING])
        more = f" and {len(wrong) - NAMED_MISSING} more" if len(wrong) > NAMED_MISSING else ""
        raise exception.Invalid(
            f"{len(wrong)} files are not in the store with the size given: {named}{more}. "
            "Upload their blobs first (PUT /v1.0/blobs/<digest>)."
        )


class ReleasesController(base.ResourceController):
    item_methods = "GET, DELETE"

    @pecan.expose("json")
    def get_all(self) -> dict:
        _authorize(POLICY, "get")
        return {"releases": [views.release(r) for r in db_releases.release_get_all()]}

    @pecan.expose("json")
    def get_one(self, *path: str) -> dict:
        version = self.item_ref(path)
        _authorize(POLICY, "get")
        return views.release(db_releases.release_get(version))

    @pecan.expose("json")
    def post(self, *path: str) -> dict:
        self.collection_only(path)
        _authorize(POLICY, "create")
        version, files, images = schema.validate_create(validation.json_body())
        release = db_releases.release_create(version, files, images, _check_blobs)
        LOG.debug(
            "Release %s uploaded: %d files, %d bytes, %d images",
            version,
            release.file_count,
            release.total_bytes,
            release.image_count,
        )
        pecan.response.status = 201
        return views.release(release)

    @pecan.expose(content_type="application/json")
    def delete(self, *path: str) -> None:
        version = self.item_ref(path)
        _authorize(POLICY, "delete")
        if not db_releases.release_exists(version):
            raise exception.ReleaseNotFound(version=version)
        if version in db_prestage.releases_in_use():
            raise exception.ReleaseInUse(version=version)
        # Its blobs stay until the collector finds them unused (dcmanager.releases.collector).
        db_releases.release_destroy(version)
        LOG.debug("Release %s deleted", version)
        pecan.response.status = 204


class BlobsController(base.ResourceController):
    """``/v1.0/blobs/sha256:<hex>``: package bytes by digest."""

    @pecan.expose(content_type="application/json")
    def get_all(self) -> None:
        pecan.abort(404)

    def _reject(self, path: tuple[str, ...]) -> None:
        """Only one blob is a resource here (never deleted through the API: the
        collector removes unused ones)."""
        self._blob_ref(path)
        base.method_not_allowed(BLOB_METHODS)

    @pecan.expose(content_type=BLOB_CONTENT_TYPE)
    def get_one(self, *path: str):
        digest = _digest(self._blob_ref(path))
        _authorize(BLOB_POLICY, "get")
        return self._serve(digest)

    @pecan.expose(content_type=BLOB_CONTENT_TYPE)
    def head(self, *path: str):
        digest = _digest(self._blob_ref(path))
        _authorize(BLOB_POLICY, "get")
        return self._serve(digest)

    @pecan.expose("json")
    def put(self, *path: str) -> dict:
        digest = _digest(self._blob_ref(path))
        _authorize(BLOB_POLICY, "upload")
        request = pecan.request
        upload = body.pending(request.environ)
        if upload.content_type != BLOB_CONTENT_TYPE:
            raise exception.Invalid(f"A blob is sent as {BLOB_CONTENT_TYPE}")
        size = upload.length
        if size is None:
            raise exception.Invalid("A blob upload needs a Content-Length")
        if size > request.conf.prestage.max_blob_bytes:
            raise exception.Invalid(
                f"The blob is larger than [prestage] max_blob_bytes "
                f"({request.conf.prestage.max_blob_bytes} bytes)"
            )
        try:
            created = blob_store().put(digest, upload.stream_declared(), size)
        except store.BlobError as exc:
            raise exception.Invalid(f"Blob {digest} refused: {exc}") from exc
        pecan.response.status = 201 if created else 200
        return {"digest": digest, "size": size}

    def _blob_ref(self, path: tuple[str, ...]) -> str:
        if len(path) != 1:
            pecan.abort(404)
        return path[0]

    @staticmethod
    def _serve(digest: str) -> webob.Response:
        path = blob_store().path(digest)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - the response closes it
        except FileNotFoundError:
            raise exception.BlobNotFound(digest=digest) from None
        _SERVING_PACER.rate = pecan.request.conf.prestage.max_bandwidth_total * MIB or None
        size = os.fstat(handle.fileno()).st_size
        response = _BlobResponse(content_type=BLOB_CONTENT_TYPE, conditional_response=True)
        response.etag = digest
        response.accept_ranges = "bytes"
        start, stop = 0, size
        request = pecan.request
        # Ranges are answered here (webob would skip to the start by reading from the
        # beginning of a generator).
        if request.range and response in request.if_range:
            content_range = request.range.content_range(size)
            if content_range is None:
                handle.close()
                refused = errors.error_response(
                    416, f"Range {request.range} is outside the blob's {size} bytes"
                )
                refused.content_range = f"bytes */{size}"
                return refused
            start, stop = content_range.start, content_range.stop
            response.status = 206
            response.content_range = content_range
        response.app_iter = _paced_chunks(handle, start, stop)
        response.content_length = stop - start
        return response
