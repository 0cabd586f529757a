"""Database API of the audit: the shards of the fleet the audit processes lease, and
what the audit finds at each subcloud, recorded as the answers arrive.

**Shards.** Subcloud ``id`` belongs to shard ``id % <number of shards>`` (the rows of
``audit_shards``, made by the migration). Each audit process is a *member* while its
lease lasts; at each heartbeat it renews its lease and its shards, then gives back
what it holds beyond its fair share (the shards divided by the live members, rounded
up) or claims free and expired shards up to it, each claim a compare-and-swap. So the
processes share the fleet evenly whenever one starts or stops, and the shards of one
that died are taken over once its lease lapses. Times are passed in by the caller
(naive UTC), so one clock decides every lease.

**Records.** A batch of answers is written in one transaction: the batch's subclouds
are locked in id order, the failure counter of those that did not answer goes up in
one ``UPDATE ... SET audit_fail_count = audit_fail_count + 1`` (never read, added to
and written back), and what the others reported is written where it changed. With an
``owner``, answers about subclouds of shards it no longer holds are dropped: another
audit process has them now.
"""

import dataclasses
import datetime
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from oslo_db import api as oslo_db_api
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy import update

from dcmanager.common.subcloud_states import AvailabilityStatus
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

SHARDS = models.AuditShard.__table__
MEMBERS = models.AuditMember.__table__
SUBCLOUDS = models.Subcloud.__table__
APPS = models.SubcloudApp.__table__
ONLINE = str(AvailabilityStatus.ONLINE)
OFFLINE = str(AvailabilityStatus.OFFLINE)

# A transaction a deadlock chose as its victim runs again (a heartbeat's range scans
# and a batch's row locks meet another process's on MySQL and PostgreSQL). oslo.db's
# ``retry_on_deadlock`` only marks a function for a DBAPI wrapper; this retries.
_retry_on_deadlock = oslo_db_api.wrap_db_retry(
    max_retries=10, retry_on_deadlock=True, retry_interval=0.05, max_retry_interval=1
)


@dataclasses.dataclass(frozen=True)
class Share:
    """The shards an audit process holds."""

    shards: frozenset[int]
    total: int
    """How many shards the fleet has."""
    members: int = 1
    """The live audit processes sharing them (this one included)."""

    def holds(self, subcloud_id: int) -> bool:
        return subcloud_id % self.total in self.shards


@dataclasses.dataclass(frozen=True)
class Target:
    """A subcloud to audit, and its prestage columns as they were before it was asked
    (its reconciliation is a compare-and-swap against them)."""

    id: int
    name: str
    endpoint: str
    prestage_status: str | None = None
    prestage_versions: str | None = None
    prestage_software_version: str | None = None


@dataclasses.dataclass(frozen=True)
class RecordedApp:
    """A site's application record, as the audit compares it with the site."""

    id: int
    name: str
    version: str
    status: str
    releases: tuple[tuple[str, str, int], ...]
    """Its ledger: (release, namespace, revision) of each."""
    updated_at: datetime.datetime | None


@dataclasses.dataclass(frozen=True)
class PrestageFix:
    """What the subcloud's prestage columns become (``values``), written only if they
    still hold what they held before the subcloud was asked."""

    expected_status: str | None
    expected_versions: str | None
    values: dict[str, Any]


AppJudge = Callable[[list[RecordedApp]], tuple[str, list[str] | None]]
"""Given the site's application records now, the sync status and what differs."""


@dataclasses.dataclass(frozen=True)
class Found:
    """What one audit found at one subcloud."""

    subcloud_id: int
    reachable: bool
    deploy_status: str | None = None
    software_version: str | None = None
    system_mode: str | None = None
    prestage: PrestageFix | None = None
    apps: AppJudge | None = None


# Shards.


@_retry_on_deadlock
def shares_lease(owner: str, now: datetime.datetime, until: datetime.datetime) -> Share:
    """One heartbeat of audit process ``owner``: stay a member until ``until``, renew
    the shards it holds, give back those beyond its fair share or claim free and
    expired ones up to it; what it holds now."""
    with session.writer() as db:
        db.execute(delete(MEMBERS).where(MEMBERS.c.lease_expires_at < now))
        joined = db.execute(
            update(MEMBERS).where(MEMBERS.c.owner == owner).values(lease_expires_at=until)
        )
        if joined.rowcount == 0:
            db.execute(insert(MEMBERS).values(owner=owner, lease_expires_at=until))
        members = db.scalar(select(func.count()).select_from(MEMBERS))
        total = db.scalar(select(func.count()).select_from(SHARDS))
        mine = SHARDS.c.owner == owner
        db.execute(update(SHARDS).where(mine).values(lease_expires_at=until))
        held = list(
            db.scalars(
                select(SHARDS.c.shard).where(mine).order_by(SHARDS.c.shard).with_for_update()
            )
        )
        fair = -(-total // members)
        if len(held) > fair:
            db.execute(
                update(SHARDS)
                .where(mine)
                .where(SHARDS.c.shard.in_(held[fair:]))
                .values(owner=None, lease_expires_at=None)
            )
            held = held[:fair]
        elif len(held) < fair:
            held += _claim(db, owner, now, until, fair - len(held))
    return Share(frozenset(held), total, members)


def _claim(
    db, owner: str, now: datetime.datetime, until: datetime.datetime, wanted: int
) -> list[int]:
    """Claim up to ``wanted`` free or expired shards, lowest first; those claimed (a
    shard another process claimed meanwhile is not)."""
    free = or_(SHARDS.c.owner.is_(None), SHARDS.c.lease_expires_at < now)
    candidates = list(
        db.scalars(select(SHARDS.c.shard).where(free).order_by(SHARDS.c.shard).limit(wanted))
    )
    if not candidates:
        return []
    db.execute(
        update(SHARDS)
        .where(SHARDS.c.shard.in_(candidates))
        .where(free)
        .values(owner=owner, lease_expires_at=until)
    )
    return list(
        db.scalars(
            select(SHARDS.c.shard)
            .where(SHARDS.c.shard.in_(candidates))
            .where(SHARDS.c.owner == owner)
            .order_by(SHARDS.c.shard)
            .with_for_update()
        )
    )


@_retry_on_deadlock
def shares_release(owner: str) -> None:
    """An audit process that stops gives its shards back at once, and leaves."""
    with session.writer() as db:
        db.execute(
            update(SHARDS).where(SHARDS.c.owner == owner).values(owner=None, lease_expires_at=None)
        )
        db.execute(delete(MEMBERS).where(MEMBERS.c.owner == owner))


def _held(db, owner: str, now: datetime.datetime) -> Share:
    held = db.scalars(
        select(SHARDS.c.shard)
        .where(SHARDS.c.owner == owner)
        .where(SHARDS.c.lease_expires_at >= now)
    )
    return Share(frozenset(held), db.scalar(select(func.count()).select_from(SHARDS)))


# What to audit.


def _in_share(column, share: Share | None):
    """Rows of ``share``'s subclouds (every row when None)."""
    if share is None:
        return true()
    return (column % share.total).in_(sorted(share.shards))


def targets(share: Share | None) -> list[Target]:
    """The subclouds of ``share`` (every one when None), those that did not answer the
    last audits first (so that their waits start at once and overlap the others'
    answers, rather than end the round one timeout after the last is asked), then in
    id order."""
    if share is not None and not share.shards:
        return []
    columns = [SUBCLOUDS.c[name] for name in ("id", "name", "endpoint", *_PRESTAGE_COLUMNS)]
    query = (
        select(*columns)
        .where(_in_share(SUBCLOUDS.c.id, share))
        .order_by(SUBCLOUDS.c.audit_fail_count.desc(), SUBCLOUDS.c.id)
    )
    with session.reader() as db:
        return [Target(*row) for row in db.execute(query)]


_PRESTAGE_COLUMNS = ("prestage_status", "prestage_versions", "prestage_software_version")


def _recorded_apps(rows) -> dict[int, list[RecordedApp]]:
    found: dict[int, list[RecordedApp]] = {}
    for row in rows:
        ledger = tuple(
            (entry.get("release"), entry.get("namespace"), int(entry.get("revision") or 0))
            for entry in row.releases or []
        )
        found.setdefault(row.subcloud_id, []).append(
            RecordedApp(row.id, row.name, row.version, row.status, ledger, row.updated_at)
        )
    return found


def recorded_apps(share: Share | None) -> dict[int, list[RecordedApp]]:
    """The application records of the subclouds of ``share`` (all when None), by
    subcloud id, by name then age."""
    if share is not None and not share.shards:
        return {}
    query = (
        select(APPS)
        .where(_in_share(APPS.c.subcloud_id, share))
        .order_by(APPS.c.subcloud_id, APPS.c.name, APPS.c.id)
    )
    with session.reader() as db:
        return _recorded_apps(db.execute(query))


# Recording what was found.


@_retry_on_deadlock
def record(
    found: Sequence[Found],
    offline_after: int,
    now: datetime.datetime,
    owner: str | None = None,
) -> list[str]:
    """Record a batch of findings in one transaction (see the module's docstring): a
    subcloud that answered is online at once (failure count reset); one that did not
    goes offline at ``offline_after`` consecutive failures.

    :param owner: the audit process recording (its findings about shards it no longer
        holds at ``now`` are dropped); None records every finding.
    :returns: what changed in availability, one line per subcloud (for the log).
    """
    with session.writer() as db:
        if owner is not None:
            held = _held(db, owner, now)
            found = [each for each in found if held.holds(each.subcloud_id)]
        if not found:
            return []
        rows = {
            row.id: row
            for row in db.execute(
                select(SUBCLOUDS)
                .where(SUBCLOUDS.c.id.in_(sorted({each.subcloud_id for each in found})))
                .order_by(SUBCLOUDS.c.id)
                .with_for_update()
            )
        }
        found = [each for each in found if each.subcloud_id in rows]  # deleted meanwhile
        silent = sorted({each.subcloud_id for each in found if not each.reachable})
        answered = [each for each in found if each.reachable]
        changes = _count_failures(db, silent, rows, offline_after)
        changes += _bring_online(db, sorted({each.subcloud_id for each in answered}), rows)
        _record_facts(db, answered, rows)
    return changes


def _count_failures(db, ids: list[int], rows: dict, offline_after: int) -> list[str]:
    """One more failure for each of ``ids``, in one UPDATE; offline at the threshold.

    The SET clauses are in this order on purpose: MySQL evaluates them left to right,
    each seeing the columns set before it, where PostgreSQL and SQLite give every
    clause the old row; put this way, both read the old values.
    """
    if not ids:
        return []
    count, status = SUBCLOUDS.c.audit_fail_count, SUBCLOUDS.c.availability_status
    reaching = count + 1 >= offline_after
    db.execute(
        update(SUBCLOUDS)
        .where(SUBCLOUDS.c.id.in_(ids))
        .ordered_values(
            (
                SUBCLOUDS.c.updated_at,
                case(
                    (and_(reaching, status != OFFLINE), models.utcnow()),
                    else_=SUBCLOUDS.c.updated_at,
                ),
            ),
            (status, case((reaching, OFFLINE), else_=status)),
            (count, count + 1),
        )
    )
    return [
        f"{rows[i].name} {OFFLINE} ({rows[i].audit_fail_count + 1} audits without an answer)"
        for i in ids
        if rows[i].availability_status != OFFLINE and rows[i].audit_fail_count + 1 >= offline_after
    ]


def _bring_online(db, ids: list[int], rows: dict) -> list[str]:
    """Online, failure count reset, for each of ``ids`` that is not already, in one UPDATE."""
    if not ids:
        return []
    count, status = SUBCLOUDS.c.audit_fail_count, SUBCLOUDS.c.availability_status
    db.execute(
        update(SUBCLOUDS)
        .where(SUBCLOUDS.c.id.in_(ids))
        .where(or_(count != 0, status != ONLINE))
        .ordered_values(
            (
                SUBCLOUDS.c.updated_at,
                case((status != ONLINE, models.utcnow()), else_=SUBCLOUDS.c.updated_at),
            ),
            (status, ONLINE),
            (count, 0),
        )
    )
    return [f"{rows[i].name} {ONLINE}" for i in ids if rows[i].availability_status != ONLINE]


def _record_facts(db, answered: list[Found], rows: dict) -> None:
    """Write what each subcloud reported where it differs from its (locked) row."""
    judged = sorted({each.subcloud_id for each in answered if each.apps is not None})
    records: dict[int, list[RecordedApp]] = {}
    if judged:
        records = _recorded_apps(
            db.execute(
                select(APPS)
                .where(APPS.c.subcloud_id.in_(judged))
                .order_by(APPS.c.subcloud_id, APPS.c.name, APPS.c.id)
            )
        )
    # Rows changing the same columns go in one executemany (a fleet's first audit
    # changes the same few columns of thousands of rows).
    changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for each in answered:
        values = _changed_facts(each, rows[each.subcloud_id], records.get(each.subcloud_id, []))
        if values:
            changes.setdefault(tuple(sorted(values)), []).append(
                {"match_id": each.subcloud_id, **values}
            )
    now = models.utcnow()
    for columns, parameters in changes.items():
        db.execute(
            update(SUBCLOUDS)
            .where(SUBCLOUDS.c.id == bindparam("match_id"))
            .values(updated_at=now, **{column: bindparam(column) for column in columns}),
            parameters,
        )


def _changed_facts(each: Found, row, records: list[RecordedApp]) -> dict[str, Any]:
    reported = {
        "deploy_status": each.deploy_status,
        "software_version": each.software_version,
        "system_mode": each.system_mode,
    }
    values = {
        name: value
        for name, value in reported.items()
        if value is not None and value != getattr(row, name)
    }
    fix = each.prestage
    if fix is not None and (row.prestage_status, row.prestage_versions) == (
        fix.expected_status,
        fix.expected_versions,
    ):
        values.update(fix.values)
    if each.apps is not None:
        sync, details = each.apps(records)
        # The column holds no NULL: an empty list for nothing to say.
        if (sync, details or []) != (row.app_sync_status, row.app_sync_details or []):
            values.update(app_sync_status=sync, app_sync_details=details or [])
    return values
