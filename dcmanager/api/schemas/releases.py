"""Validation of release uploads: the version, the package manifest, the image list."""

import collections
import posixpath
import re
from typing import Any

from dcmanager.api import validation
from dcmanager.common import exception
from dcmanager.db import releases as db_releases
from dcmanager.releases import store

VERSION_RE = re.compile(r"^[0-9]{2}\.[0-9]{2}$")
MAX_PATH_LENGTH = 512
MAX_FILES = 100_000
MAX_IMAGES = 10_000
MAX_REFERENCE_LENGTH = 512

# A container image reference with an explicit tag or digest:
# [registry[:port]/]path[:tag][@sha256:digest], path components in lowercase.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REGISTRY = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)"  # noqa: E501
REFERENCE_RE = re.compile(
    rf"^{_REGISTRY}?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?:(?::[\w][\w.-]{0,127})(?:@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$"
)


def version(value: Any) -> str:
    if not isinstance(value, str) or not VERSION_RE.match(value):
        raise exception.Invalid("Invalid release version: expected MM.mm, e.g. 25.09")
    return value


def _path(value: Any, index: int) -> str:
    where = f"files[{index}].path"
    if not validation.is_short_text(value, MAX_PATH_LENGTH, allow_empty=False):
        raise exception.Invalid(f"{where} must be a path of at most {MAX_PATH_LENGTH} characters")
    if (
        value.startswith("/")
        or posixpath.normpath(value) != value
        or value.split("/")[0] == ".."
        or any(ord(ch) < 32 for ch in value)
    ):
        raise exception.Invalid(
            f"{where} '{value}' must be a plain relative path (no leading /, no . or .. "
            "parts, no empty parts, no control characters)"
        )
    return value


def _file(value: Any, index: int) -> db_releases.ReleaseFile:
    if not isinstance(value, dict) or set(value) != {"path", "size", "digest"}:
        raise exception.Invalid(f"files[{index}] must be an object with path, size and digest")
    size = value["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise exception.Invalid(f"files[{index}].size must be a whole number of bytes")
    digest = value["digest"]
    try:
        store.parse_digest(digest if isinstance(digest, str) else "")
    except store.BlobError as exc:
        raise exception.Invalid(f"files[{index}].digest: {exc}") from exc
    return db_releases.ReleaseFile(path=_path(value["path"], index), size=size, digest=digest)


def _image(value: Any, index: int) -> str:
    if (
        not isinstance(value, str)
        or len(value) > MAX_REFERENCE_LENGTH
        or not REFERENCE_RE.match(value)
    ):
        raise exception.Invalid(
            f"images[{index}] is not an image reference with a tag or digest "
            "(registry/repository:tag or registry/repository@sha256:...)"
        )
    return value


def validate_create(body: dict[str, Any]) -> tuple[str, list, list[str]]:
    """The version, files and images of ``POST /releases``.

    :raises Invalid: saying which field is wrong and how.
    """
    unknown = set(body) - {"version", "files", "images"}
    if unknown:
        raise exception.Invalid(f"Unknown fields: {', '.join(sorted(unknown))}")
    release_version = version(body.get("version"))
    files = body.get("files", [])
    images = body.get("images", [])
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise exception.Invalid(f"files must be a list of at most {MAX_FILES} files")
    if not isinstance(images, list) or len(images) > MAX_IMAGES:
        raise exception.Invalid(f"images must be a list of at most {MAX_IMAGES} references")
    parsed_files = [_file(value, index) for index, value in enumerate(files)]
    repeated = [p for p, n in collections.Counter(f.path for f in parsed_files).items() if n > 1]
    if repeated:
        raise exception.Invalid(f"files name the path {repeated[0]} more than once")
    parsed_images = [_image(value, index) for index, value in enumerate(images)]
    if len(set(parsed_images)) != len(parsed_images):
        raise exception.Invalid("images name the same image more than once")
    if not parsed_files and not parsed_images:
        raise exception.Invalid("A release needs at least one file or image")
    return release_version, parsed_files, parsed_images
