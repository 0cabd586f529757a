"""Container images through the OCI distribution API: manifests, then blobs.

Images are pulled from the registry the system controller names; the registry host in
an image's name (``registry.local:9001/stx/nova:1.0``) only says where it was built
for, so ``stx/nova:1.0`` is what is asked for. Every manifest and blob is checked
against its digest, and blobs the agent already holds are not fetched again.
"""

import dataclasses
import hashlib
import json
import re
from typing import Any

from dcmanager.releases import store

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
_INDEXES = (OCI_INDEX, DOCKER_LIST)
_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
# The repository grammar of the distribution spec, and a tag.
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
MAX_MANIFEST_BYTES = 4 * 1024**2


class ImageError(Exception):
    """An image that cannot be pulled; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class ImageRef:
    name: str
    """As the release lists it."""
    repository: str
    reference: str
    """A tag or a ``sha256:`` digest."""


def parse(name: str) -> ImageRef:
    """:raises ImageError: not ``[host/]repository(:tag|@sha256:hex)``."""
    rest = name
    if "@" in rest:
        rest, reference = rest.split("@", 1)
        try:
            store.parse_digest(reference)
        except store.BlobError as exc:
            raise ImageError(f"image {name}: {exc}") from None
        slash, colon = rest.rfind("/"), rest.rfind(":")
        if colon > slash:
            rest = rest[:colon]  # name:tag@digest: the digest decides
    else:
        slash, colon = rest.rfind("/"), rest.rfind(":")
        if colon > slash:
            rest, reference = rest[:colon], rest[colon + 1 :]
        else:
            reference = "latest"
        if not _TAG.match(reference):
            raise ImageError(f"image {name}: '{reference}' is not a valid tag")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        rest = remainder
    if not _REPOSITORY.match(rest):
        raise ImageError(f"image {name}: '{rest}' is not a valid repository name")
    return ImageRef(name=name, repository=rest, reference=reference)


@dataclasses.dataclass(frozen=True)
class Blob:
    digest: str
    size: int


@dataclasses.dataclass(frozen=True)
class Manifest:
    digest: str
    body: bytes
    media_type: str
    blobs: tuple[Blob, ...]
    """The config and the layers."""


def _descriptor(data: Any, image: str) -> Blob:
    try:
        digest, size = data["digest"], data["size"]
        store.parse_digest(digest)
    except (KeyError, TypeError, store.BlobError):
        raise ImageError(f"image {image}: the manifest has a malformed descriptor") from None
    if not isinstance(size, int) or size < 0:
        raise ImageError(f"image {image}: the manifest has a descriptor without a valid size")
    return Blob(digest, size)


def check_manifest(image: ImageRef, body: bytes, expected: str | None) -> tuple[str, Any]:
    """The manifest's digest and parsed content.

    :param expected: the digest it must have (the reference or the registry's word).
    :raises ImageError: it does not match or is not JSON.
    """
    digest = store.DIGEST_PREFIX + hashlib.sha256(body).hexdigest()
    if expected and digest != expected:
        raise ImageError(
            f"image {image.name}: the manifest received has digest {digest}, not {expected}"
        )
    try:
        return digest, json.loads(body)
    except ValueError:
        raise ImageError(f"image {image.name}: the manifest is not JSON") from None


def choose(image: ImageRef, index: dict, platform: str) -> str:
    """The digest of the manifest for ``platform`` (``os/arch``) in an index."""
    wanted_os, _, wanted_arch = platform.partition("/")
    for entry in index.get("manifests") or []:
        found = entry.get("platform") or {}
        if found.get("os") == wanted_os and found.get("architecture") == wanted_arch:
            return _descriptor(entry, image.name).digest
    raise ImageError(f"image {image.name}: no manifest for platform {platform}")


def manifest_of(image: ImageRef, media_type: str, digest: str, body: bytes, data: dict) -> Manifest:
    """An image manifest (not an index) with the blobs it names."""
    if media_type not in _MANIFESTS:
        raise ImageError(f"image {image.name}: unsupported manifest type {media_type}")
    if not isinstance(data.get("config"), dict) or not isinstance(data.get("layers"), list):
        raise ImageError(f"image {image.name}: the manifest has no config or layers")
    blobs = [_descriptor(data["config"], image.name)]
    blobs += [_descriptor(layer, image.name) for layer in data["layers"]]
    return Manifest(digest=digest, body=body, media_type=media_type, blobs=tuple(blobs))


def media_type_of(content_type: str | None, data: dict) -> str:
    """The manifest's media type: the body's own, else the response's."""
    declared = data.get("mediaType") if isinstance(data, dict) else None
    return declared or (content_type or "").split(";")[0].strip()


def is_index(media_type: str) -> bool:
    return media_type in _INDEXES
