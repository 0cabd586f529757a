"""The blob store and the release records, on every database backend."""

import hashlib
import io

import pytest

from dcmanager.common import exception
from dcmanager.db import releases as db_releases
from dcmanager.releases import store


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Breaks(io.BytesIO):
    """A stream whose connection drops after the first chunk."""

    def read(self, size=-1):
        if self.tell():
            raise ConnectionResetError("client went away")
        return super().read(3)


class TestBlobStore:
    def test_put_is_content_addressed_and_idempotent(self, tmp_path):
        blobs = store.BlobStore(str(tmp_path))
        assert blobs.put(digest(b"abc"), io.BytesIO(b"abc"), 3) is True
        assert blobs.put(digest(b"abc"), io.BytesIO(b"abc"), 3) is False
        path = tmp_path / "sha256" / digest(b"abc")[7:9] / digest(b"abc")[7:]
        assert path.read_bytes() == b"abc"
        assert list(blobs.digests()) == [digest(b"abc")]

    @pytest.mark.parametrize(
        ("data", "size", "message"),
        [
            (b"abd", 3, "the content's digest is"),
            (b"abc", 4, "received 3 bytes of the 4 announced"),
        ],
    )
    def test_bad_bytes_leave_nothing(self, tmp_path, data, size, message):
        blobs = store.BlobStore(str(tmp_path))
        with pytest.raises(store.BlobError, match=message):
            blobs.put(digest(b"abc"), io.BytesIO(data), size)
        assert not blobs.has(digest(b"abc"))
        assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

    def test_broken_upload_leaves_nothing(self, tmp_path):
        blobs = store.BlobStore(str(tmp_path))
        with pytest.raises(ConnectionResetError):
            blobs.put(digest(b"abcdef"), Breaks(b"abcdef"), 6)
        assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

    @pytest.mark.parametrize(
        "ref", ["", "sha256:", "sha256:" + "g" * 64, "sha512:" + "a" * 64, "../../etc/passwd"]
    )
    def test_digest_syntax(self, tmp_path, ref):
        with pytest.raises(store.BlobError, match="is not a digest"):
            store.BlobStore(str(tmp_path)).path(ref)


def _stored(files) -> None:
    """Every blob is taken to be stored (these tests keep none)."""


FILES = [
    db_releases.ReleaseFile("Packages/a.deb", 3 * 1024**3, digest(b"a")),
    db_releases.ReleaseFile("Packages/b.deb", 10, digest(b"b")),
]


class TestReleaseRecords:
    def test_create_read_destroy(self, any_db):
        created = db_releases.release_create("25.09", FILES, ["busybox:1.36"], _stored)
        assert (created.file_count, created.total_bytes, created.image_count) == (
            2,
            3 * 1024**3 + 10,
            1,
        )
        assert created.files == tuple(FILES)
        db_releases.release_create("26.03", FILES[1:], [], _stored)

        assert [r.version for r in db_releases.release_get_all()] == ["26.03", "25.09"]
        db_releases.release_destroy("25.09")
        with db_releases.store_locked() as named:
            assert named == {digest(b"b")}
        with pytest.raises(exception.ReleaseNotFound):
            db_releases.release_get("25.09")

    def test_version_is_unique(self, any_db):
        db_releases.release_create("25.09", FILES, [], _stored)
        with pytest.raises(exception.ReleaseExists):
            db_releases.release_create("25.09", FILES, [], _stored)
        assert [r.version for r in db_releases.release_get_all()] == ["25.09"]

    def test_long_paths_and_unicode(self, any_db):
        path = "Packages/" + "é" * 500
        db_releases.release_create(
            "25.09", [db_releases.ReleaseFile(path, 1, digest(b"x"))], [], _stored
        )
        assert db_releases.release_get("25.09").files[0].path == path
