"""Database API of the inventory: subclouds and subcloud groups.

With :mod:`dcmanager.db.orchestration`, the only modules that run queries.

Functions take and return plain values or model objects detached from their session
(oslo.db sessions do not expire on commit, so loaded attributes stay readable). Write
functions run in their own transaction, are retried on deadlock, and raise
:mod:`dcmanager.common.exception` errors rather than oslo.db or SQLAlchemy ones.

A *ref* is an ``int`` (the id) or a ``str`` (the name); names are never all digits,
so the API can tell them apart from the path alone.
"""

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from sqlalchemy import Row
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select

from dcmanager.common import exception
from dcmanager.common.subcloud_states import AvailabilityStatus
from dcmanager.common.subcloud_states import DeployStatus
from dcmanager.common.subcloud_states import ManagementState
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

DEFAULT_GROUP_ID = 1
DEFAULT_GROUP_NAME = "Default"

# No row has an id beyond 64 bits, and SQLite cannot even compare with one.
_MAX_ID = 2**63 - 1


def _by_ref(model: type[models.Base], ref: int | str):
    if isinstance(ref, int):
        if not -_MAX_ID <= ref <= _MAX_ID:
            return select(model).where(false())
        return select(model).where(model.id == ref)
    return select(model).where(model.name == ref)


# Subcloud groups.


def subcloud_group_get(ref: int | str) -> models.SubcloudGroup:
    """:raises SubcloudGroupNotFound: no group has this id or name."""
    with session.reader() as db:
        group = db.scalars(_by_ref(models.SubcloudGroup, ref)).first()
    if group is None:
        raise exception.SubcloudGroupNotFound()
    return group


def subcloud_group_get_all() -> Sequence[models.SubcloudGroup]:
    """Every group, ordered by id."""
    with session.reader() as db:
        return db.scalars(select(models.SubcloudGroup).order_by(models.SubcloudGroup.id)).all()


@oslo_db_api.retry_on_deadlock
def subcloud_group_create(values: dict[str, Any]) -> models.SubcloudGroup:
    """Create a group from validated ``values`` (the model's column names).

    :raises SubcloudGroupNameExists: the name is taken.
    """
    group = models.SubcloudGroup(**values)
    try:
        with session.writer() as db:
            db.add(group)
    except db_exc.DBDuplicateEntry as exc:
        raise exception.SubcloudGroupNameExists() from exc
    return group


@oslo_db_api.retry_on_deadlock
def subcloud_group_update(group_id: int, values: dict[str, Any]) -> models.SubcloudGroup:
    """Update a group's columns.

    :raises SubcloudGroupNotFound: no such group.
    :raises SubcloudGroupNameExists: the new name is taken.
    """
    try:
        with session.writer() as db:
            group = db.get(models.SubcloudGroup, group_id)
            if group is None:
                raise exception.SubcloudGroupNotFound()
            for key, value in values.items():
                setattr(group, key, value)
    except db_exc.DBDuplicateEntry as exc:
        raise exception.SubcloudGroupNameExists() from exc
    return group


@oslo_db_api.retry_on_deadlock
def subcloud_group_destroy(group_id: int) -> None:
    """Delete an empty group, atomically with the emptiness check.

    :raises DefaultGroupUndeletable: it is the Default group.
    :raises SubcloudGroupNotFound: no such group.
    :raises SubcloudGroupNotEmpty: subclouds still belong to it.
    """
    if group_id == DEFAULT_GROUP_ID:
        raise exception.DefaultGroupUndeletable()
    has_members = exists().where(models.Subcloud.group_id == group_id)
    try:
        with session.writer() as db:
            result = db.execute(
                delete(models.SubcloudGroup)
                .where(models.SubcloudGroup.id == group_id)
                .where(~has_members)
            )
            if result.rowcount == 1:
                return
            if db.get(models.SubcloudGroup, group_id) is None:
                raise exception.SubcloudGroupNotFound()
    except db_exc.DBReferenceError as exc:
        # A subcloud joined the group between our check and the delete.
        raise exception.SubcloudGroupNotEmpty() from exc
    raise exception.SubcloudGroupNotEmpty()


# Many subclouds are read as rows of the table, whose attributes are the model's:
# at 50,000 subclouds an ORM instance each costs a second.
_SUBCLOUDS = models.Subcloud.__table__


def subcloud_group_subclouds(group_id: int) -> Sequence[Row]:
    """The group's subclouds (read-only rows), ordered by id.

    :raises SubcloudGroupNotFound: no such group.
    """
    with session.reader() as db:
        if db.get(models.SubcloudGroup, group_id) is None:
            raise exception.SubcloudGroupNotFound()
        return db.execute(
            select(_SUBCLOUDS).where(_SUBCLOUDS.c.group_id == group_id).order_by(_SUBCLOUDS.c.id)
        ).all()


# Subclouds.


def subcloud_get(ref: int | str) -> models.Subcloud:
    """:raises SubcloudNotFound: no subcloud has this id or name."""
    with session.reader() as db:
        subcloud = db.scalars(_by_ref(models.Subcloud, ref)).first()
    if subcloud is None:
        raise exception.SubcloudNotFound()
    return subcloud


def lock_subcloud(db, subcloud_id: int) -> models.Subcloud:
    """Lock the subcloud's row in the caller's transaction: what is decided about it
    under the lock (an operation starting, a prestage, its own overrides written) and
    its deletion take turns.

    :raises SubcloudNotFound: it no longer exists.
    """
    subcloud = db.scalars(
        select(models.Subcloud).where(models.Subcloud.id == subcloud_id).with_for_update()
    ).first()
    if subcloud is None:
        raise exception.SubcloudNotFound()
    return subcloud


def subcloud_get_all(
    limit: int | None = None,
    marker: int | None = None,
    changed_since: datetime.datetime | None = None,
) -> Sequence[Row]:
    """Every subcloud (read-only rows), ordered by id; or the first ``limit`` after the
    id ``marker``; only those registered or changed at or after ``changed_since``
    (naive UTC; both times are indexed)."""
    query = select(_SUBCLOUDS).order_by(_SUBCLOUDS.c.id)
    if changed_since is not None:
        query = query.where(
            or_(_SUBCLOUDS.c.updated_at >= changed_since, _SUBCLOUDS.c.created_at >= changed_since)
        )
    if marker is not None:
        query = query.where(_SUBCLOUDS.c.id > marker)
    if limit is not None:
        query = query.limit(limit)
    with session.reader() as db:
        return db.execute(query).all()


def _raise_subcloud_duplicate(exc: db_exc.DBDuplicateEntry, values: dict[str, Any]) -> None:
    if "region_name" in (exc.columns or []):
        raise exception.SubcloudRegionExists(region=values.get("region_name")) from exc
    raise exception.SubcloudNameExists(name=values.get("name")) from exc


@oslo_db_api.retry_on_deadlock
def subcloud_create(values: dict[str, Any]) -> models.Subcloud:
    """Register a subcloud from validated ``values`` (the model's column names).

    Missing ``region_name`` gets a fresh UUID; missing state columns get their
    initial values (unmanaged, offline, deploy complete).

    :raises SubcloudNameExists: the name is taken.
    :raises SubcloudRegionExists: the region name is taken.
    :raises SubcloudGroupGone: ``group_id`` names no group.
    """
    values = {
        "management_state": ManagementState.UNMANAGED,
        "availability_status": AvailabilityStatus.OFFLINE,
        "deploy_status": DeployStatus.COMPLETE,
        "group_id": DEFAULT_GROUP_ID,
        **values,
    }
    values.setdefault("region_name", uuid.uuid4().hex)
    subcloud = models.Subcloud(**values)
    try:
        with session.writer() as db:
            db.add(subcloud)
    except db_exc.DBDuplicateEntry as exc:
        _raise_subcloud_duplicate(exc, values)
    except db_exc.DBReferenceError as exc:
        raise exception.SubcloudGroupGone(group=values.get("group_id")) from exc
    return subcloud


@oslo_db_api.retry_on_deadlock
def subclouds_create(rows: Sequence[dict[str, Any]], manage: bool) -> list[models.Subcloud]:
    """Register many subclouds in one transaction (all or none), managed if ``manage``;
    returned in the order given.

    :raises SubcloudsExist: names or region names are taken.
    :raises SubcloudGroupGone: a ``group_id`` names no group (deleted meanwhile).
    """
    state = ManagementState.MANAGED if manage else ManagementState.UNMANAGED
    rows = [
        {
            "management_state": state,
            "availability_status": AvailabilityStatus.OFFLINE,
            "deploy_status": DeployStatus.COMPLETE,
            "group_id": DEFAULT_GROUP_ID,
            "audit_fail_count": 0,
            "created_at": models.utcnow(),
            **row,
            "region_name": row.get("region_name") or uuid.uuid4().hex,
        }
        for row in rows
    ]
    names = [row["name"] for row in rows]
    subcloud = models.Subcloud
    try:
        with session.writer() as db:
            regions = [row["region_name"] for row in rows]
            clashes = db.execute(
                select(subcloud.name, subcloud.region_name).where(
                    subcloud.name.in_(names) | subcloud.region_name.in_(regions)
                )
            ).all()
            taken_names = {name for name, _ in clashes}
            taken_regions = {region for _, region in clashes}
            # The entries of the request that clash, by the names the request gives.
            taken = [
                row["name"]
                for row in rows
                if row["name"] in taken_names or row["region_name"] in taken_regions
            ]
            if taken:
                more = f" and {len(taken) - 10} more" if len(taken) > 10 else ""
                raise exception.SubcloudsExist(
                    reason=f"{len(taken)} of these subclouds exist already (by name or "
                    f"region-name): {', '.join(taken[:10])}{more}"
                )
            db.execute(insert(subcloud), rows)
            created = {
                sc.name: sc for sc in db.scalars(select(subcloud).where(subcloud.name.in_(names)))
            }
    except db_exc.DBDuplicateEntry as exc:
        # Registered by another request since the check: nothing of this one is kept.
        raise exception.SubcloudsExist(
            reason="Some of these subclouds were registered by another request meanwhile"
        ) from exc
    except db_exc.DBReferenceError as exc:
        raise exception.SubcloudGroupGone(group="of an entry") from exc
    return [created[name] for name in names]


@oslo_db_api.retry_on_deadlock
def subcloud_update(subcloud_id: int, values: dict[str, Any]) -> models.Subcloud:
    """Update a subcloud's columns.

    :raises SubcloudNotFound: no such subcloud.
    :raises SubcloudGroupGone: ``group_id`` names no group.
    """
    try:
        with session.writer() as db:
            subcloud = db.get(models.Subcloud, subcloud_id)
            if subcloud is None:
                raise exception.SubcloudNotFound()
            for key, value in values.items():
                setattr(subcloud, key, value)
    except db_exc.DBReferenceError as exc:
        raise exception.SubcloudGroupGone(group=values.get("group_id")) from exc
    except db_exc.DBDuplicateEntry as exc:
        _raise_subcloud_duplicate(exc, values)
    return subcloud


@oslo_db_api.retry_on_deadlock
def subcloud_destroy(subcloud_id: int) -> None:
    """Delete an unmanaged subcloud that no strategy step refers to, atomically.

    :raises SubcloudNotFound: no such subcloud.
    :raises SubcloudManaged: it is managed.
    :raises SubcloudInStrategy: a strategy step refers to it.
    :raises SubcloudOperationUnderWay: a standalone operation's step refers to it.
    """
    in_strategy = exists().where(models.StrategyStep.subcloud_id == subcloud_id)
    try:
        with session.writer() as db:
            result = db.execute(
                delete(models.Subcloud)
                .where(models.Subcloud.id == subcloud_id)
                .where(models.Subcloud.management_state == ManagementState.UNMANAGED)
                .where(~in_strategy)
            )
            if result.rowcount == 1:
                # Its own overrides of applications' charts go with it.
                db.execute(
                    delete(models.HelmOverride).where(
                        models.HelmOverride.subcloud_id == subcloud_id
                    )
                )
                return
            subcloud = db.get(models.Subcloud, subcloud_id)
            if subcloud is None:
                raise exception.SubcloudNotFound()
            if subcloud.management_state != ManagementState.UNMANAGED:
                raise exception.SubcloudManaged(name=subcloud.name)
            name = subcloud.name
            strategy_step = db.scalar(
                select(
                    exists()
                    .where(models.StrategyStep.subcloud_id == subcloud_id)
                    .where(models.StrategyStep.strategy_id.is_not(None))
                )
            )
    except db_exc.DBReferenceError as exc:
        subcloud = subcloud_get(subcloud_id)
        raise exception.SubcloudInStrategy(name=subcloud.name) from exc
    if not strategy_step:
        raise exception.SubcloudOperationUnderWay(name=name)
    raise exception.SubcloudInStrategy(name=name)
