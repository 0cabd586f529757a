"""The site's own container registry (``[agent] local_registry_url``): where prestaged
images land, pushed through the OCI distribution API as ``docker push`` would.

An image is pushed blobs first, then its manifest by tag (and by digest, which the
registry serves once the manifest is there). Nothing is sent twice: an image whose
manifest the registry already holds under the tag moves no bytes; a blob the
repository holds (``HEAD``) is skipped; a blob another repository of the registry
holds is mounted from there (``POST ...?mount=&from=``) instead of sent. Every request
(and each blob's upload session with its ``PUT``) follows the agent's retry policy; a
cancel stops an upload at its next chunk.
"""

import logging
import threading
import urllib.parse
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

import requests

from dcmanager.agent import images
from dcmanager.agent import records
from dcmanager.agent import registry_auth
from dcmanager.agent import transfer
from dcmanager.common import retry

LOG = logging.getLogger(__name__)
CREDENTIALS_HINT = " (check [agent] local_registry_username and local_registry_password)"
T = TypeVar("T")

CHUNK = 1024 * 1024


def reference(image: images.ImageRef, manifest: images.Manifest) -> str:
    """What the site's registry serves the image under: its tag, else the digest of the
    manifest pushed (which is not the image's own digest when that names a
    multi-platform index: the site holds its platform's manifest only)."""
    if image.reference.startswith("sha256:"):
        return manifest.digest
    return image.reference


def _checked(response: requests.Response) -> requests.Response:
    """The response, unless it is worth another attempt (:class:`transfer.Transient`)."""
    if response.status_code in transfer.RETRY_STATUSES:
        response.close()
        raise transfer.Transient(f"answered {response.status_code} {response.reason}")
    return response


class _Upload:
    """A blob file as a request body that stops at a cancel (requests reads it in
    chunks and sends ``Content-Length`` from ``len``)."""

    def __init__(self, path: str, size: int, cancelled: threading.Event) -> None:
        self._handle = open(path, "rb")  # noqa: SIM115 - closed by the caller's with
        self._size = size
        self._cancelled = cancelled

    def __len__(self) -> int:
        return self._size

    def read(self, size: int = -1) -> bytes:
        if self._cancelled.is_set():
            raise transfer.Cancelled()
        return self._handle.read(CHUNK if size is None or size < 0 else size)

    def __enter__(self) -> "_Upload":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.close()


class SiteRegistry:
    """The registry at ``url``, for one operation."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        timeout: float,
        policy: retry.RetryPolicy,
        cancelled: threading.Event,
    ) -> None:
        """
        :param session: carries the registry's credentials and CA.
        :param timeout: of each request, in seconds.
        """
        self._session = session
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._policy = policy
        self._cancelled = cancelled
        self.bytes_sent = 0
        self.blobs_sent = 0
        self.blobs_mounted = 0
        self._held: dict[str, str] = {}
        """Blobs this operation saw in the registry, and a repository holding each."""
        self._pushed_before: dict[str, str] = {}
        """Blobs earlier operations pushed, and a repository they went to: where to
        mount them from (the registry may have dropped them since: then they are sent)."""

    def _retrying(self, attempt: Callable[[], T], what: str) -> T:
        """``attempt()`` under the retry policy: a 5xx (:func:`_checked`) or a broken
        connection is tried again.

        :raises records.Failed: still failing after the last attempt.
        :raises transfer.Cancelled: cancelled meanwhile.
        """
        try:
            return transfer.retrying(self._policy, attempt, self._cancelled, what)
        except transfer.Transient as exc:
            raise records.Failed(f"{what}: the site's registry {self.url} {exc}") from None
        except transfer.TRANSIENT as exc:
            raise records.Failed(
                f"{what}: the site's registry {self.url} is unreachable ({type(exc).__name__})"
            ) from None
        except registry_auth.TokenRefused as exc:
            raise records.Failed(f"{what}: {exc}{CREDENTIALS_HINT}") from None

    def _request(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        """One request under the retry policy; any answer but a 5xx is the caller's to
        judge."""
        return self._retrying(
            lambda: _checked(self._session.request(method, url, timeout=self._timeout, **kwargs)),
            what,
        )

    def _refused(self, what: str, response: requests.Response) -> records.Failed:
        hint = CREDENTIALS_HINT if response.status_code in (401, 403) else ""
        return records.Failed(
            f"{what}: the site's registry {self.url} answered "
            f"{response.status_code} {response.reason}{hint}"
        )

    def remember(self, repository: str, digests: Iterable[str]) -> None:
        """Blobs an earlier operation pushed to ``repository`` (mount sources)."""
        for digest in digests:
            self._pushed_before.setdefault(digest, repository)

    def has_image(self, image: images.ImageRef, manifest: images.Manifest) -> bool:
        """Whether the registry holds the manifest under the image's reference."""
        url = f"{self.url}/v2/{image.repository}/manifests/{reference(image, manifest)}"
        what = f"image {image.name}"
        with self._request("HEAD", url, what, headers={"Accept": manifest.media_type}) as answer:
            if answer.status_code == 404:
                return False
            if answer.status_code != 200:
                raise self._refused(what, answer)
            return answer.headers.get("Docker-Content-Digest") == manifest.digest

    def push(
        self, image: images.ImageRef, manifest: images.Manifest, path_of: Callable[[str], str]
    ) -> None:
        """Push the image: each blob it lacks (read from ``path_of(digest)``), then the
        manifest under the image's reference."""
        for blob in manifest.blobs:
            self._push_blob(image, blob, path_of)
        self._put_manifest(image, manifest)

    def _push_blob(
        self, image: images.ImageRef, blob: images.Blob, path_of: Callable[[str], str]
    ) -> None:
        repository, what = image.repository, f"image {image.name}, blob {blob.digest}"
        if self._held.get(blob.digest) == repository:
            return
        url = f"{self.url}/v2/{repository}/blobs/{blob.digest}"
        with self._request("HEAD", url, what) as answer:
            if answer.status_code == 200:
                self._held[blob.digest] = repository
                return
            if answer.status_code != 404:
                raise self._refused(what, answer)
        # A failed upload session is not resumed: each attempt opens a new one.
        self._retrying(lambda: self._send(repository, blob, path_of(blob.digest), what), what)
        self._held[blob.digest] = repository

    def _send(self, repository: str, blob: images.Blob, path: str, what: str) -> None:
        """One attempt at putting the blob in ``repository``: mounted from a repository
        that received it, else uploaded in one ``PUT`` (a monolithic upload)."""
        params = {}
        source = self._held.get(blob.digest) or self._pushed_before.get(blob.digest)
        if source is not None and source != repository:
            params = {"mount": blob.digest, "from": source}
        uploads = f"{self.url}/v2/{repository}/blobs/uploads/"
        with _checked(self._session.post(uploads, params=params, timeout=self._timeout)) as answer:
            if answer.status_code == 201:  # mounted from the other repository
                self.blobs_mounted += 1
                return
            if answer.status_code != 202 or "Location" not in answer.headers:
                raise self._refused(what, answer)
            location = urllib.parse.urljoin(uploads, answer.headers["Location"])
        separator = "&" if "?" in location else "?"
        url = f"{location}{separator}digest={urllib.parse.quote(blob.digest)}"
        with _Upload(path, blob.size, self._cancelled) as body:
            answer = self._session.put(
                url,
                data=body,
                headers={"Content-Type": "application/octet-stream"},
                timeout=self._timeout,
            )
        with _checked(answer):
            if answer.status_code != 201:
                raise self._refused(what, answer)
        self.bytes_sent += blob.size
        self.blobs_sent += 1

    def _put_manifest(self, image: images.ImageRef, manifest: images.Manifest) -> None:
        what = f"image {image.name}"
        url = f"{self.url}/v2/{image.repository}/manifests/{reference(image, manifest)}"
        headers = {"Content-Type": manifest.media_type}
        with self._request("PUT", url, what, data=manifest.body, headers=headers) as answer:
            if answer.status_code != 201:
                raise self._refused(what, answer)
