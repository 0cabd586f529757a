"""The agent's prestage operations: precheck, packages and images, run in the background.

Each operation runs on a thread of its own (its downloads on a few more) the phase its
kind names (:mod:`dcmanager.agent.phases`); its record is written to the state
directory (:mod:`dcmanager.agent.statedir`) when it starts and when it ends. An
operation that was running when the agent stopped runs again when it starts; what was
already downloaded is kept (whole blobs) or resumed (partial ones).
"""

import logging
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
from dcmanager.agent import phases
from dcmanager.agent import records
from dcmanager.agent import registry
from dcmanager.agent import site_registry
from dcmanager.agent import statedir
from dcmanager.agent import system
from dcmanager.agent import transfer
from dcmanager.agent.phases import Context
from dcmanager.agent.phases import apps as app_phase
from dcmanager.agent.phases import images as images_phase
from dcmanager.agent.phases import packages
from dcmanager.agent.phases import precheck

LOG = logging.getLogger(__name__)
CANCEL_WAIT_SECONDS = 5.0
"""How long a cancel waits for the operation to stop before answering (the
controller's workers wait 10 s for an agent by default)."""

PHASES: dict[str, Callable[[Context], dict[str, Any]]] = {
    records.PRECHECK: precheck.run,
    records.PACKAGES: packages.run,
    records.IMAGES: images_phase.run,
    **app_phase.RUNS,
}


class Agent:
    """The operations of one agent (thread-safe; the web app calls it)."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        controller_get: Callable[..., requests.Response],
        registry_get: Callable[..., requests.Response],
        site_session: requests.Session | None = None,
    ) -> None:
        """
        :param controller_get: ``GET url`` on the system controller (authenticated as
            the ``[controller]`` options say), with requests' keyword arguments.
        :param registry_get: ``GET url`` on a container registry.
        :param site_session: for the site's own registry (``[agent]
            local_registry_url``), with its credentials; None: images are not pushed.
        """
        self.conf = conf
        self.state = statedir.StateDir(conf.agent.state_dir)
        self._store = records.RecordStore(self.state.operations)
        self._passwords = admission.PasswordCheck(conf)
        self._controller_get = controller_get
        self._registry_get = registry_get
        self._site_session = site_session
        # Guards the maps below and the records' progress and end.
        self._lock = threading.Lock()
        self._records: dict[str, records.Record] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._stopped = False

    # Life cycle.

    def load(self) -> None:
        """Read the operations of the last run; run again those that were running."""
        self.state.create()
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
        """System information and health (``GET /v1/info``)."""
        return system.info(self.conf, self.state)

    def start(self, body: dict[str, Any]) -> tuple[records.Record, bool]:
        """Start the operation ``body`` describes, or find the one already started
        under its id; the record and whether it is new.

        :raises admission.Refused: the request is malformed, its password does not
            match, its id runs for another release, or the record cannot be written.
        """
        request = admission.parse(
            body, self.conf.agent.repository_urls, self.conf.agent.registry_urls
        )
        if admission.needs_password(request):
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
                failure = records.disk_failure(exc, self.state.root)
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
        """Cancel the operation if it runs (waiting up to :data:`CANCEL_WAIT_SECONDS`
        for it to end); its record."""
        with self._lock:
            record = self._records.get(operation_id)
            event = self._cancel.get(operation_id)
        if record is not None and event is not None and record.state == records.RUNNING:
            event.set()
            thread = self._threads.get(operation_id)
            if thread is not None:
                # Within the caller's patience: the answer may show it still running
                # (stopping at its next chunk or file).
                thread.join(CANCEL_WAIT_SECONDS)
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

    def _context(self, record: records.Record, cancelled: threading.Event) -> Context:
        agent = self.conf.agent
        return Context(
            conf=self.conf,
            record=record,
            cancelled=cancelled,
            progress_lock=self._lock,
            state=self.state,
            release_store=controller.ReleaseStore(
                self._controller_get,
                record.repository_url,
                agent.request_timeout,
                phases.retry_policy(self.conf),
                cancelled,
            ),
            registry=registry.Registry(
                self._registry_get,
                record.registry_url,
                agent.request_timeout,
                agent.platform,
                phases.retry_policy(self.conf),
                cancelled,
            ),
            site_registry=(
                site_registry.SiteRegistry(
                    self._site_session,
                    agent.local_registry_url,
                    agent.request_timeout,
                    phases.retry_policy(self.conf),
                    cancelled,
                )
                if self._site_session is not None and agent.local_registry_url
                else None
            ),
        )

    def _run(self, record: records.Record, cancelled: threading.Event) -> None:
        run, context = PHASES[record.kind], self._context(record, cancelled)
        result: dict[str, Any] = {}
        error = None
        try:
            result = run(context)
            state = records.DONE
        except transfer.Cancelled:
            if self._stopped:
                return  # the agent stops: the operation runs again at its next start
            state, error = records.CANCELLED, "cancelled"
        except Exception as exc:
            state, error = records.FAILED, self._reason(record, exc)
            result = exc.result if isinstance(exc, records.Failed) else {}
        LOG.info(
            "Operation %s (%s of release %s) %s%s",
            record.id,
            record.kind,
            record.release,
            state,
            f": {error}" if error else "",
        )
        self._finish(record, state, result, error)

    def _reason(self, record: records.Record, exc: Exception) -> str:
        """Why ``exc`` failed the operation, as the operator reads it."""
        if isinstance(exc, (records.Failed, transfer.TransferError, images.ImageError)):
            return str(exc)
        if isinstance(exc, ks_exc.ClientException):
            return (
                f"the agent could not authenticate to the system controller ({exc}); "
                "check the [controller] options"
            )
        if isinstance(exc, OSError):
            return str(records.disk_failure(exc, self.state.root))
        LOG.error("Operation %s failed", record.id, exc_info=exc)
        return f"internal error: {type(exc).__name__}: {exc}"

    def _finish(
        self, record: records.Record, state: str, result: dict[str, Any], error: str | None
    ) -> None:
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
