"""Operation records: what an operation is, how far it got, and how it is kept on disk."""

import dataclasses
import errno
import json
import logging
import os
import time
from typing import Any

from dcmanager.agent import statedir

LOG = logging.getLogger(__name__)

PRECHECK, PACKAGES, IMAGES = "precheck", "packages", "images"
PRESTAGE_KINDS = (PRECHECK, PACKAGES, IMAGES)
APP_KINDS = (
    "app-upload",
    "app-apply",
    "app-rollback",
    "app-cleanup",
    "app-recover",
    "app-remove",
)
KINDS = PRESTAGE_KINDS + APP_KINDS
RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
# Finished operations kept on disk (the newest); older ones are forgotten at start.
KEEP_FINISHED = 200


class Failed(Exception):
    """An operation that failed; the message is its reason, ``result`` what it
    reports all the same (an application operation: which phases ran)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result or {}


def disk_failure(exc: OSError, where: str) -> Failed:
    """``exc``, met while writing under ``where``, as the operator should read it."""
    if exc.errno == errno.ENOSPC:
        return Failed(f"no space left on the subcloud's disk ({exc.filename or where})")
    return Failed(f"cannot write to {exc.filename or where}: {exc.strerror or exc}")


@dataclasses.dataclass
class Record:
    id: str
    kind: str
    release: str
    repository_url: str
    registry_url: str | None = None
    max_bandwidth: float | None = None
    app: dict[str, Any] | None = None
    """An application operation's request (see ``dcmanager.agent.apps.requests``)."""
    images: list[str] = dataclasses.field(default_factory=list)
    """An images operation's images besides the release's (applications' images)."""
    for_install: bool = False
    """A packages operation for install (into ``platform_backup_dir``), not for
    software deployment (``software_dir``)."""
    state: str = RUNNING
    error: str | None = None
    result: dict[str, Any] = dataclasses.field(default_factory=dict)
    bytes_done: int = 0
    bytes_total: int = 0
    artifacts_done: int = 0
    artifacts_total: int = 0
    started_at: float = dataclasses.field(default_factory=time.time)

    def view(self) -> dict[str, Any]:
        """The operation as the agent's API shows it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "release": self.release,
            "for_install": self.for_install,
            "state": self.state,
            "error": self.error,
            "result": self.result,
            "progress": {
                "bytes_done": self.bytes_done,
                "bytes_total": self.bytes_total,
                "artifacts_done": self.artifacts_done,
                "artifacts_total": self.artifacts_total,
            },
        }


class RecordStore:
    """``operations/<id>.json``: one file per operation, its last known state."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, operation_id: str) -> str:
        # Ids hold letters, digits, ':' and '-', never '_': one file per id.
        return os.path.join(self.directory, f"{operation_id.replace(':', '_')}.json")

    def save(self, record: Record) -> None:
        """:raises OSError: the file could not be written (the old one stays)."""
        statedir.write_json(self.path(record.id), dataclasses.asdict(record))

    def load(self) -> list[Record]:
        """The records of the last run, oldest first; unreadable files are skipped, and
        the finished records beyond the newest ``KEEP_FINISHED`` deleted."""
        records = []
        for name in os.listdir(self.directory):
            if not name.endswith(".json"):
                continue
            path = os.path.join(self.directory, name)
            try:
                with open(path) as handle:
                    records.append(Record(**json.load(handle)))
            except (OSError, ValueError, TypeError) as exc:
                LOG.warning("Ignoring unreadable operation file %s: %s", path, exc)
        records.sort(key=lambda r: r.started_at)
        finished = [r for r in records if r.state != RUNNING]
        for record in finished[:-KEEP_FINISHED]:
            os.unlink(self.path(record.id))
            records.remove(record)
        return records
