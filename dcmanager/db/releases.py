"""The release store's records: releases, their files (naming blobs) and images.

Callers get plain dataclasses, not ORM objects: a release's files and images are read
with it, inside the session.
"""

import contextlib
import dataclasses
import datetime
from collections.abc import Callable
from collections.abc import Iterator

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from dcmanager.common import exception
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models


@dataclasses.dataclass(frozen=True)
class ReleaseFile:
    path: str
    size: int
    digest: str


@dataclasses.dataclass(frozen=True)
class Release:
    version: str
    created_at: datetime.datetime
    file_count: int
    total_bytes: int
    image_count: int
    files: tuple[ReleaseFile, ...] | None = None  # only when read one by one
    images: tuple[str, ...] | None = None


def _by_version(version: str):
    return select(models.Release).where(models.Release.version == version)


def _find(db, version: str) -> models.Release:
    """:raises ReleaseNotFound: no release has this version."""
    release = db.scalars(_by_version(version)).first()
    if release is None:
        raise exception.ReleaseNotFound(version=version)
    return release


def _summaries(db, release_ids=None) -> list[Release]:
    files = (
        select(
            models.ReleaseFile.release_id,
            func.count().label("count"),
            func.coalesce(func.sum(models.ReleaseFile.size), 0).label("bytes"),
        )
        .group_by(models.ReleaseFile.release_id)
        .subquery()
    )
    images = (
        select(models.ReleaseImage.release_id, func.count().label("count"))
        .group_by(models.ReleaseImage.release_id)
        .subquery()
    )
    query = (
        select(models.Release, files.c.count, files.c.bytes, images.c.count)
        .outerjoin(files, files.c.release_id == models.Release.id)
        .outerjoin(images, images.c.release_id == models.Release.id)
        .order_by(models.Release.id.desc())
    )
    if release_ids is not None:
        query = query.where(models.Release.id.in_(release_ids))
    return [
        Release(
            version=release.version,
            created_at=release.created_at,
            file_count=file_count or 0,
            total_bytes=int(total or 0),
            image_count=image_count or 0,
        )
        for release, file_count, total, image_count in db.execute(query).all()
    ]


def release_get_all() -> list[Release]:
    """Every release, newest upload first, with its totals."""
    with session.reader() as db:
        return _summaries(db)


def release_get(version: str) -> Release:
    """The release with its files (by path) and images (in list order).

    :raises ReleaseNotFound: no release has this version.
    """
    with session.reader() as db:
        release = _find(db, version)
        (summary,) = _summaries(db, [release.id])
        files = db.execute(
            select(models.ReleaseFile.path, models.ReleaseFile.size, models.ReleaseFile.digest)
            .where(models.ReleaseFile.release_id == release.id)
            .order_by(models.ReleaseFile.path)
        ).all()
        images = db.scalars(
            select(models.ReleaseImage.reference)
            .where(models.ReleaseImage.release_id == release.id)
            .order_by(models.ReleaseImage.position)
        ).all()
    return dataclasses.replace(
        summary,
        files=tuple(ReleaseFile(*row) for row in files),
        images=tuple(images),
    )


STORE_LOCK = "release-store"


def lock_store(db) -> None:
    """Take the release store's lock (released when the transaction ends)."""
    db.execute(
        select(models.NamedLock.name).where(models.NamedLock.name == STORE_LOCK).with_for_update()
    )


@contextlib.contextmanager
def store_locked() -> Iterator[set[str]]:
    """Hold the release store's lock for the block; yields every digest a release or an
    application version names.

    While it is held neither is created, so a blob that nothing names when the block
    starts is named by nothing before it ends.
    """
    with session.writer() as db:
        lock_store(db)
        named = set(db.scalars(select(models.ReleaseFile.digest).distinct()).all())
        yield named | set(db.scalars(select(models.AppVersion.digest).distinct()).all())


@oslo_db_api.retry_on_deadlock
def release_create(
    version: str,
    files: list[ReleaseFile],
    images: list[str],
    check_blobs: Callable[[list[ReleaseFile]], None],
) -> Release:
    """Record a release, in one transaction.

    :param check_blobs: raises if a file's blob is not in the store with its size; it
        runs under the release store's lock, so the collector cannot remove a blob
        between the check and the release naming it.
    :raises ReleaseExists: the version was uploaded before.
    """
    try:
        with session.writer() as db:
            lock_store(db)
            check_blobs(files)
            release = models.Release(version=version)
            db.add(release)
            db.flush()
            if files:
                db.execute(
                    models.ReleaseFile.__table__.insert(),
                    [
                        {
                            "release_id": release.id,
                            "path": f.path,
                            "size": f.size,
                            "digest": f.digest,
                        }
                        for f in files
                    ],
                )
            if images:
                db.execute(
                    models.ReleaseImage.__table__.insert(),
                    [
                        {"release_id": release.id, "position": position, "reference": reference}
                        for position, reference in enumerate(images)
                    ],
                )
    except db_exc.DBDuplicateEntry as exc:
        raise exception.ReleaseExists(version=version) from exc
    return release_get(version)


@oslo_db_api.retry_on_deadlock
def release_destroy(version: str) -> None:
    """Delete the release (its blobs stay until the collector finds them unused).

    :raises ReleaseNotFound: no release has this version.
    """
    with session.writer() as db:
        release = _find(db, version)
        db.execute(delete(models.ReleaseFile).where(models.ReleaseFile.release_id == release.id))
        db.execute(delete(models.ReleaseImage).where(models.ReleaseImage.release_id == release.id))
        db.execute(delete(models.Release).where(models.Release.id == release.id))


def release_exists(version: str) -> bool:
    with session.reader() as db:
        return (
            db.scalars(_by_version(version).with_only_columns(models.Release.id)).first()
            is not None
        )


def newest_version() -> str | None:
    """The release uploaded last, if any."""
    with session.reader() as db:
        return db.scalars(
            select(models.Release.version).order_by(models.Release.id.desc()).limit(1)
        ).first()
