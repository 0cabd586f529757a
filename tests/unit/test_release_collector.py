"""The collector of unused blobs: what it keeps, what it removes, and that a release
being created never loses a blob to it (two actors interleaved, on every backend)."""

import concurrent.futures
import hashlib
import io
import os
import threading

import pytest

from dcmanager.common import exception
from dcmanager.db import releases as db_releases
from dcmanager.releases import collector
from dcmanager.releases import store
from tests.clock import FakeClock
from tests.interleave import interleave

GRACE = 3600.0


def _put(blobs: store.BlobStore, data: bytes, age: float, clock: FakeClock) -> str:
    """Store ``data`` as last written ``age`` seconds before the clock's now."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs.put(digest, io.BytesIO(data), len(data))
    written = clock.time() - age
    os.utime(blobs.path(digest), (written, written))
    return digest


def _checker(blobs: store.BlobStore):
    def check(files) -> None:
        missing = [f.digest for f in files if blobs.size(f.digest) != f.size]
        if missing:
            raise exception.Invalid(f"not in the store: {missing}")

    return check


def _create(blobs: store.BlobStore, version: str, digest: str, size: int):
    files = [db_releases.ReleaseFile(f"Packages/{version}.deb", size, digest)]
    try:
        return db_releases.release_create(version, files, [], _checker(blobs))
    except exception.Invalid as exc:
        return exc


@pytest.fixture
def blobs(tmp_path) -> store.BlobStore:
    return store.BlobStore(str(tmp_path / "releases"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


def test_named_and_young_blobs_stay_old_unnamed_ones_go(any_db, blobs, clock):
    named = _put(blobs, b"named", GRACE * 10, clock)
    young = _put(blobs, b"young", GRACE / 2, clock)
    old = _put(blobs, b"old", GRACE * 2, clock)
    assert not isinstance(_create(blobs, "25.09", named, 5), Exception)

    removed = collector.sweep(blobs, GRACE, clock)

    assert removed == [old]
    assert sorted(blobs.digests()) == sorted([named, young])


def test_a_deleted_release_leaves_its_blobs_to_the_collector(any_db, blobs, clock):
    shared = _put(blobs, b"shared", GRACE * 2, clock)
    own = _put(blobs, b"own", GRACE * 2, clock)
    _create(blobs, "25.09", shared, 6)
    db_releases.release_create(
        "26.03",
        [
            db_releases.ReleaseFile("Packages/shared.deb", 6, shared),
            db_releases.ReleaseFile("Packages/own.deb", 3, own),
        ],
        [],
        _checker(blobs),
    )

    db_releases.release_destroy("26.03")
    assert blobs.has(own)  # not at once: an upload may be about to name it again
    assert collector.sweep(blobs, GRACE, clock) == [own]
    assert blobs.has(shared)


def test_uploading_a_stored_blob_again_renews_its_grace(any_db, blobs, clock):
    digest = _put(blobs, b"again", GRACE * 2, clock)

    assert blobs.put(digest, io.BytesIO(b"again"), 5) is False

    assert collector.sweep(blobs, GRACE, FakeClock(clock.now)) == []
    assert blobs.has(digest)


def test_a_release_created_while_a_sweep_holds_the_lock_waits_and_sees_its_result(
    any_db, blobs, clock
):
    """The sweep has read which digests are named and is about to remove an old unnamed
    blob when a release naming it is created: the creation waits for the sweep (the
    store's lock), then finds the blob gone and is refused. Without the lock it would
    record a release whose blob the sweep then removes."""
    digest = _put(blobs, b"package", GRACE * 2, clock)
    removing, go_on = threading.Event(), threading.Event()
    delete = blobs.delete

    def paused_delete(target: str) -> None:
        removing.set()
        go_on.wait(30)
        delete(target)

    blobs.delete = paused_delete
    sweeper = concurrent.futures.ThreadPoolExecutor(2)
    try:
        swept = sweeper.submit(collector.sweep, blobs, GRACE, clock)
        assert removing.wait(30)
        created = sweeper.submit(_create, blobs, "25.09", digest, 7)
        concurrent.futures.wait([created], timeout=0.5)
        waited = not created.done()
        go_on.set()
        assert swept.result(30) == [digest]
        outcome = created.result(30)
    finally:
        go_on.set()
        sweeper.shutdown()

    assert waited, "the release was created while the sweep held the store's lock"
    assert isinstance(outcome, exception.Invalid)
    assert not db_releases.release_exists("25.09")


def test_a_sweep_during_a_creation_waits_and_keeps_the_blob(any_db, blobs, clock):
    """A release naming an old unnamed blob is past its check, about to be inserted, when
    a sweep starts: the sweep waits, then finds the blob named and keeps it."""
    digest = _put(blobs, b"package", GRACE * 2, clock)

    run = interleave(
        any_db,
        lambda: _create(blobs, "25.09", digest, 7),
        lambda: collector.sweep(blobs, GRACE, clock),
        before="INSERT",
    )

    assert not isinstance(run.first, Exception)
    assert run.second == []
    assert blobs.has(digest)
