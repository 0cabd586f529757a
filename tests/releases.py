"""Releases for the tests to prestage: in the release store, blobs and records."""

import hashlib
import io

from dcmanager.db import releases as db_releases
from dcmanager.releases import store

# In upload order: the last is the default of a strategy that names no release.
VERSIONS = ("24.09", "25.09")


def package(version: str) -> bytes:
    return f"packages of {version}\n".encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def seed_blobs(release_store: str, versions: tuple[str, ...] = VERSIONS) -> None:
    """Put the package file of each version into the store's blobs."""
    blobs = store.BlobStore(release_store)
    for version in versions:
        data = package(version)
        blobs.put(_digest(data), io.BytesIO(data), len(data))


def seed_records(versions: tuple[str, ...] = VERSIONS) -> None:
    """Record a small release of each version, in order (its blob must be stored)."""
    for version in versions:
        data = package(version)
        db_releases.release_create(
            version,
            [db_releases.ReleaseFile(f"Packages/stx-{version}.deb", len(data), _digest(data))],
            [f"registry.local:9001/starlingx/stx-platform:{version}"],
            lambda files: None,  # seed_blobs stores them (in each test's own store)
        )


def seed(release_store: str, versions: tuple[str, ...] = VERSIONS) -> None:
    """Put a small release of each version into the store, in order."""
    seed_blobs(release_store, versions)
    seed_records(versions)
