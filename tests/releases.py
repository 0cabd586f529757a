"""Releases for the tests to prestage: in the release store, blobs and records."""

import hashlib
import io

from dcmanager.db import releases as db_releases
from dcmanager.releases import store

# In upload order: the last is the default of a strategy that names no release.
VERSIONS = ("24.09", "25.09")


def package(version: str) -> bytes:
    return f"packages of {version}\n".encode()


def seed(release_store: str, versions: tuple[str, ...] = VERSIONS) -> None:
    """Put a small release of each version into the store, in order."""
    blobs = store.BlobStore(release_store)
    for version in versions:
        data = package(version)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs.put(digest, io.BytesIO(data), len(data))
        db_releases.release_create(
            version,
            [db_releases.ReleaseFile(f"Packages/stx-{version}.deb", len(data), digest)],
            [f"registry.local:9001/starlingx/stx-platform:{version}"],
        )
