"""The agent's prestage operations: precheck, packages and images, run in the background.

The state directory's layout is in :mod:`dcmanager.agent.statedir`.

An operation that was running when the agent stopped runs again when it starts; what
was already downloaded is kept (whole blobs) or resumed (partial ones).
"""

import io
import logging
import os
import posixpath
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg

from dcmanager.agent import admission
from dcmanager.agent import controller
from dcmanager.agent import images
from dcmanager.agent import records
from dcmanager.agent import registry
from dcmanager.agent import statedir
from dcmanager.agent import transfer
from dcmanager.common import pacing
from dcmanager.releases import store

LOG = logging.getLogger(__name__)

NO_IMAGES = "the release has no image list: no images to prestage"


def _safe_path(path: Any) -> str:
    """A manifest path as a relative path inside the release tree.

    :raises records.Failed: absolute, empty, or climbing out with ``..``.
    """
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path:
        raise records.Failed(f"the release manifest has an unsafe path: {path!r}")
    normal = posixpath.normpath(path)
    if normal != path or normal.startswith("..") or "/../" in f"/{normal}/":
        raise records.Failed(f"the release manifest has an unsafe path: {path!r}")
    return normal


class Agent:
    """The operations of one agent (thread-safe; the web app calls it)."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        controller_get: Callable[..., requests.Response],
        registry_get: Callable[..., requests.Response],
    ) -> None:
        """
        :param controller_get: ``GET url`` on the system controller (authenticated as
            the ``[controller]`` options say), with requests' keyword arguments.
        :param registry_get: ``GET url`` on a container registry.
        """
        self.conf = conf
        self.state_dir = conf.agent.state_dir
        self.blobs = store.BlobStore(os.path.join(self.state_dir, "blobs"))
        self.partial_dir = os.path.join(self.state_dir, "partial")
        self.releases_dir = os.path.join(self.state_dir, "releases")
        self.operations_dir = os.path.join(self.state_dir, "operations")
        self._store = records.RecordStore(self.operations_dir)
        self._passwords = admission.PasswordCheck(conf)
        self._controller_get = controller_get
        self._registry_get = registry_get
        self._lock = threading.Lock()
        self._records: dict[str, records.Record] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._stopped = False

    # Life cycle.

    def load(self) -> None:
        """Read the operations of the last run; run again those that were running."""
        for directory in (
            self.blobs.root,
            self.partial_dir,
            self.releases_dir,
            self.operations_dir,
        ):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        for record in self._store.load():
            self._records[record.id] = record
            if record.state == records.RUNNING:
                LOG.info(
                    "Resuming operation %s (%s of release %s)",
                    record.id,
                    record.kind,
                    record.release,
                )
                self._launch(record)

    def stop(self, timeout: float = 10.0) -> None:
        """Interrupt the running operations without ending them (they run again at
        the next start) and wait briefly for their threads."""
        with self._lock:
            self._stopped = True
            for event in self._cancel.values():
                event.set()
            threads = list(self._threads.values())
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # What the web app calls.

    def info(self) -> dict[str, Any]:
        agent = self.conf.agent
        stat = os.statvfs(self.state_dir)
        return {
            "system_mode": agent.system_mode,
            "controller0_active": agent.controller0_active,
            "management_alarms": agent.management_alarms,
            "free_disk_bytes": max(0, stat.f_bavail * stat.f_frsize - agent.reserved_disk_bytes),
            "deploy_status": "complete",
            "software_version": agent.software_version,
            "prestaged_versions": self.prestaged_versions(),
            "health_problem": None,
        }

    def prestaged_versions(self) -> list[str]:
        versions = []
        for version in sorted(os.listdir(self.releases_dir)):
            directory = os.path.join(self.releases_dir, version)
            if all(
                os.path.exists(os.path.join(directory, f"{phase}.json"))
                for phase in (records.PACKAGES, records.IMAGES)
            ):
                versions.append(version)
        return versions

    def start(self, body: dict[str, Any]) -> tuple[records.Record, bool]:
        """Start the operation ``body`` describes, or find the one already started
        under its id; the record and whether it is new.

        :raises admission.Refused: the request is malformed, its password does not
            match, its id runs for another release, or the record cannot be written.
        """
        request = admission.parse(body, self.conf.agent.repository_urls)
        self._passwords.check(body.get("sysadmin_password"))
        with self._lock:
            existing = self._records.get(request.id)
            if existing is not None:
                if (existing.kind, existing.release) == (request.kind, request.release):
                    return existing, False
                if existing.state == records.RUNNING:
                    raise admission.Refused(
                        f"operation {request.id} is running for {existing.kind} of release "
                        f"{existing.release}",
                        status=409,
                    )
            try:
                self._store.save(request)
            except OSError as exc:
                failure = records.disk_failure(exc, self.state_dir)
                raise admission.Refused(
                    f"the agent cannot record the operation: {failure}", status=507
                ) from None
            self._records[request.id] = request
            self._launch(request)
        LOG.info(
            "Started operation %s (%s of release %s)", request.id, request.kind, request.release
        )
        return request, True

    def get(self, operation_id: str) -> records.Record | None:
        return self._records.get(operation_id)

    def cancel(self, operation_id: str) -> records.Record | None:
        with self._lock:
            record = self._records.get(operation_id)
            event = self._cancel.get(operation_id)
        if record is not None and event is not None and record.state == records.RUNNING:
            event.set()
            thread = self._threads.get(operation_id)
            if thread is not None:
                thread.join(self.conf.agent.request_timeout)
        return record

    # Running.

    def _launch(self, record: records.Record) -> None:
        cancelled = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(record, cancelled), name=f"op-{record.id}", daemon=True
        )
        self._cancel[record.id] = cancelled
        self._threads[record.id] = thread
        thread.start()

    def _run(self, record: records.Record, cancelled: threading.Event) -> None:
        run = {
            records.PRECHECK: self._precheck,
            records.PACKAGES: self._packages,
            records.IMAGES: self._images,
        }[record.kind]
        result: dict[str, Any] = {}
        error = None
        try:
            result = run(record, cancelled) or {}
            state = records.DONE
        except transfer.Cancelled:
            if self._stopped:
                return  # the agent stops: the operation runs again at its next start
            state, error = records.CANCELLED, "cancelled"
        except (records.Failed, transfer.TransferError, images.ImageError) as exc:
            state, error = records.FAILED, str(exc)
        except ks_exc.ClientException as exc:
            state, error = (
                records.FAILED,
                (
                    f"the agent could not authenticate to the system controller ({exc}); "
                    "check the [controller] options"
                ),
            )
        except OSError as exc:
            state, error = records.FAILED, str(records.disk_failure(exc, self.state_dir))
        except Exception as exc:
            LOG.exception("Operation %s failed", record.id)
            state, error = records.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        LOG.info(
            "Operation %s (%s of release %s) %s%s",
            record.id,
            record.kind,
            record.release,
            state,
            f": {error}" if error else "",
        )
        with self._lock:
            # A poll sees the result, the error and the state change together.
            record.result, record.error, record.state = result, error, state
            try:
                self._store.save(record)
            except OSError as exc:
                LOG.warning("Could not record the end of operation %s: %s", record.id, exc)
            if self._threads.get(record.id) is threading.current_thread():
                self._cancel.pop(record.id, None)
                self._threads.pop(record.id, None)

    # The controller and the registry.

    def _release_store(self, record: records.Record) -> controller.ReleaseStore:
        agent = self.conf.agent
        return controller.ReleaseStore(
            self._controller_get, record.repository_url, agent.request_timeout, agent.max_attempts
        )

    def _registry(self, record: records.Record) -> registry.Registry:
        agent = self.conf.agent
        return registry.Registry(
            self._registry_get, record.registry_url, agent.request_timeout, agent.platform
        )

    def _fetcher(self, record: records.Record, cancelled: threading.Event) -> transfer.Fetcher:
        def on_bytes(size: int) -> None:
            with self._lock:
                record.bytes_done += size

        return transfer.Fetcher(
            self.blobs,
            self.partial_dir,
            pacing.Pacer(record.max_bandwidth, sleep=cancelled.wait),  # cancel wakes it
            self.conf.agent.max_attempts,
            cancelled,
            on_bytes,
        )

    # Phases.

    def _precheck(self, record: records.Record, cancelled: threading.Event) -> dict[str, Any]:
        """System information, plus the bytes the release still needs here."""
        release = self._release_store(record).release(record.release)
        needed = {
            f["digest"]: f["size"]
            for f in release.get("files") or ()
            if not self.blobs.has(f["digest"])
        }
        if release.get("images"):
            for manifest in self._registry(record).manifests(release["images"]).values():
                needed.update(
                    {b.digest: b.size for b in manifest.blobs if not self.blobs.has(b.digest)}
                )
        info = self.info()
        info["needed_bytes"] = (
            0 if record.release in info["prestaged_versions"] else sum(needed.values())
        )
        return info

    def _packages(self, record: records.Record, cancelled: threading.Event) -> dict[str, Any]:
        release_store = self._release_store(record)
        files = release_store.release(record.release).get("files") or []
        paths = {_safe_path(f.get("path")): f for f in files}
        sizes = {f["digest"]: f["size"] for f in files}
        for digest in sizes:
            store.parse_digest(digest)
        record.artifacts_total = len(files)
        record.bytes_total = sum(sizes.values())
        missing = [d for d in sizes if not self.blobs.has(d)]
        record.bytes_done = record.bytes_total - sum(sizes[d] for d in missing)
        files_of = {}
        for f in files:
            files_of.setdefault(f["digest"], []).append(f)
        record.artifacts_done = sum(len(files_of[d]) for d in sizes if d not in missing)
        fetcher = self._fetcher(record, cancelled)
        record.bytes_done += fetcher.resumed_bytes(missing, sizes)

        def done(digest: str) -> None:
            with self._lock:
                record.artifacts_done += len(files_of[digest])

        jobs = [
            transfer.Job(
                release_store.get_blob,
                release_store.blob_url(digest),
                digest,
                sizes[digest],
                files_of[digest][0]["path"],
            )
            for digest in missing
        ]
        fetcher.fetch_all(jobs, self.conf.agent.download_concurrency, done, record.id)
        self._link_tree(record.release, paths)
        statedir.write_json(
            os.path.join(self.releases_dir, record.release, f"{records.PACKAGES}.json"),
            [{"path": p, "size": f["size"], "digest": f["digest"]} for p, f in paths.items()],
        )
        return {"bytes_transferred": fetcher.bytes_received, "files_transferred": len(missing)}

    def _link_tree(self, version: str, paths: dict[str, dict]) -> None:
        """``releases/<version>/packages``: the release's files, as hard links to blobs
        (built aside, then swapped in)."""
        directory = os.path.join(self.releases_dir, version)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        building = tempfile.mkdtemp(dir=directory, prefix=".packages-")
        try:
            for path, entry in paths.items():
                target = os.path.join(building, path)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.link(self.blobs.path(entry["digest"]), target)
        except OSError:
            shutil.rmtree(building, ignore_errors=True)
            raise
        final = os.path.join(directory, "packages")
        if os.path.exists(final):
            old = tempfile.mkdtemp(dir=directory, prefix=".old-")
            os.replace(final, os.path.join(old, "packages"))
            os.replace(building, final)
            shutil.rmtree(old)
        else:
            os.replace(building, final)

    def _images(self, record: records.Record, cancelled: threading.Event) -> dict[str, Any]:
        names = self._release_store(record).release(record.release).get("images") or []
        target = os.path.join(self.releases_dir, record.release, f"{records.IMAGES}.json")
        if not names:
            statedir.write_json(target, {})
            return {"skipped": NO_IMAGES}
        source = self._registry(record)
        manifests = source.manifests(names)
        sizes: dict[str, int] = {}
        repository_of: dict[str, str] = {}
        for name, manifest in manifests.items():
            for blob in manifest.blobs:
                sizes[blob.digest] = blob.size
                repository_of.setdefault(blob.digest, images.parse(name).repository)
        missing = [d for d in sizes if not self.blobs.has(d)]
        record.artifacts_total = len(names)
        record.bytes_total = sum(sizes.values())
        record.bytes_done = record.bytes_total - sum(sizes[d] for d in missing)
        fetcher = self._fetcher(record, cancelled)
        record.bytes_done += fetcher.resumed_bytes(missing, sizes)
        jobs = [
            transfer.Job(
                source.get_blob,
                source.blob_url(repository_of[d], d),
                d,
                sizes[d],
                f"image blob of {repository_of[d]}",
            )
            for d in missing
        ]
        fetcher.fetch_all(
            jobs, self.conf.agent.download_concurrency, lambda digest: None, record.id
        )
        references = {}
        for name, manifest in manifests.items():
            self.blobs.put(manifest.digest, io.BytesIO(manifest.body), len(manifest.body))
            references[name] = {"manifest": manifest.digest, "media_type": manifest.media_type}
        record.artifacts_done = len(names)
        statedir.write_json(target, references)
        return {"bytes_transferred": fetcher.bytes_received, "blobs_transferred": len(missing)}
