"""The phases an operation runs: one module each, whose ``run(context)`` does the work
and answers the operation's ``result``.

A phase raises :class:`records.Failed` (or the transfer and image errors) with the
reason the operator reads; it keeps the record's progress up to date as it goes.
"""

import dataclasses
import threading
from collections.abc import Callable

from oslo_config import cfg

from dcmanager.agent import controller
from dcmanager.agent import records
from dcmanager.agent import registry
from dcmanager.agent import statedir
from dcmanager.agent import transfer
from dcmanager.agent.site_registry import SiteRegistry
from dcmanager.common import pacing
from dcmanager.common import retry


def retry_policy(conf: cfg.ConfigOpts) -> retry.RetryPolicy:
    """How the agent tries a request again (``[agent] max_attempts``, ``retry_interval``,
    ``retry_max_interval``)."""
    agent = conf.agent
    return retry.RetryPolicy(
        attempts=agent.max_attempts,
        initial=agent.retry_interval,
        maximum=agent.retry_max_interval,
        jitter=agent.retry_interval / 2,
    )


@dataclasses.dataclass(frozen=True)
class Context:
    """What a phase runs with: its operation and the agent's parts."""

    conf: cfg.ConfigOpts
    record: records.Record
    cancelled: threading.Event
    """Set to stop the phase: a cancel, the agent stopping, or one of its downloads
    failing (which stops the others at once)."""
    progress_lock: threading.Lock
    """Held to change the record's progress (downloads run on several threads)."""
    state: statedir.StateDir
    release_store: controller.ReleaseStore
    registry: registry.Registry
    site_registry: SiteRegistry | None = None
    """The site's own registry, where images are pushed (None: the agent has none)."""

    def fetcher(self) -> transfer.Fetcher:
        """A fetcher for this operation: paced by its bandwidth cap, counting the bytes
        it receives as done."""

        def on_bytes(size: int) -> None:
            with self.progress_lock:
                self.record.bytes_done += size

        return transfer.Fetcher(
            self.state.blobs,
            self.state.partial,
            pacing.Pacer(self.record.max_bandwidth, sleep=self.cancelled.wait),  # cancel wakes it
            retry_policy(self.conf),
            self.cancelled,
            on_bytes,
        )

    def fetch_all(
        self,
        fetcher: transfer.Fetcher,
        jobs: list[transfer.Job],
        on_done: Callable[[str], None],
    ) -> None:
        """``fetcher.fetch_all`` on ``[agent] download_concurrency`` threads."""
        fetcher.fetch_all(jobs, self.conf.agent.download_concurrency, on_done, self.record.id)
