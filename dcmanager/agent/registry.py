"""The container registry the system controller names, as one operation reads it:
each image's manifest (through an index, for the agent's platform), then its blobs."""

import threading
from collections.abc import Callable

import requests

from dcmanager.agent import images
from dcmanager.agent import records
from dcmanager.agent import transfer
from dcmanager.common import retry
from dcmanager.releases import store


class Registry:
    """The registry at ``url`` (``registry_url`` of the operation; None: none named)."""

    def __init__(
        self,
        get: Callable[..., requests.Response],
        url: str | None,
        timeout: float,
        platform: str,
        policy: retry.RetryPolicy,
        cancelled: threading.Event,
    ) -> None:
        """
        :param get: ``GET url`` on a container registry, with requests' keyword arguments.
        :param timeout: of each request, in seconds.
        :param platform: ``os/arch``, the manifest an index is resolved to.
        :param policy: for each manifest.
        :param cancelled: set to stop waiting for another attempt.
        """
        self._get = get
        self.url = url
        self._timeout = timeout
        self._platform = platform
        self._policy = policy
        self._cancelled = cancelled

    def manifests(self, names: list[str]) -> dict[str, images.Manifest]:
        """Each image's manifest (checked, not yet stored), by its name in the release.

        :raises records.Failed: no registry is named, or one of them cannot be had.
        :raises images.ImageError: a name or a manifest is malformed.
        """
        if not self.url:
            raise records.Failed(
                "the system controller names no container registry ([prestage] registry_url)"
            )
        found = {}
        for name in names:
            image = images.parse(name)
            found[name] = self._manifest(image, image.reference, depth=0)
        return found

    def blob_url(self, repository: str, digest: str) -> str:
        return f"{self.url}/v2/{repository}/blobs/{digest}"

    def get_blob(self, url: str, headers: dict[str, str]) -> requests.Response:
        """A :data:`transfer.Getter` for the registry's blobs."""
        return self._get(url, headers=headers, stream=True, timeout=self._timeout)

    def _manifest(self, image: images.ImageRef, reference: str, depth: int) -> images.Manifest:
        body, content_type, announced = self._fetch_manifest(image, reference)
        if len(body) > images.MAX_MANIFEST_BYTES:
            raise records.Failed(
                f"image {image.name}: the manifest is larger than {images.MAX_MANIFEST_BYTES} bytes"
            )
        expected = reference if reference.startswith(store.DIGEST_PREFIX) else announced
        digest, data = images.check_manifest(image, body, expected)
        media_type = images.media_type_of(content_type, data)
        if images.is_index(media_type):
            if depth:
                raise records.Failed(f"image {image.name}: an index inside an index")
            return self._manifest(image, images.choose(image, data, self._platform), 1)
        return images.manifest_of(image, media_type, digest, body, data)

    def _fetch_manifest(
        self, image: images.ImageRef, reference: str
    ) -> tuple[bytes, str | None, str | None]:
        """The manifest's body, its Content-Type and Docker-Content-Digest headers
        (a 5xx or a broken connection tried again under the retry policy)."""
        url = f"{self.url}/v2/{image.repository}/manifests/{reference}"

        def attempt() -> tuple[bytes, str | None, str | None]:
            with self._get(
                url, headers={"Accept": images.ACCEPT}, timeout=self._timeout
            ) as response:
                if response.status_code == 404:
                    raise records.Failed(
                        f"image {image.name}: not in the container registry {self.url}"
                    )
                answer = f"answered {response.status_code} {response.reason}"
                if response.status_code in transfer.RETRY_STATUSES:
                    raise transfer.Transient(answer)
                if response.status_code != 200:
                    raise records.Failed(
                        f"image {image.name}: the container registry {self.url} {answer}"
                    )
                return (
                    response.content,
                    response.headers.get("Content-Type"),
                    response.headers.get("Docker-Content-Digest"),
                )

        try:
            return transfer.retrying(self._policy, attempt, self._cancelled, f"image {image.name}")
        except transfer.Transient as exc:
            raise records.Failed(
                f"image {image.name}: the container registry {self.url} {exc}"
            ) from None
        except transfer.TRANSIENT as exc:
            raise records.Failed(
                f"the container registry {self.url} is unreachable ({type(exc).__name__})"
            ) from None
