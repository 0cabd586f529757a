"""The application catalog on the system controller: upload, list, choose, delete.

A tarball is checked whole (:mod:`dcmanager.apps.package`) before anything is kept;
then it is stored once by digest in the release store and recorded. A second version
of the same SemVer precedence as one the application has (differing only in build
metadata) is refused, so that "latest" is always one version.
"""

import hashlib
import io

from oslo_config import cfg

from dcmanager.apps import package
from dcmanager.apps import versions
from dcmanager.common import exception
from dcmanager.db import apps as db_apps
from dcmanager.releases import store


class SamePrecedence(exception.Conflict):
    msg_fmt = (
        "Application %(name)s version %(version)s has the same precedence as its version "
        "%(other)s (they differ only in build metadata): latest would not be one version"
    )


def limits(conf: cfg.ConfigOpts) -> package.Limits:
    return package.Limits(
        max_files=conf.apps.max_files, max_unpacked_bytes=conf.apps.max_unpacked_bytes
    )


def upload(
    conf: cfg.ConfigOpts, data: bytes, name: str | None = None, version: str | None = None
) -> db_apps.AppVersion:
    """Check, store and record an application tarball.

    :raises PackageInvalid: (or another Invalid) the tarball is refused, saying why.
    :raises AppVersionExists: the application has this version already.
    :raises SamePrecedence: it has a version of the same SemVer precedence.
    """
    found = package.inspect(data, limits(conf), name, version)

    def check_versions(existing: list[str]) -> None:
        if found.version in existing:
            raise db_apps.AppVersionExists(name=found.name, version=found.version)
        other = versions.same_precedence(found.version, existing)
        if other is not None:
            raise SamePrecedence(name=found.name, version=found.version, other=other)

    # Before anything is stored; checked again, atomically, when it is recorded.
    check_versions([record.version for record in db_apps.app_versions(found.name)])
    digest = store.DIGEST_PREFIX + hashlib.sha256(data).hexdigest()
    blobs = store.BlobStore(conf.prestage.release_store)
    blobs.put(digest, io.BytesIO(data), len(data))

    def check_blob() -> None:
        if blobs.size(digest) != len(data):
            raise exception.Conflict(f"Application tarball {digest} was removed meanwhile: retry")

    return db_apps.app_version_create(
        {
            "name": found.name,
            "version": found.version,
            "digest": digest,
            "size": len(data),
            "md5": found.md5,
            "details": found.metadata(),
        },
        check_blob,
        check_versions,
    )


def applications() -> dict[str, list[db_apps.AppVersion]]:
    """Every application's versions, in ascending precedence (non-SemVer last), by name."""
    grouped: dict[str, list[db_apps.AppVersion]] = {}
    for record in db_apps.app_versions():
        grouped.setdefault(record.name, []).append(record)
    return {name: _ordered(records) for name, records in sorted(grouped.items())}


def application(name: str) -> list[db_apps.AppVersion]:
    """:raises AppNotFound: the catalog has no version of ``name``."""
    records = db_apps.app_versions(name)
    if not records:
        raise versions.AppNotFound(name=name)
    return _ordered(records)


def choose(name: str, wanted: str, include_prerelease: bool = False) -> db_apps.AppVersion:
    """The version ``wanted`` names (an exact string, or ``latest``).

    :raises AppNotFound, AppVersionNotFound, NoLatestVersion: see :func:`versions.select`.
    """
    records = {record.version: record for record in db_apps.app_versions(name)}
    return records[versions.select(name, records, wanted, include_prerelease)]


def delete(name: str, version: str) -> None:
    """:raises AppNotFound / AppVersionNotFound: there is no such version.
    :raises AppVersionInUse: a site holds it, other than inactive.
    """
    if not db_apps.app_version_delete(name, version):
        application(name)
        raise versions.AppVersionNotFound(name=name, version=version)


def _ordered(records: list[db_apps.AppVersion]) -> list[db_apps.AppVersion]:
    by_version = {record.version: record for record in records}
    return [by_version[text] for text in versions.ordered(by_version)]
