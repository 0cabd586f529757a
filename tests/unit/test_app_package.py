"""Application tarballs: what is read from them, and every way one is refused."""

import hashlib
import io
import tarfile

import pytest
import yaml

from dcmanager.apps import charts
from dcmanager.apps import package
from dcmanager.common import exception
from tests import apps

LIMITS = package.Limits(max_files=100, max_unpacked_bytes=10 * 1024**2)


def test_a_tarball_as_the_metadata_describes_it():
    data = apps.app_tarball(
        charts=(("demo-api", "0.1.0"), ("demo-db", "0.2.0")),
        metadata={
            "images": ["registry.local:9001/stx/demo:1.0.0"],
            "upgradable": False,
            "charts": [{"name": "demo-db", "release": "demo-database", "namespace": "db"}],
            "phases": {"install": {"values": {"manifests": {"job_db_init": True}}}},
        },
    )

    found = package.inspect(data, LIMITS)

    assert (found.name, found.version) == ("demo", "1.0.0")
    assert found.md5 == hashlib.md5(data).hexdigest()
    assert [(c.name, c.version, c.release, c.namespace) for c in found.charts] == [
        ("demo-api", "0.1.0", "demo-api", "demo"),
        ("demo-db", "0.2.0", "demo-database", "db"),
    ]
    assert found.images == ("registry.local:9001/stx/demo:1.0.0",)
    assert found.upgradable is False
    assert found.phases == {
        "install": {"values": {"manifests": {"job_db_init": True}}, "hooks": []}
    }


def test_chart_directories_and_one_top_directory_are_accepted():
    files = {"metadata.yaml": yaml.safe_dump({"app_name": "demo", "app_version": "2.0.0"}).encode()}
    files.update({f"charts/web/{p}": c for p, c in apps.chart_files("web", "1.2.3").items()})

    found = package.inspect(apps.packed(files, top="demo-2.0.0"), LIMITS)

    assert [(c.name, c.version, c.path) for c in found.charts] == [("web", "1.2.3", "charts/web")]


@pytest.mark.parametrize(
    ("metadata_name", "metadata_version", "name", "version", "expected"),
    [
        ("demo", "1.0.0", None, None, ("demo", "1.0.0")),
        (None, None, "demo", "1.0-13", ("demo", "1.0-13")),
        ("demo", None, "demo", "2.0.0", ("demo", "2.0.0")),
    ],
)
def test_the_upload_fills_what_the_metadata_lacks(
    metadata_name, metadata_version, name, version, expected
):
    data = apps.app_tarball(metadata_name, metadata_version)
    found = package.inspect(data, LIMITS, name, version)
    assert (found.name, found.version) == expected


def _tar_with(member: tarfile.TarInfo, content: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(member, io.BytesIO(content) if content else None)
    return buffer.getvalue()


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _file(name: str, size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def _device() -> tarfile.TarInfo:
    info = tarfile.TarInfo("dev/sda")
    info.type = tarfile.BLKTYPE
    return info


REFUSED = [
    (b"not a tarball", "not a gzipped tar archive"),
    (_tar_with(_file("/etc/passwd"), b"x"), "unsafe entry '/etc/passwd'"),
    (_tar_with(_file("../outside"), b"x"), "unsafe entry '../outside'"),
    (_tar_with(_link("charts/evil", "/etc/shadow")), "unsafe entry 'charts/evil'"),
    (_tar_with(_link("charts/evil", "../../x")), "unsafe entry 'charts/evil'"),
    (_tar_with(_device()), "unsafe entry 'dev/sda'"),
    (apps.packed({f"f{i}": b"x" for i in range(101)}), "more than 100 files"),
    (apps.packed({"big": b"x" * (10 * 1024**2 + 1)}), "unpacks to more than"),
    (apps.app_tarball(charts=()), "it holds no chart"),
    (apps.app_tarball(None, "1.0.0"), "no app_name in metadata.yaml"),
    (apps.app_tarball("demo", None), "no app_version in metadata.yaml"),
    (apps.app_tarball("Demo_App"), "app_name 'Demo_App' is not valid"),
    (apps.app_tarball(metadata={"images": "one"}), "images must be a list of strings"),
    (apps.app_tarball(metadata={"upgradable": "no"}), "upgradable must be true or false"),
    (
        apps.app_tarball(metadata={"charts": [{"name": "ghost"}]}),
        "places charts it does not hold: ghost",
    ),
    (
        apps.app_tarball(metadata={"phases": {"deploy": {}}}),
        "unknown phase 'deploy'",
    ),
    (
        apps.app_tarball(extra={"charts/broken-1.0.0.tgz": b"garbage"}),
        "Chart charts/broken-1.0.0.tgz",
    ),
]


# The ids are the messages: gzip bytes carry a timestamp, and pytest-xdist
# needs every worker to collect the same ids.
@pytest.mark.parametrize(("data", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_refused_with_the_reason(data, message):
    with pytest.raises(exception.Invalid) as caught:
        package.inspect(data, LIMITS)
    assert message in caught.value.message


def test_a_file_that_does_not_match_its_md5_is_refused():
    files = {
        "metadata.yaml": yaml.safe_dump({"app_name": "demo", "app_version": "1.0.0"}).encode(),
        "charts/a-1.0.0.tgz": apps.packaged_chart("a", "1.0.0"),
        "checksum.md5": b"0123456789abcdef0123456789abcdef  metadata.yaml\n",
    }
    with pytest.raises(package.PackageInvalid, match="metadata.yaml does not match its md5"):
        package.inspect(apps.packed(files), LIMITS)


def test_a_conflict_between_the_metadata_and_the_upload_is_refused():
    with pytest.raises(package.PackageInvalid, match="the upload says 'other'"):
        package.inspect(apps.app_tarball(), LIMITS, name="other")
    with pytest.raises(package.PackageInvalid, match="metadata says app_version '1.0.0'"):
        package.inspect(apps.app_tarball(), LIMITS, version="2.0.0")


@pytest.mark.skipif(not charts.helm_available(), reason="the helm extra is not installed")
def test_charts_are_loaded_by_helm():
    assert charts.helm_available()
    info = charts.load("x", apps.packaged_chart("web", "1.2.3", ("job-db-init",)))
    assert (info.name, info.version) == ("web", "1.2.3")
    assert "templates/job-db-init.yaml" in info.templates


def test_without_helm_a_chart_is_read_from_its_chart_yaml(monkeypatch):
    """The core service runs without the helm extra: charts are then read structurally,
    and rendering says what is missing."""
    monkeypatch.setattr(charts, "helm_python", None)
    archive = apps.packaged_chart("web", "1.2.3", ("job-db-init",))

    info = charts.load("charts/web-1.2.3.tgz", archive)

    assert (info.name, info.version) == ("web", "1.2.3")
    assert info.templates == ("templates/deployment.yaml", "templates/job-db-init.yaml")
    with pytest.raises(charts.ChartInvalid, match="no Chart.yaml"):
        charts.load("x", apps.packed({"README": b"x"}))
    with pytest.raises(charts.HelmUnavailable, match="install dcmanager\\[helm\\]"):
        charts.render(archive, {}, "web", "demo")


def test_two_charts_may_not_share_a_release_name_even_in_two_namespaces():
    data = apps.app_tarball(
        charts=(("web-a", "0.1.0"), ("web-b", "0.1.0")),
        metadata={
            "charts": [
                {"name": "web-a", "release": "web", "namespace": "ns1"},
                {"name": "web-b", "release": "web", "namespace": "ns2"},
            ]
        },
    )
    with pytest.raises(package.PackageInvalid, match="two charts would be the same Helm release"):
        package.inspect(data, LIMITS)
