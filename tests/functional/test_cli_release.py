"""``dcmanager release ...`` against the real API served over HTTP."""

import hashlib

import pytest

pytestmark = pytest.mark.empty_release_store


@pytest.fixture
def packages(tmp_path):
    root = tmp_path / "packages"
    (root / "Packages").mkdir(parents=True)
    (root / "Packages" / "a.deb").write_bytes(b"a" * 5000)
    (root / "Packages" / "b.deb").write_bytes(b"b" * 3000)
    (root / "repodata").mkdir()
    (root / "repodata" / "index").write_bytes(b"index")
    return root


@pytest.fixture
def image_list(tmp_path):
    path = tmp_path / "images.txt"
    path.write_text(
        "# platform images\nregistry.local:9001/stx/platform:25.09\n\n"
        "docker.io/library/busybox:1.36\n"
    )
    return path


def test_upload_list_show_delete(cli, packages, image_list):
    uploaded = cli.json(
        "release",
        "upload",
        "--version",
        "25.09",
        "--packages",
        str(packages),
        "--image-list",
        str(image_list),
    )
    assert uploaded == {
        "version": "25.09",
        "file_count": 3,
        "bytes": 8005,
        "image_count": 2,
        "created_at": uploaded["created_at"],
        "images": "registry.local:9001/stx/platform:25.09\ndocker.io/library/busybox:1.36",
        "blobs_uploaded": 3,
        "bytes_uploaded": 8005,
    }

    assert [(r["version"], r["file_count"]) for r in cli.json("release", "list")] == [("25.09", 3)]
    shown = cli.json("release", "show", "25.09")
    assert [f["path"] for f in shown["files"]] == [
        "Packages/a.deb",
        "Packages/b.deb",
        "repodata/index",
    ]
    assert shown["files"][0]["digest"] == "sha256:" + hashlib.sha256(b"a" * 5000).hexdigest()

    cli.ok("release", "delete", "25.09")
    assert cli.json("release", "list") == []


def test_second_release_sends_only_new_files(cli, packages):
    cli.json("release", "upload", "--version", "25.09", "--packages", str(packages))
    (packages / "Packages" / "c.deb").write_bytes(b"c" * 700)

    second = cli.json("release", "upload", "--version", "26.03", "--packages", str(packages))

    assert (second["file_count"], second["blobs_uploaded"], second["bytes_uploaded"]) == (4, 1, 700)


def test_same_bytes_in_two_files_are_sent_once(cli, tmp_path):
    root = tmp_path / "dup"
    root.mkdir()
    (root / "one").write_bytes(b"same")
    (root / "two").write_bytes(b"same")

    uploaded = cli.json("release", "upload", "--version", "25.09", "--packages", str(root))

    assert (uploaded["file_count"], uploaded["blobs_uploaded"]) == (2, 1)


def test_errors(cli, packages, tmp_path):
    cli.fail(
        "release",
        "upload",
        "--version",
        "25.09",
        "--packages",
        str(tmp_path / "nowhere"),
        message="not a directory",
    )
    cli.fail(
        "release",
        "upload",
        "--version",
        "2509",
        "--packages",
        str(packages),
        message="Invalid release version: expected MM.mm, e.g. 25.09",
    )
    (packages / "link").symlink_to(packages / "repodata" / "index")
    cli.fail(
        "release",
        "upload",
        "--version",
        "25.09",
        "--packages",
        str(packages),
        message="symbolic links cannot be uploaded",
    )
    cli.fail("release", "show", "30.01", message="Release 30.01 not found")
    cli.fail("release", "delete", "30.01", message="Release 30.01 not found")
    assert cli.json("release", "list") == []
