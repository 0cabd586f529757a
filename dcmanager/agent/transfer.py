"""Verified, resumable downloads of blobs into the agent's content-addressed store.

A blob is downloaded into ``partial/<hex digest>`` and renamed into the store only once
its size and sha256 are right, so a blob in the store is always whole and correct
(whoever crashed while downloading it). A download that stops (a broken connection, a
killed agent) resumes from the partial file with an HTTP Range request; a partial file
whose digest turns out wrong is thrown away and the blob fetched again from the start.
"""

import concurrent.futures
import dataclasses
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from typing import TypeVar

import requests
from keystoneauth1 import exceptions as ks_exc

from dcmanager.common import pacing
from dcmanager.common import retry
from dcmanager.releases import store

LOG = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK = 1024 * 1024
PACED_CHUNK = 64 * 1024
# Held while a blob is fetched, by the first byte of its digest (process-wide).
_LOCKS = [threading.Lock() for _ in range(256)]
# Errors worth another attempt: the connection broke or the server was slow.
TRANSIENT = (
    ks_exc.ConnectionError,
    ks_exc.RequestTimeout,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


# Answers worth another attempt: the server is overloaded or briefly in trouble.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class TransferError(Exception):
    """A download that failed for good; the message says which and why."""


class Transient(Exception):
    """A problem with one attempt that another attempt may not have."""


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth another attempt (the agent's retry rule)."""
    return isinstance(exc, (Transient, *TRANSIENT))


def retrying(
    policy: retry.RetryPolicy, attempt: Callable[[], T], cancelled: threading.Event, what: str
) -> T:
    """``attempt()`` under ``policy`` with the agent's retry rule; the last
    :class:`Transient` or connection error is raised as it is.

    :raises Cancelled: ``cancelled`` was set before an attempt or during a wait.
    """
    try:
        return policy.call(attempt, is_transient, cancelled, LOG, what)
    except retry.Interrupted:
        raise Cancelled() from None


class Cancelled(Exception):
    """The operation was cancelled."""


Getter = Callable[[str, dict[str, str]], requests.Response]
"""Sends ``GET url`` with the given headers, streaming the body (a requests-style
response; the caller closes it)."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One blob to fetch, as :meth:`Fetcher.fetch` takes it."""

    get: Getter
    url: str
    digest: str
    size: int | None
    what: str


class Fetcher:
    """Downloads blobs into ``blobs`` for one operation."""

    def __init__(
        self,
        blobs: store.BlobStore,
        partial_dir: str,
        pacer: pacing.Pacer,
        policy: retry.RetryPolicy,
        cancelled: threading.Event,
        on_bytes: Callable[[int], None],
    ) -> None:
        """
        :param policy: how each blob is tried again after a transient failure.
        :param cancelled: set to stop every download of the fetcher.
        :param on_bytes: told of every change to the bytes held for the operation:
            received (positive) or thrown away (negative).
        """
        self.blobs = blobs
        self.partial_dir = partial_dir
        self.pacer = pacer
        self.policy = policy
        self.stopped = cancelled
        """Set by a cancel, or by the first download of :meth:`fetch_all` that fails."""
        self.on_bytes = on_bytes
        self._lock = threading.Lock()
        self.bytes_received = 0
        """Bytes received from the network by this fetcher (what the source served)."""

    def _received(self, size: int) -> None:
        with self._lock:
            self.bytes_received += size
        self.on_bytes(size)

    def fetch(self, get: Getter, url: str, digest: str, size: int | None, what: str) -> bool:
        """Make sure the blob ``digest`` is in the store; whether it had to be fetched.

        :param size: the size the blob must have, when known.
        :param what: the blob as the operator knows it (a file path, an image layer).
        :raises TransferError: it could not be fetched whole and correct.
        :raises Cancelled: the operation was cancelled (or another of its downloads
            failed) meanwhile.
        """
        hex_digest = store.parse_digest(digest)
        # Two operations may want the same blob (releases share files): one downloads
        # it, the other finds it stored; never both into the same partial file.
        with _LOCKS[int(hex_digest[:2], 16)]:
            if self.blobs.has(digest):
                return False
            os.makedirs(self.partial_dir, mode=0o700, exist_ok=True)
            partial = os.path.join(self.partial_dir, hex_digest)
            try:
                retrying(
                    self.policy,
                    lambda: self._attempt(get, url, digest, size, partial),
                    self.stopped,
                    f"{what} ({digest})",
                )
            except Transient as exc:
                raise TransferError(f"{what} ({digest}): {exc}") from None
            except TRANSIENT as exc:
                raise TransferError(
                    f"{what} ({digest}): the connection failed ({type(exc).__name__}): {exc}"
                ) from None
            except TransferError as exc:
                raise TransferError(f"{what} ({digest}): {exc}") from None
            return True

    def fetch_all(
        self, jobs: list[Job], workers: int, on_done: Callable[[str], None], name: str
    ) -> None:
        """Fetch every job on up to ``workers`` threads (named after ``name``); the first
        failure stops the rest at once, those under way included (this fetcher is done
        with then).

        :param on_done: told the digest of each blob once it is in the store.
        :raises TransferError: the first real failure (rather than the cancellations it
            caused).
        :raises Cancelled: the operation was cancelled meanwhile.
        """
        if not jobs:
            return

        def one(job: Job) -> None:
            if self.stopped.is_set():
                raise Cancelled()
            try:
                self.fetch(job.get, job.url, job.digest, job.size, job.what)
            except BaseException:
                self.stopped.set()  # the other downloads stop at their next chunk
                raise
            on_done(job.digest)

        with concurrent.futures.ThreadPoolExecutor(
            min(workers, len(jobs)), thread_name_prefix=f"get-{name}"
        ) as pool:
            futures = [pool.submit(one, job) for job in jobs]
        errors = [f.exception() for f in futures if f.exception() is not None]
        # A real failure says more than the cancellations it caused.
        errors.sort(key=lambda e: isinstance(e, Cancelled))
        if errors:
            raise errors[0]

    def resumed_bytes(self, digests: list[str], sizes: dict[str, int]) -> int:
        """What the partial files of ``digests`` already hold, up to their ``sizes``
        (to count as done: :meth:`fetch` subtracts it through ``on_bytes`` if it throws
        a partial file away)."""
        held = 0
        for digest in digests:
            partial = os.path.join(self.partial_dir, store.parse_digest(digest))
            if os.path.exists(partial):
                held += min(os.path.getsize(partial), sizes[digest])
        return held

    def _attempt(self, get: Getter, url: str, digest: str, size: int | None, partial: str) -> None:
        """One try: resume the partial file and complete it in the store.

        :raises Transient: a problem worth another attempt.
        :raises TransferError: one that is not.
        """
        try:
            offset = os.path.getsize(partial)
        except FileNotFoundError:
            open(partial, "wb").close()  # an empty blob needs no request
            offset = 0
        if size is not None and offset > size:
            self._discard(partial, size)  # only ``size`` of it was counted as done
            offset = 0
        hasher = hashlib.sha256()
        if offset:
            with open(partial, "rb") as held:
                for chunk in iter(lambda: held.read(store.CHUNK), b""):
                    hasher.update(chunk)
        if not (size is not None and offset == size):
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            with get(url, headers) as response:
                if response.status_code == 404:
                    raise TransferError(f"not found at {url}")
                if response.status_code == 416 and offset:
                    pass  # nothing after what is held: the digest decides below
                elif response.status_code not in (200, 206):
                    answer = f"{url} answered {response.status_code} {response.reason}"
                    if response.status_code in RETRY_STATUSES:
                        raise Transient(answer)
                    raise TransferError(answer)
                else:
                    if response.status_code == 200 and offset:
                        # The source sent the whole blob: start again from the beginning.
                        self._discard(partial, offset)
                        offset, hasher = 0, hashlib.sha256()
                    self._receive(response, partial, offset, size, hasher)
        self._complete(partial, digest, size, hasher)

    def _receive(
        self,
        response: requests.Response,
        partial: str,
        offset: int,
        size: int | None,
        hasher: "hashlib._Hash",
    ) -> None:
        with open(partial, "ab" if offset else "wb") as out:
            try:
                # Small chunks under a cap, so that streams sharing it take turns often.
                for chunk in response.iter_content(PACED_CHUNK if self.pacer.rate else CHUNK):
                    if self.stopped.is_set():
                        raise Cancelled()
                    room = None if size is None else size - out.tell()
                    if room is not None and len(chunk) > room:
                        chunk = chunk[:room]  # more than the blob holds: the digest decides
                    self.pacer.take(len(chunk))
                    out.write(chunk)
                    hasher.update(chunk)
                    self._received(len(chunk))
                    if room is not None and len(chunk) == room:
                        break
            finally:
                out.flush()
                os.fsync(out.fileno())

    def _complete(
        self, partial: str, digest: str, size: int | None, hasher: "hashlib._Hash"
    ) -> None:
        held = os.path.getsize(partial) if os.path.exists(partial) else 0
        if size is not None and held < size:
            raise Transient(f"received {held} of {size} bytes")
        actual = store.DIGEST_PREFIX + hasher.hexdigest()
        if actual != digest:
            self._discard(partial, held)
            raise Transient(
                f"the bytes received have digest {actual}: corrupt at the source or in transit"
            )
        final = self.blobs.path(digest)
        os.makedirs(os.path.dirname(final), mode=0o700, exist_ok=True)
        os.chmod(partial, 0o644)
        os.replace(partial, final)

    def _discard(self, partial: str, held: int) -> None:
        try:
            os.unlink(partial)
        except FileNotFoundError:
            return
        self.on_bytes(-held)
