"""The states a subcloud reports in the inventory, as stored and rendered."""

import enum


class ManagementState(enum.StrEnum):
    MANAGED = "managed"
    """dcmanager orchestrates and audits it."""
    UNMANAGED = "unmanaged"
    """Registered but left alone by orchestration; the only state it can be deleted in."""


class AvailabilityStatus(enum.StrEnum):
    ONLINE = "online"
    """The last audit reached it."""
    OFFLINE = "offline"
    """Not reached by consecutive audits (or never audited yet)."""


class DeployStatus(enum.StrEnum):
    COMPLETE = "complete"
    """Deployed and ready; a registered existing site starts here."""


class PrestageStatus(enum.StrEnum):
    PRESTAGING = "prestaging"
    COMPLETE = "complete"
    FAILED = "failed"
