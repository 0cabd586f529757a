"""How a worker talks to one subcloud.

A driver answers system information (for prechecks and audits) at once, and runs the
long prestage phases as *operations*: :meth:`SubcloudDriver.start` begins one and
returns at once, :meth:`SubcloudDriver.poll` asks how it is going. Workers poll all their
operations in batches, one request per subcloud per interval; no thread waits on a
subcloud. Operations are plain data (:class:`Operation`), so a step that moves to
another worker resumes polling the same operation.
"""

import abc
import dataclasses
import enum
from typing import Any
from typing import ClassVar

from dcmanager.common import clock as clock_module
from dcmanager.common import exception


class SubcloudUnreachable(exception.DCManagerException):
    """The subcloud did not answer; worth trying again later."""

    msg_fmt = "Subcloud %(name)s is unreachable: %(reason)s"
    retryable = True


class OperationKind(enum.StrEnum):
    PRECHECK = "precheck"
    """Check the subcloud's health and report its system information."""
    PACKAGES = "packages"
    """Transfer the release's packages."""
    IMAGES = "images"
    """Transfer the release's container images."""
    APP_UPLOAD = "app-upload"
    """Put an application version's tarball on the subcloud."""
    APP_APPLY = "app-apply"
    """Install or upgrade its charts' releases, running the given lifecycle phases."""
    APP_ROLLBACK = "app-rollback"
    """Roll its releases back to given revisions (an update to a version the site ran)."""
    APP_CLEANUP = "app-cleanup"
    """Uninstall the releases an update left behind, and the old version's files."""
    APP_RECOVER = "app-recover"
    """Roll the releases back to the version the site ran before a failed update."""
    APP_REMOVE = "app-remove"
    """Uninstall the application's releases (its uninstall phase first)."""


APP_KINDS = frozenset(
    {
        OperationKind.APP_UPLOAD,
        OperationKind.APP_APPLY,
        OperationKind.APP_ROLLBACK,
        OperationKind.APP_CLEANUP,
        OperationKind.APP_RECOVER,
        OperationKind.APP_REMOVE,
    }
)


@dataclasses.dataclass(frozen=True)
class SiteApplication:
    """One version of an application at a subcloud, as the subcloud itself sees it."""

    name: str
    version: str
    status: str
    """``applied``, ``apply-failed`` (the last revision of one of its releases failed)
    or ``uploaded`` (its tarball is there, none of its releases is deployed): what a
    site can tell by itself."""
    releases: tuple[dict[str, Any], ...] = ()
    """Its deployed releases: release, namespace, chart, chart_version, revision."""

    @classmethod
    def from_dict(cls, data: Any) -> "SiteApplication":
        """:raises ValueError: ``data`` is not a site's application."""
        if not isinstance(data, dict):
            raise ValueError("an application must be an object")
        fields = [data.get(name) for name in ("name", "version", "status")]
        releases = data.get("releases") or []
        if not all(isinstance(value, str) for value in fields) or not (
            isinstance(releases, list) and all(isinstance(r, dict) for r in releases)
        ):
            raise ValueError("an application needs a name, version, status and releases")
        return cls(*fields, releases=tuple(releases))


@dataclasses.dataclass(frozen=True)
class SystemInfo:
    """What a subcloud reports about itself."""

    system_mode: str
    """simplex or duplex."""
    controller0_active: bool
    management_alarms: int
    """Number of management-affecting alarms raised."""
    free_disk_bytes: int
    deploy_status: str
    software_version: str | None = None
    prestaged_versions: tuple[str, ...] | None = ()
    """The releases wholly prestaged there; None: the subcloud does not say (a
    simulated one not told, see :mod:`dcmanager.drivers.simulator`)."""
    health_problem: str | None = None
    """Why the subcloud is unhealthy, or None."""
    needed_bytes: int | None = None
    """In a precheck's result: the disk the release still needs on the subcloud (what
    it does not hold yet)."""
    applications: tuple[SiteApplication, ...] | None = None
    """The application versions at the subcloud; None: it does not say (an agent whose
    backend keeps them where it does not look, an older agent, a simulated subcloud
    not told)."""
    fallback_facts: tuple[str, ...] = ()
    """The facts above that the subcloud took from its own configuration, not from its
    platform (an agent's ``[agent]`` options: no ``[platform] source``, or one that
    left them out or failed)."""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["fallback_facts"] = list(self.fallback_facts)
        if self.prestaged_versions is not None:
            data["prestaged_versions"] = list(self.prestaged_versions)
        if self.applications is not None:
            data["applications"] = [
                {**dataclasses.asdict(app), "releases": list(app.releases)}
                for app in self.applications
            ]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SystemInfo":
        """From a subcloud's answer: unknown keys are ignored, and a list of prestaged
        versions or of applications that is not one counts as not said."""
        known = {field.name for field in dataclasses.fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        versions = data.get("prestaged_versions", ())
        if versions is not None:
            valid = isinstance(versions, list | tuple) and all(isinstance(v, str) for v in versions)
            versions = tuple(versions) if valid else None
        try:
            apps = data.get("applications")
            apps = None if apps is None else tuple(SiteApplication.from_dict(a) for a in apps)
        except (TypeError, ValueError):
            apps = None
        facts = data.get("fallback_facts") or ()
        valid = isinstance(facts, list | tuple) and all(isinstance(f, str) for f in facts)
        values["fallback_facts"] = tuple(facts) if valid else ()
        return cls(**{**values, "prestaged_versions": versions, "applications": apps})


@dataclasses.dataclass(frozen=True)
class PrestageRequest:
    """What a prestage phase needs to know. The password is never logged or stored."""

    release: str
    force: bool = False
    for_install: bool = False
    for_sw_deploy: bool = False
    sysadmin_password: bytes = dataclasses.field(default=b"", repr=False)
    apps: tuple[tuple[str, str], ...] = ()
    """The applications (name, version) whose images are prestaged with the release's."""
    images: tuple[str, ...] = ()
    """The images phase: those applications' images, as the engine found them."""


@dataclasses.dataclass(frozen=True)
class AppRequest:
    """What an application operation needs to know.

    ``releases`` are the Helm releases the operation works on, each ``{release,
    namespace, chart, chart_version, revision}``: ``revision`` is the one the site runs
    now (0: not installed), and for a rollback or recover ``to_revision`` is the one to
    go back to. ``values`` holds the user overrides of each release; ``phase_values``
    the application's phase overlays (seed 003), which sit above them while
    ``phases`` run in order. ``uninstall`` lists releases to remove (``{release,
    namespace}``), and ``old_version`` the version whose files a cleanup removes.
    """

    app: str
    version: str
    digest: str
    releases: tuple[dict[str, Any], ...] = ()
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    phases: tuple[str, ...] = ()
    phase_values: dict[str, Any] = dataclasses.field(default_factory=dict)
    uninstall: tuple[dict[str, str], ...] = ()
    old_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("releases", "phases", "uninstall"):
            data[name] = list(data[name])
        return data


@dataclasses.dataclass(frozen=True)
class Progress:
    bytes_done: int = 0
    bytes_total: int = 0
    artifacts_done: int = 0
    artifacts_total: int = 0

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Operation:
    """An operation on a subcloud, as last seen.

    ``error`` set means it failed; ``done`` without an error means it succeeded, with
    ``result`` (precheck: the system information; images: ``{"skipped": reason}`` when
    there was nothing to transfer).
    """

    kind: OperationKind
    id: str
    done: bool = False
    error: str | None = None
    result: dict[str, Any] = dataclasses.field(default_factory=dict)
    progress: Progress | None = None

    def handle(self) -> dict[str, str]:
        """What to persist to poll it again later, from any worker."""
        return {"kind": str(self.kind), "id": self.id}


class SubcloudDriver(abc.ABC):
    """One subcloud, reached at ``endpoint``. Instances are cheap and stateless."""

    #: Whether calls wait on the network (then workers make them on a thread pool);
    #: a driver that answers from memory is called inline.
    blocking_io: ClassVar[bool] = True

    def __init__(
        self, name: str, endpoint: str, clock: clock_module.Clock = clock_module.SYSTEM
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.clock = clock

    @abc.abstractmethod
    def get_system_info(self, timeout: float | None = None) -> SystemInfo:
        """:param timeout: seconds to wait for the answer at most (None: the driver's
            own default).
        :raises SubcloudUnreachable: no answer (in time).
        """

    @abc.abstractmethod
    def start(
        self, kind: OperationKind, request: PrestageRequest | AppRequest, key: str
    ) -> Operation:
        """Start an operation (an :class:`AppRequest` for the ``app-*`` kinds, whose
        result holds the releases' new ledger and the state of each phase run), or find
        the one already started with the same ``key``
        (starting is idempotent: a step resumed elsewhere may start it again).

        :raises SubcloudUnreachable: no answer.
        """

    @abc.abstractmethod
    def poll(self, handle: dict[str, str]) -> Operation:
        """The operation's state now.

        :raises SubcloudUnreachable: no answer.
        """

    @abc.abstractmethod
    def cancel(self, handle: dict[str, str]) -> Operation:
        """Stop the operation if it runs; its state then (``done``, with the error
        ``cancelled`` and its progress when it was still running). What it transferred
        stays at the subcloud: the next operation of the same kind resumes from it.

        :raises SubcloudUnreachable: no answer.
        """
