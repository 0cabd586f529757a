"""SQLAlchemy models. Alembic migrations must produce exactly these tables.

States and other enumerations are stored as short strings and checked in code (the
state-machine modules), so adding a state never needs a schema change.
"""

import datetime

from oslo_db.sqlalchemy import types as oslo_types
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from dcmanager.db.sqlalchemy import types as db_types


def utcnow() -> datetime.datetime:
    """Naive UTC now; every timestamp column holds naive UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class TimestampMixin:
    created_at: Mapped[datetime.datetime] = mapped_column(db_types.Timestamp, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        db_types.Timestamp, onupdate=utcnow
    )


class SubcloudGroup(TimestampMixin, Base):
    """A named set of subclouds with default orchestration settings."""

    __tablename__ = "subcloud_groups"
    __table_args__ = db_types.TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(String(255))
    update_apply_type: Mapped[str] = mapped_column(String(32))
    max_parallel_subclouds: Mapped[int] = mapped_column(Integer)


class Subcloud(TimestampMixin, Base):
    """A remote edge site managed by this system controller."""

    __tablename__ = "subclouds"
    __table_args__ = (
        # What changed since a time (a dashboard's update): registered, or changed.
        Index("ix_subclouds_created_at", "created_at"),
        Index("ix_subclouds_updated_at", "updated_at"),
        db_types.TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    location: Mapped[str | None] = mapped_column(String(255))
    software_version: Mapped[str | None] = mapped_column(String(32))
    management_state: Mapped[str] = mapped_column(String(32))
    availability_status: Mapped[str] = mapped_column(String(32))
    deploy_status: Mapped[str] = mapped_column(String(64))
    backup_status: Mapped[str | None] = mapped_column(String(64))
    prestage_status: Mapped[str | None] = mapped_column(String(64))
    prestage_versions: Mapped[str | None] = mapped_column(String(255))
    error_description: Mapped[str | None] = mapped_column(Text)
    region_name: Mapped[str] = mapped_column(String(255), unique=True)
    endpoint: Mapped[str] = mapped_column(String(1024))
    group_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("subcloud_groups.id", name="fk_subclouds_group_id"), index=True
    )
    # Consecutive audits that could not reach it; it goes offline at a threshold.
    audit_fail_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # simplex or duplex, as the subcloud last told an audit; None until then.
    system_mode: Mapped[str | None] = mapped_column(String(32))
    # Its management network, as registered (addresses and a CIDR, validated).
    management_subnet: Mapped[str | None] = mapped_column(String(64))
    management_start_ip: Mapped[str | None] = mapped_column(String(64))
    management_end_ip: Mapped[str | None] = mapped_column(String(64))
    management_gateway_ip: Mapped[str | None] = mapped_column(String(64))
    systemcontroller_gateway_ip: Mapped[str | None] = mapped_column(String(64))
    # The release its last (or current) prestage was for.
    prestage_software_version: Mapped[str | None] = mapped_column(String(32))
    # The application versions (``app@version``) whose images a prestage put there.
    prestage_apps: Mapped[list | None] = mapped_column(oslo_types.JsonEncodedList)
    # Whether the applications the site last told the audit it runs match the records
    # here (in-sync, out-of-sync, unknown); None until an audit could tell. The details
    # say what differs.
    app_sync_status: Mapped[str | None] = mapped_column(String(32))
    app_sync_details: Mapped[list | None] = mapped_column(oslo_types.JsonEncodedList)


class Strategy(TimestampMixin, Base):
    """The orchestration strategy. At most one exists at a time, of any type.

    ``slot`` is always 1 and unique: that makes "only one strategy" an atomic
    database guarantee instead of a check-then-insert race.
    """

    __tablename__ = "strategies"
    __table_args__ = db_types.TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, unique=True, default=1)
    type: Mapped[str] = mapped_column(String(64))
    subcloud_apply_type: Mapped[str] = mapped_column(String(32))
    max_parallel_subclouds: Mapped[int] = mapped_column(Integer)
    stop_on_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(64))
    extra_args: Mapped[dict | None] = mapped_column(oslo_types.JsonEncodedDict)
    # Encrypted secrets of the strategy (the sysadmin password); never rendered.
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The orchestrator currently driving the strategy, and until when it may.
    owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    details: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    # The estimated end while it applies (see dcmanager.orchestrator.eta).
    eta: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)


class StrategyStep(TimestampMixin, Base):
    """One subcloud's progress through a strategy, or through a standalone prestage
    (``strategy_id`` NULL, with its own ``extra_args`` and ``secret``).

    A running step is held by one worker (``owner``) until ``lease_expires_at``;
    every move is a compare-and-swap on ``state`` (and ``owner``).
    """

    __tablename__ = "strategy_steps"
    __table_args__ = (
        UniqueConstraint("strategy_id", "subcloud_id", name="uniq_strategy_steps_subcloud"),
        Index("ix_strategy_steps_strategy_state", "strategy_id", "state"),
        # A page of a strategy's steps in id order, without sorting all of them.
        Index("ix_strategy_steps_strategy_id", "strategy_id", "id"),
        Index("ix_strategy_steps_lease", "owner", "lease_expires_at"),
        Index("ix_strategy_steps_state_lease", "state", "lease_expires_at"),
        db_types.TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int | None] = mapped_column(
        Integer,
        ForeignKey("strategies.id", name="fk_strategy_steps_strategy_id", ondelete="CASCADE"),
    )
    subcloud_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("subclouds.id", name="fk_strategy_steps_subcloud_id"),
        index=True,
    )
    stage: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(64))
    details: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    # How many times workers took the step in its current attempt (a worker that
    # stops loses it; too many losses fail it).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The attempt under way (from 1; the retry policy or retry-failed adds one), the
    # earlier attempts' outcomes (oldest first), and when a step waiting to be retried
    # may start again.
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    history: Mapped[list | None] = mapped_column(oslo_types.JsonEncodedList(mysql_as_long=True))
    retry_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    # When the step entered its state, and what each phase it left took: {phase:
    # {"s": seconds, "b": bytes transferred (transfers only)}} (the ETA's measures).
    phase_started_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    timings: Mapped[dict | None] = mapped_column(oslo_types.JsonEncodedDict)
    # When ``progress`` was last recorded (a transfer's pace is measured to then).
    progress_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    # Driver operation in flight (id, kind) so a new owner can resume polling it.
    operation: Mapped[dict | None] = mapped_column(oslo_types.JsonEncodedDict)
    progress: Mapped[dict | None] = mapped_column(oslo_types.JsonEncodedDict)
    started_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    # A standalone operation's own arguments (an application operation's hold the user
    # overrides of its charts: long text on MySQL) and encrypted password (strategy
    # steps use their strategy's).
    extra_args: Mapped[dict | None] = mapped_column(oslo_types.JsonEncodedDict(mysql_as_long=True))
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)


class StrategyTally(Base):
    """A strategy's steps counted by state as they move (a share of the count: the
    rows of one state add up to it), and the bytes of the transfers its steps finished.
    See :mod:`dcmanager.db.tallies`.

    No foreign key to the strategy: on MySQL its check would take a shared lock on the
    strategy's row for every move, queueing the workers behind each dispatch (which
    locks that row); the rows go with the strategy in ``strategy_destroy``.
    """

    __tablename__ = "strategy_tallies"
    __table_args__ = db_types.TABLE_OPTIONS

    strategy_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    steps: Mapped[int] = mapped_column(Integer, server_default="0")
    bytes_moved: Mapped[int] = mapped_column(BigInteger, server_default="0")


class PrestagePreparation(TimestampMixin, Base):
    """Preparing a release's packages for a strategy: the lock and the marker.

    Whichever worker inserts (or takes over, once its lease expired) the row prepares;
    every other step waits for its ``state`` to become done or failed. The row survives
    a worker or controller restart, so the work is never repeated for the strategy.
    """

    __tablename__ = "prestage_preparations"
    __table_args__ = db_types.TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey(
            "strategies.id", name="fk_prestage_preparations_strategy_id", ondelete="CASCADE"
        ),
        unique=True,
    )
    release: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)
    details: Mapped[str | None] = mapped_column(Text)


class Release(TimestampMixin, Base):
    """A release uploaded to the store: its packages (files naming blobs) and the
    container images it needs."""

    __tablename__ = "releases"
    __table_args__ = db_types.TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)


class ReleaseFile(Base):
    """One package file of a release: where it goes, and the blob holding its bytes."""

    __tablename__ = "release_files"
    __table_args__ = (
        UniqueConstraint("release_id", "path", name="uq_release_files_release_id_path"),
        Index("ix_release_files_digest", "digest"),
        db_types.TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("releases.id", name="fk_release_files_release_id", ondelete="CASCADE"),
    )
    path: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(71))


class ReleaseImage(Base):
    """A container image a release needs, in the order of its image list."""

    __tablename__ = "release_images"
    __table_args__ = (
        UniqueConstraint("release_id", "position", name="uq_release_images_release_id_position"),
        db_types.TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("releases.id", name="fk_release_images_release_id", ondelete="CASCADE"),
    )
    position: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(512))


class AppVersion(Base):
    """One version of an application in the catalog: its tarball (a blob of the release
    store, by digest) and what was read from it."""

    __tablename__ = "app_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_app_versions_name_version"),
        db_types.TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(71))
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    # charts, images, upgradable, upgrades, phases (see dcmanager.apps.package).
    details: Mapped[dict] = mapped_column(oslo_types.JsonEncodedDict(mysql_as_long=True))
    created_at: Mapped[datetime.datetime] = mapped_column(db_types.Timestamp, default=utcnow)


class SubcloudApp(TimestampMixin, Base):
    """One version of an application at one site (seed 000): the version it runs or
    is getting, or an ``inactive`` version an update left behind.

    ``releases`` is the ledger of the Helm releases this version has at the site
    (release, namespace, chart, chart version, revision); ``phases`` the state of each
    lifecycle phase of its last operation. Operations lock the subcloud's row before
    reading these records, so two of them on one site take turns.
    """

    __tablename__ = "subcloud_apps"
    __table_args__ = (
        UniqueConstraint("subcloud_id", "name", "version", name="uq_subcloud_apps_version"),
        db_types.TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subcloud_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("subclouds.id", name="fk_subcloud_apps_subcloud_id", ondelete="CASCADE"),
        index=True,
    )
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    progress: Mapped[str | None] = mapped_column(Text)
    releases: Mapped[list | None] = mapped_column(oslo_types.JsonEncodedList)
    phases: Mapped[dict | None] = mapped_column(oslo_types.JsonEncodedDict)


class NamedLock(Base):
    """A row locked (``SELECT ... FOR UPDATE``) by actors that must take turns over
    something outside the database: ``release-store`` is locked by the collector of
    unused blobs and by the creation of a release naming blobs."""

    __tablename__ = "named_locks"
    __table_args__ = db_types.TABLE_OPTIONS

    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class HelmOverride(TimestampMixin, Base):
    """The operator's overrides of one Helm chart in one namespace (YAML text), of an
    application (kept across its versions) or of the platform (``app`` empty); an
    application's may also be one subcloud's (``subcloud_id``; 0: every site's).

    ``revision`` counts the writes: an update is written only if nobody wrote since it
    was read.
    """

    __tablename__ = "helm_overrides"
    __table_args__ = (
        UniqueConstraint(
            "app", "name", "namespace", "subcloud_id", name="uq_helm_overrides_app_chart_site"
        ),
        db_types.TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The application the chart belongs to; "" for the platform's charts.
    app: Mapped[str] = mapped_column(String(63), server_default="")
    name: Mapped[str] = mapped_column(String(255))
    namespace: Mapped[str] = mapped_column(String(255))
    user_overrides: Mapped[str] = mapped_column(db_types.LongText)
    revision: Mapped[int] = mapped_column(Integer)
    # The subcloud these overrides are of (deleted with it), or 0: every site.
    subcloud_id: Mapped[int] = mapped_column(Integer, server_default="0")


class AuditShard(Base):
    """One shard of the fleet (the subclouds whose ``id % <shards>`` is ``shard``),
    audited by the audit process holding its lease. The migration makes the rows."""

    __tablename__ = "audit_shards"
    __table_args__ = db_types.TABLE_OPTIONS

    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime.datetime | None] = mapped_column(db_types.Timestamp)


class AuditMember(Base):
    """An audit process that is alive (until its lease expires): the shards are shared
    evenly between the live ones."""

    __tablename__ = "audit_members"
    __table_args__ = db_types.TABLE_OPTIONS

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    lease_expires_at: Mapped[datetime.datetime] = mapped_column(db_types.Timestamp)
