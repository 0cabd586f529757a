"""``/v1.0/releases`` and ``/v1.0/blobs``: the release store through the real app and a
migrated database, blobs on disk under the configured store."""

import hashlib
import os

import pytest
import webob

from dcmanager.api.controllers.v1 import releases as releases_controller
from dcmanager.common import pacing
from dcmanager.conf import CONF
from dcmanager.releases import collector
from dcmanager.releases import store
from tests.clock import FakeClock
from tests.functional import strategy_helpers as sh

pytestmark = pytest.mark.empty_release_store

RELEASES = "/v1.0/releases"
BLOBS = "/v1.0/blobs"
OCTET = "application/octet-stream"
IMAGES = ["registry.local:9001/starlingx/stx-platform:25.09", "docker.io/library/busybox:1.36"]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_blob(api, data: bytes, digest: str | None = None, status: int = 201):
    return api.put(
        f"{BLOBS}/{digest or digest_of(data)}",
        data,
        headers={"Content-Type": OCTET},
        status=status,
    )


def manifest(files: dict[str, bytes], version: str = "25.09", images=IMAGES) -> dict:
    return {
        "version": version,
        "files": [
            {"path": path, "size": len(data), "digest": digest_of(data)}
            for path, data in files.items()
        ],
        "images": images,
    }


def upload(api, files: dict[str, bytes], version: str = "25.09", images=IMAGES) -> dict:
    for data in files.values():
        api.put(f"{BLOBS}/{digest_of(data)}", data, headers={"Content-Type": OCTET})
    return api.post_json(RELEASES, manifest(files, version, images), status=201).json


FILES = {
    "Packages/a.deb": b"a" * 1000,
    "Packages/b.deb": b"b" * 2000,
    "repodata/index": b"index",
}


def _sweep(grace_seconds: float) -> None:
    collector.sweep(store.BlobStore(CONF.prestage.release_store), grace_seconds)


def _stored_blobs() -> set[str]:
    root = os.path.join(CONF.prestage.release_store, "sha256")
    if not os.path.isdir(root):
        return set()
    return {
        "sha256:" + name for prefix in os.listdir(root) for name in os.listdir(f"{root}/{prefix}")
    }


class TestBlobs:
    def test_upload_then_download(self, api):
        data = os.urandom(300_000)
        created = put_blob(api, data)
        assert created.json == {"digest": digest_of(data), "size": len(data)}

        got = api.get(f"{BLOBS}/{digest_of(data)}")
        assert got.body == data
        assert got.content_type == OCTET
        assert got.headers["Accept-Ranges"] == "bytes"

    def test_upload_again_is_200_and_harmless(self, api):
        put_blob(api, b"same")
        assert put_blob(api, b"same", status=200).json["size"] == 4

    def test_range_download(self, api):
        data = bytes(range(256)) * 100
        put_blob(api, data)
        got = api.get(f"{BLOBS}/{digest_of(data)}", headers={"Range": "bytes=1000-"}, status=206)
        assert got.body == data[1000:]
        assert got.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"

    @pytest.mark.parametrize("headers", [{}, {"Range": "bytes=100000-"}])
    def test_downloads_keep_to_the_controller_wide_cap(self, api, monkeypatch, headers):
        clock = FakeClock()
        pacer = pacing.Pacer(None, clock=clock, sleep=clock.sleep)
        monkeypatch.setattr(releases_controller, "_SERVING_PACER", pacer)
        CONF.set_override("max_bandwidth_total", 0.5, group="prestage")  # MiB/s
        data = os.urandom(300_000)
        put_blob(api, data)

        got = api.get(f"{BLOBS}/{digest_of(data)}", headers=headers, status="*")

        assert pacer.rate == 0.5 * 1024**2
        assert clock.now == pytest.approx(len(got.body) / pacer.rate)
        CONF.set_override("max_bandwidth_total", 0, group="prestage")
        api.get(f"{BLOBS}/{digest_of(data)}")
        assert pacer.rate is None

    def test_a_download_streams_instead_of_reading_the_blob_first(self, api, monkeypatch):
        clock = FakeClock()
        monkeypatch.setattr(
            releases_controller, "_SERVING_PACER", pacing.Pacer(1.0, clock, clock.sleep)
        )
        data = os.urandom(3 * store.CHUNK)
        put_blob(api, data)
        request = webob.Request.blank(f"{BLOBS}/{digest_of(data)}")

        status, headers, body = request.call_application(api.app)

        assert status.startswith("200")
        assert dict(headers)["Content-Length"] == str(len(data))
        assert clock.now <= store.CHUNK, "more than one chunk read before the response"
        assert b"".join(body) == data

    def test_an_empty_blob_downloads_as_200(self, api):
        put_blob(api, b"")
        got = api.get(f"{BLOBS}/{digest_of(b'')}", status=200)
        assert got.body == b""
        assert got.headers["Content-Length"] == "0"

    def test_a_range_past_the_end_is_416(self, api):
        put_blob(api, b"0123456789")
        got = api.get(
            f"{BLOBS}/{digest_of(b'0123456789')}", headers={"Range": "bytes=20-"}, status=416
        )
        assert got.headers["Content-Range"] == "bytes */10"
        assert got.json["message"] == "Range bytes=20- is outside the blob's 10 bytes"

    def test_head_says_whether_it_is_there(self, api):
        put_blob(api, b"here")
        assert api.head(f"{BLOBS}/{digest_of(b'here')}").headers["Content-Length"] == "4"
        api.head(f"{BLOBS}/{digest_of(b'not here')}", status=404)

    def test_unknown_blob(self, api):
        missing = digest_of(b"nothing")
        assert api.get(f"{BLOBS}/{missing}", status=404).json["message"] == (
            f"Blob {missing} not found"
        )

    def test_wrong_digest_is_refused_and_nothing_kept(self, api):
        claimed = digest_of(b"what was promised")
        answer = put_blob(api, b"something else", digest=claimed, status=400).json
        assert answer["message"] == (
            f"Blob {claimed} refused: the content's digest is {digest_of(b'something else')}, "
            f"not {claimed}"
        )
        assert _stored_blobs() == set()
        api.get(f"{BLOBS}/{claimed}", status=404)

    @pytest.mark.parametrize(
        "ref", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "A" * 64, "latest"]
    )
    def test_bad_digest(self, api, ref):
        message = api.put(f"{BLOBS}/{ref}", b"x", headers={"Content-Type": OCTET}, status=400)
        assert "is not a digest" in message.json["message"]

    def test_json_content_type_is_refused(self, api):
        answer = api.put(
            f"{BLOBS}/{digest_of(b'{}')}",
            b"{}",
            headers={"Content-Type": "application/json"},
            status=400,
        )
        assert answer.json["message"] == "A blob is sent as application/octet-stream"

    def test_larger_than_the_limit(self, api):
        CONF.set_override("max_blob_bytes", 10, group="prestage")
        answer = put_blob(api, b"x" * 11, status=400).json
        assert "max_blob_bytes" in answer["message"]
        assert _stored_blobs() == set()

    def test_blob_uploads_pass_the_request_size_limit(self, api):
        data = b"z" * (CONF.oslo_middleware.max_request_body_size + 1)
        put_blob(api, data)
        assert api.get(f"{BLOBS}/{digest_of(data)}").body == data

    @pytest.mark.parametrize("method", ["post", "patch", "delete"])
    def test_other_methods(self, api, method):
        answer = getattr(api, method)(f"{BLOBS}/{digest_of(b'x')}", status=405)
        assert answer.headers["Allow"] == "GET, HEAD, PUT"

    def test_no_listing(self, api):
        api.get(BLOBS, status=404)


class TestReleases:
    def test_upload_list_show_delete(self, api):
        created = upload(api, FILES)
        assert created["version"] == "25.09"
        assert created["file-count"] == 3
        assert created["bytes"] == 3005
        assert created["image-count"] == 2
        assert [f["path"] for f in created["files"]] == sorted(FILES)
        assert created["images"] == IMAGES

        listed = api.get(RELEASES).json["releases"]
        assert [(r["version"], r["file-count"], r["bytes"]) for r in listed] == [("25.09", 3, 3005)]
        assert "files" not in listed[0]
        assert api.get(f"{RELEASES}/25.09").json == created

        api.delete(f"{RELEASES}/25.09", status=204)
        assert api.get(RELEASES).json == {"releases": []}
        # The blobs go with the collector's next sweep past their grace, not at once.
        assert len(_stored_blobs()) == 3
        _sweep(grace_seconds=0)
        assert _stored_blobs() == set()

    def test_newest_first(self, api):
        upload(api, {"a": b"1"}, "25.03")
        upload(api, {"a": b"2"}, "26.03")
        upload(api, {"a": b"3"}, "25.09")
        assert [r["version"] for r in api.get(RELEASES).json["releases"]] == [
            "25.09",
            "26.03",
            "25.03",
        ]

    def test_shared_blobs_stay_while_a_release_names_them(self, api):
        upload(api, FILES, "25.09")
        upload(api, {"Packages/a.deb": FILES["Packages/a.deb"], "new": b"new"}, "26.03")

        api.delete(f"{RELEASES}/25.09", status=204)
        _sweep(grace_seconds=0)

        assert _stored_blobs() == {digest_of(FILES["Packages/a.deb"]), digest_of(b"new")}

    def test_blobs_no_release_names_stay_for_their_grace(self, api):
        put_blob(api, b"uploaded, never released")

        _sweep(grace_seconds=3600)
        assert _stored_blobs() == {digest_of(b"uploaded, never released")}
        _sweep(grace_seconds=0)
        assert _stored_blobs() == set()

    def test_missing_blobs_are_named(self, api):
        put_blob(api, FILES["Packages/a.deb"])
        answer = api.post_json(RELEASES, manifest(FILES), status=400).json
        b = FILES["Packages/b.deb"]
        assert answer["message"] == (
            "2 files are not in the store with the size given: "
            f"Packages/b.deb ({digest_of(b)}), repodata/index ({digest_of(b'index')}). "
            "Upload their blobs first (PUT /v1.0/blobs/<digest>)."
        )
        assert api.get(RELEASES).json == {"releases": []}

    def test_wrong_size(self, api):
        body = manifest({"a": b"abc"})
        put_blob(api, b"abc")
        body["files"][0]["size"] = 4
        answer = api.post_json(RELEASES, body, status=400).json
        assert "a (stored 3 bytes)" in answer["message"]

    def test_version_exists(self, api):
        upload(api, FILES)
        answer = api.post_json(RELEASES, manifest(FILES), status=409).json
        assert answer["message"] == (
            "Release 25.09 already exists; delete it first to upload it again"
        )

    def test_a_manifest_may_exceed_the_request_body_limit(self, api):
        files = {f"Packages/pkg-{n:05}.deb": b"x" * n for n in range(2000)}
        body = manifest(files)
        assert len(str(body)) > CONF.oslo_middleware.max_request_body_size
        answer = api.post_json(RELEASES, body, status=400).json
        assert answer["message"].startswith("2000 files are not in the store")

    def test_manifest_limit(self, api):
        CONF.set_override("max_manifest_bytes", 100, group="prestage")
        answer = api.post_json(RELEASES, manifest(FILES), status=413).json
        assert answer["message"] == (
            "A release manifest is limited to [prestage] max_manifest_bytes (100 bytes)"
        )

    def test_not_deleted_while_a_standalone_prestage_uses_it(self, api, conf):
        upload(api, FILES, "25.09")
        sh.register(api, "sc1")
        sh.audit_once(conf)
        api.patch_json(
            "/v1.0/subclouds/sc1/prestage", {"sysadmin_password": sh.PASSWORD, "release": "25.09"}
        )

        answer = api.delete(f"{RELEASES}/25.09", status=409).json
        assert answer["message"] == (
            "Release 25.09 is being prestaged (by the current strategy or a standalone "
            "prestage); delete it once that has ended"
        )
        assert [r["version"] for r in api.get(RELEASES).json["releases"]] == ["25.09"]
        assert len(_stored_blobs()) == 3

    def test_images_only(self, api):
        created = api.post_json(RELEASES, manifest({}, images=IMAGES[:1]), status=201).json
        assert (created["file-count"], created["image-count"]) == (0, 1)

    def test_unknown_release(self, api):
        assert api.get(f"{RELEASES}/30.01", status=404).json["message"] == (
            "Release 30.01 not found"
        )
        api.delete(f"{RELEASES}/30.01", status=404)

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"version": "25.9"}, "Invalid release version: expected MM.mm, e.g. 25.09"),
            ({"version": None}, "Invalid release version"),
            ({"extra": 1}, "Unknown fields: extra"),
            ({"files": "a"}, "files must be a list"),
            ({"files": [], "images": []}, "A release needs at least one file or image"),
            ({"files": [{"path": "a"}]}, "files[0] must be an object with path, size and digest"),
            ({"images": ["busybox"]}, "images[0] is not an image reference with a tag or digest"),
            ({"images": ["Docker.io/Busybox:1"]}, "images[0] is not an image reference"),
            ({"images": [IMAGES[0], IMAGES[0]]}, "images name the same image more than once"),
        ],
    )
    def test_invalid_manifest(self, api, change, message):
        body = manifest({"a": b"1"}) | change
        answer = api.post_json(RELEASES, body, status=400).json
        assert message in answer["message"]
        assert api.get(RELEASES).json == {"releases": []}

    @pytest.mark.parametrize(
        "path", ["/etc/passwd", "../up", "a/../b", "a//b", "./a", "a/", "", "a\nb", "x" * 513]
    )
    def test_invalid_paths(self, api, path):
        body = manifest({"a": b"1"})
        body["files"][0]["path"] = path
        answer = api.post_json(RELEASES, body, status=400).json
        assert "files[0].path" in answer["message"]

    @pytest.mark.parametrize("size", [-1, 1.5, "3", True, None])
    def test_invalid_sizes(self, api, size):
        body = manifest({"a": b"1"})
        body["files"][0]["size"] = size
        assert "files[0].size" in api.post_json(RELEASES, body, status=400).json["message"]

    def test_duplicate_paths(self, api):
        body = manifest({"a": b"1"})
        body["files"].append(dict(body["files"][0]))
        assert api.post_json(RELEASES, body, status=400).json["message"] == (
            "files name the path a more than once"
        )

    @pytest.mark.parametrize(
        "image",
        [
            "busybox:1.36",
            "registry.local:9001/a/b/c:v1",
            "quay.io/x/y@sha256:" + "a" * 64,
            "localhost:5000/x:tag@sha256:" + "b" * 64,
        ],
    )
    def test_valid_image_references(self, api, image):
        api.post_json(RELEASES, manifest({}, images=[image]), status=201)
