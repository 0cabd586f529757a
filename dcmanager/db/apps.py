"""The application catalog's records: one per version of an application, naming its
tarball (a blob of the release store) and what was read from it."""

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from sqlalchemy import delete
from sqlalchemy import select

from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.app_states import AppStatus
from dcmanager.db import releases as db_releases
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

Row = models.AppVersion


class AppVersionExists(exception.Conflict):
    msg_fmt = "Application %(name)s already has version %(version)s"


@dataclasses.dataclass(frozen=True)
class AppVersion:
    name: str
    version: str
    digest: str
    size: int
    md5: str
    details: dict[str, Any]
    created_at: datetime.datetime


def _record(row: Row) -> AppVersion:
    return AppVersion(
        row.name, row.version, row.digest, row.size, row.md5, row.details, row.created_at
    )


@oslo_db_api.retry_on_deadlock
def app_version_create(
    values: dict[str, Any],
    check_blob: Callable[[], None],
    check_versions: Callable[[list[str]], None],
) -> AppVersion:
    """Record a version of an application, in one transaction under the release store's
    lock (its tarball is a blob the collector must see as named).

    :param values: ``name``, ``version``, ``digest``, ``size``, ``md5``, ``details``.
    :param check_blob: raises if the tarball's blob is not stored (it runs under the
        lock, so the collector cannot remove it before the record names it).
    :param check_versions: given the versions the application has, raises if the new
        one cannot join them (the check and the insert are one atomic step).
    :raises AppVersionExists: the application has this version already.
    """
    try:
        with session.writer() as db:
            db_releases.lock_store(db)
            check_blob()
            existing = list(db.scalars(select(Row.version).where(Row.name == values["name"])))
            if values["version"] in existing:
                raise AppVersionExists(name=values["name"], version=values["version"])
            check_versions(existing)
            row = Row(**values)
            db.add(row)
            db.flush()
            return _record(row)
    except db_exc.DBDuplicateEntry as exc:
        raise AppVersionExists(name=values["name"], version=values["version"]) from exc


def app_versions(name: str | None = None) -> list[AppVersion]:
    """Every version (of the application ``name``), in upload order."""
    query = select(Row).order_by(Row.id)
    if name is not None:
        query = query.where(Row.name == name)
    with session.reader() as db:
        return [_record(row) for row in db.scalars(query)]


class AppVersionGone(exception.Conflict):
    msg_fmt = "Application %(name)s version %(version)s was deleted meanwhile"


class AppVersionInUse(exception.Conflict):
    msg_fmt = (
        "Application %(name)s version %(version)s is in use at %(count)d subcloud(s) "
        "(held there, not inactive): it cannot be deleted"
    )


def in_use_at(db, name: str, version: str) -> int:
    """At how many sites the version is anything but inactive (a locking read, so that
    it sees what a racing operation committed)."""
    rows = db.scalars(
        select(models.SubcloudApp.id)
        .where(models.SubcloudApp.name == name)
        .where(models.SubcloudApp.version == version)
        .where(models.SubcloudApp.status != str(AppStatus.INACTIVE))
        .with_for_update()
    ).all()
    return len(rows)


class AppVersionTargeted(exception.Conflict):
    msg_fmt = (
        "Application %(name)s version %(version)s is the target of the current app-update "
        "strategy: it cannot be deleted before the strategy ends"
    )


def _strategy_targets(db, name: str, version: str) -> bool:
    """Whether the live strategy (there is at most one) updates sites to this version."""
    live = states.STRATEGY_ACTIVE | {states.StrategyState.INITIAL}
    strategy = db.execute(
        select(models.Strategy.type, models.Strategy.extra_args).where(
            models.Strategy.state.in_([str(state) for state in live])
        )
    ).first()
    return (
        strategy is not None
        and strategy.type == states.StrategyType.APP_UPDATE
        and (strategy.extra_args or {}).get("app") == name
        and strategy.extra_args.get("version") == version
    )


@oslo_db_api.retry_on_deadlock
def app_version_delete(name: str, version: str) -> bool:
    """Forget a version (its blob stays until the collector finds it unused); whether
    there was one.

    The version's row is locked first, as an operation starting on it locks it: of
    the two, the second sees what the first committed.

    :raises AppVersionInUse: a site holds it, other than inactive.
    """
    with session.writer() as db:
        found = db.scalars(
            select(Row.id).where(Row.name == name).where(Row.version == version).with_for_update()
        ).first()
        if found is None:
            return False
        if _strategy_targets(db, name, version):
            raise AppVersionTargeted(name=name, version=version)
        count = in_use_at(db, name, version)
        if count:
            raise AppVersionInUse(name=name, version=version, count=count)
        db.execute(delete(Row).where(Row.id == found))
    return True


def lock_version(db, name: str, version: str) -> None:
    """Lock the version's row in the caller's transaction (an operation starting on it).

    :raises AppVersionGone: it was deleted meanwhile.
    """
    found = db.scalars(
        select(Row.id).where(Row.name == name).where(Row.version == version).with_for_update()
    ).first()
    if found is None:
        raise AppVersionGone(name=name, version=version)
