"""Fetching one blob: verified, resumed, refetched, never twice at once (the
network's side is a scripted source; real servers are in tests/e2e/test_agents.py)."""

import hashlib
import threading
import time

import pytest

from dcmanager.agent import transfer
from dcmanager.common import pacing
from dcmanager.common import retry
from dcmanager.releases import store

DATA = bytes(range(256)) * 4096  # 1 MiB
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
FAST = retry.RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0.01)


class Response:
    """What a streamed requests response offers the fetcher."""

    def __init__(self, status: int, body: bytes = b"", cut: bool = False) -> None:
        self.status_code = status
        self.reason = "scripted"
        self.body = body
        self.cut = cut

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def iter_content(self, size: int):
        for start in range(0, len(self.body), size):
            yield self.body[start : start + size]
        if self.cut:
            raise transfer.requests.exceptions.ChunkedEncodingError("connection cut")


class Source:
    """Answers each GET with the next scripted fault, then with the truth."""

    def __init__(self, *faults: str, delay: float = 0.0) -> None:
        self.faults = list(faults)
        self.ranges: list[str | None] = []
        self.delay = delay

    def __call__(self, url: str, headers: dict[str, str]) -> Response:
        self.ranges.append(headers.get("Range"))
        time.sleep(self.delay)
        start = int(headers["Range"][6:-1]) if "Range" in headers else 0
        fault = self.faults.pop(0) if self.faults else None
        if fault == "missing":
            return Response(404)
        if fault == "corrupt":
            return Response(200, b"x" + DATA[1:])
        if fault == "cut":
            return Response(200, DATA[: len(DATA) // 2], cut=True)
        if fault == "error":
            return Response(503)
        return Response(206 if start else 200, DATA[start:])


@pytest.fixture
def fetcher(tmp_path):
    done = []
    instance = transfer.Fetcher(
        store.BlobStore(str(tmp_path / "blobs")),
        str(tmp_path / "partial"),
        pacing.Pacer(None),
        FAST,
        cancelled=threading.Event(),
        on_bytes=done.append,
    )
    instance.done = done
    return instance


def _fetch(fetcher, source) -> bool:
    return fetcher.fetch(source, "http://controller/blob", DIGEST, len(DATA), "Packages/a.deb")


def test_a_blob_lands_whole_and_counts_its_bytes(fetcher):
    assert _fetch(fetcher, Source())
    with open(fetcher.blobs.path(DIGEST), "rb") as stored:
        assert stored.read() == DATA
    assert sum(fetcher.done) == len(DATA) == fetcher.bytes_received


def test_a_blob_already_held_is_not_fetched(fetcher):
    _fetch(fetcher, Source())
    source = Source()
    assert not _fetch(fetcher, source)
    assert source.ranges == []


def test_a_cut_download_resumes_where_it_stopped(fetcher):
    source = Source("cut")
    assert _fetch(fetcher, source)
    assert source.ranges == [None, f"bytes={len(DATA) // 2}-"]
    assert fetcher.bytes_received == len(DATA)


def test_corrupt_bytes_are_thrown_away_and_fetched_again(fetcher):
    source = Source("corrupt")
    assert _fetch(fetcher, source)
    assert source.ranges == [None, None]
    assert sum(fetcher.done) == len(DATA), "the discarded bytes are no longer counted"


def test_a_source_that_keeps_failing_fails_naming_the_file(fetcher):
    with pytest.raises(transfer.TransferError, match=r"Packages/a.deb \(sha256:.*\): .*digest"):
        _fetch(fetcher, Source("corrupt", "corrupt", "corrupt"))
    assert not fetcher.blobs.has(DIGEST)
    with pytest.raises(transfer.TransferError, match=r"Packages/a.deb \(sha256:.*\): .*503"):
        _fetch(fetcher, Source("error", "error", "error"))


def test_a_missing_blob_fails_at_once_naming_the_file(fetcher):
    source = Source("missing")
    with pytest.raises(transfer.TransferError, match=r"^Packages/a.deb \(sha256:.*not found"):
        _fetch(fetcher, source)
    assert len(source.ranges) == 1


def test_two_fetchers_of_one_blob_download_it_once(fetcher, tmp_path):
    other = transfer.Fetcher(
        fetcher.blobs,
        fetcher.partial_dir,
        pacing.Pacer(None),
        FAST,
        threading.Event(),
        lambda n: None,
    )
    source = Source(delay=0.2)
    results = []
    threads = [
        threading.Thread(target=lambda f=f: results.append(_fetch(f, source)))
        for f in (fetcher, other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert source.ranges == [None]
    with open(fetcher.blobs.path(DIGEST), "rb") as stored:
        assert stored.read() == DATA


def test_cancelling_stops_a_paced_download(fetcher):
    fetcher.pacer = pacing.Pacer(1024, sleep=fetcher.stopped.wait)  # 1 KiB/s
    threading.Timer(0.2, fetcher.stopped.set).start()
    started = time.monotonic()
    with pytest.raises(transfer.Cancelled):
        _fetch(fetcher, Source())
    assert time.monotonic() - started < 5
    assert not fetcher.blobs.has(DIGEST)


def test_one_failed_blob_stops_the_other_downloads_at_once(fetcher):
    """A blob the source lacks fails the operation; a slow download of another blob
    under way stops at its next chunk instead of running to its end."""
    fetcher.pacer = pacing.Pacer(64 * 1024, sleep=fetcher.stopped.wait)  # 16 s for DATA
    other = b"y" * len(DATA)
    other_digest = "sha256:" + hashlib.sha256(other).hexdigest()

    def source(url, headers):
        if url.endswith("missing"):
            time.sleep(0.3)  # the slow download is under way by then
            return Response(404)
        return Response(200, DATA if url.endswith("a") else other)

    jobs = [
        transfer.Job(source, "http://c/a", DIGEST, len(DATA), "a.deb"),
        transfer.Job(source, "http://c/missing", other_digest, len(other), "b.deb"),
    ]
    started = time.monotonic()
    with pytest.raises(transfer.TransferError, match="b.deb .*not found"):
        fetcher.fetch_all(jobs, 2, lambda digest: None, "op")
    assert time.monotonic() - started < 2
    assert not fetcher.blobs.has(DIGEST)
    assert 0 < fetcher.bytes_received < len(DATA)


def test_a_refused_credential_is_not_tried_again(fetcher):
    calls = []

    def source(url, headers):
        calls.append(url)
        return Response(403)

    with pytest.raises(transfer.TransferError, match="answered 403"):
        fetcher.fetch(source, "http://c/a", DIGEST, len(DATA), "a.deb")
    assert len(calls) == 1
