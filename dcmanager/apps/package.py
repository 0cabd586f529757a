"""An application tarball, checked before anything of it is kept.

The tarball (``.tgz``) holds at its root (or under one top directory):

- ``metadata.yaml``: ``app_name``, ``app_version``; optionally ``upgradable`` (false: no
  update away from this version), ``upgrades`` (kept as given), ``images`` (the
  container images the application needs), ``charts`` (per chart name, its Helm
  ``release`` and ``namespace``) and ``phases`` (see :mod:`dcmanager.apps.phases`);
- ``charts/``: the Helm charts, packaged (``.tgz``) or as chart directories, each loaded
  (with real Helm when it is installed, :mod:`dcmanager.apps.charts`);
- ``checksum.md5`` (optional, md5sum's format, paths from the root): every file it
  names must be there with that md5.

Extraction is safe: no absolute path, no ``..``, no link leading out of the tree, no
device or FIFO, at most ``max_files`` files and ``max_unpacked_bytes`` bytes unpacked,
all in memory. The name and version given with the upload (``--app-name``,
``--app-version``) fill what the metadata lacks; a conflict between them is refused.
"""

import dataclasses
import hashlib
import io
import posixpath
import re
import tarfile
from typing import Any

import yaml

from dcmanager.apps import charts as app_charts
from dcmanager.apps import phases as app_phases
from dcmanager.common import exception

METADATA = "metadata.yaml"
CHECKSUMS = "checksum.md5"
CHARTS_DIR = "charts/"
# Application and release names: what Helm accepts as a release name.
NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?")
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")
_MD5_LINE = re.compile(r"([0-9a-fA-F]{32}) [ *](.+)")


class PackageInvalid(exception.Invalid):
    msg_fmt = "Invalid application tarball: %(reason)s"


@dataclasses.dataclass(frozen=True)
class Limits:
    max_files: int
    max_unpacked_bytes: int


@dataclasses.dataclass(frozen=True)
class ChartEntry:
    name: str
    version: str
    release: str
    namespace: str
    path: str
    """Where the packaged chart is in the tarball (``charts/x-1.0.0.tgz``); a chart
    directory is packed, and its path is the directory's."""


@dataclasses.dataclass(frozen=True)
class Package:
    name: str
    version: str
    md5: str
    charts: tuple[ChartEntry, ...]
    images: tuple[str, ...]
    upgradable: bool
    upgrades: dict[str, Any]
    phases: dict[str, Any]

    def metadata(self) -> dict[str, Any]:
        """What is kept of it besides the tarball itself."""
        return {
            "charts": [dataclasses.asdict(chart) for chart in self.charts],
            "images": list(self.images),
            "upgradable": self.upgradable,
            "upgrades": self.upgrades,
            "phases": self.phases,
        }


def inspect(
    data: bytes, limits: Limits, name: str | None = None, version: str | None = None
) -> Package:
    """Check an application tarball.

    :param name: the name given with the upload (fills or must equal ``app_name``).
    :param version: the version given with the upload (the same for ``app_version``).
    :raises PackageInvalid: saying what is wrong; nothing is kept.
    """
    files, archives = _unpack(data, limits)
    _check_checksums(files)
    metadata = _metadata(files)
    app_name = _identity("name", metadata.get("app_name"), name, NAME_RE)
    app_version = _identity("version", metadata.get("app_version"), version, VERSION_RE)
    return Package(
        name=app_name,
        version=app_version,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        charts=_charts(files, archives, metadata, app_name),
        images=tuple(_strings(metadata, "images")),
        upgradable=_flag(metadata, "upgradable", default=True),
        upgrades=_mapping(metadata, "upgrades"),
        phases=app_phases.validate(metadata.get("phases")),
    )


def charts_of(
    data: bytes, limits: Limits, name: str, version: str
) -> dict[str, tuple[ChartEntry, bytes]]:
    """Each chart of a (checked) tarball with its packaged archive, by release name:
    what a site renders or installs.

    :raises PackageInvalid: as :func:`inspect`.
    """
    files, archives = _unpack(data, limits)
    package = inspect(data, limits, name, version)
    found = {**files, **archives}
    return {entry.release: (entry, found[entry.path]) for entry in package.charts}


def _unpack(data: bytes, limits: Limits) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The regular files by path (one common top directory removed), and the chart
    directories packed as archives by their path."""
    files: dict[str, bytes] = {}
    unpacked = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tarball:
            for count, member in enumerate(tarball, start=1):
                if count > limits.max_files:
                    raise PackageInvalid(reason=f"more than {limits.max_files} files")
                if member.name.startswith("/"):
                    raise PackageInvalid(reason=f"unsafe entry {member.name!r}: absolute path")
                try:
                    member = tarfile.data_filter(member, "/app")
                except tarfile.FilterError as exc:
                    raise PackageInvalid(reason=f"unsafe entry {member.name!r}: {exc}") from None
                if not member.isfile():
                    continue
                unpacked += member.size
                if unpacked > limits.max_unpacked_bytes:
                    raise PackageInvalid(
                        reason=f"it unpacks to more than {limits.max_unpacked_bytes} bytes"
                    )
                files[posixpath.normpath(member.name)] = tarball.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise PackageInvalid(reason=f"not a gzipped tar archive ({exc})") from None
    files = _strip_top_directory(files)
    return files, _pack_chart_directories(files)


def _strip_top_directory(files: dict[str, bytes]) -> dict[str, bytes]:
    if METADATA in files or not files:
        return files
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        return {path.split("/", 1)[1]: content for path, content in files.items()}
    return files


def _pack_chart_directories(files: dict[str, bytes]) -> dict[str, bytes]:
    """``charts/<dir>/`` trees with a ``Chart.yaml``, each as a packaged chart."""
    directories = {
        path[: -len("/Chart.yaml")]
        for path in files
        if path.startswith(CHARTS_DIR) and path.count("/") == 2 and path.endswith("/Chart.yaml")
    }
    archives = {}
    for directory in sorted(directories):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as packed:
            for path in sorted(p for p in files if p.startswith(directory + "/")):
                info = tarfile.TarInfo(posixpath.basename(directory) + path[len(directory) :])
                info.size = len(files[path])
                packed.addfile(info, io.BytesIO(files[path]))
        archives[directory] = buffer.getvalue()
    return archives


def _check_checksums(files: dict[str, bytes]) -> None:
    if CHECKSUMS not in files:
        return
    for number, line in enumerate(files[CHECKSUMS].decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        match = _MD5_LINE.fullmatch(line.strip())
        if match is None:
            raise PackageInvalid(reason=f"{CHECKSUMS} line {number} is not '<md5>  <path>'")
        expected, path = match.group(1).lower(), posixpath.normpath(match.group(2))
        if path not in files:
            raise PackageInvalid(reason=f"{CHECKSUMS} names {path}, which is not in it")
        if hashlib.md5(files[path], usedforsecurity=False).hexdigest() != expected:
            raise PackageInvalid(reason=f"{path} does not match its md5 in {CHECKSUMS}")


def _metadata(files: dict[str, bytes]) -> dict[str, Any]:
    if METADATA not in files:
        return {}
    try:
        metadata = yaml.safe_load(files[METADATA])
    except yaml.YAMLError as exc:
        raise PackageInvalid(reason=f"{METADATA} is not YAML ({exc})") from None
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise PackageInvalid(reason=f"{METADATA} is not a mapping")
    return metadata


def _identity(field: str, stated: Any, given: str | None, pattern: re.Pattern) -> str:
    """The application's name or version: from the metadata, the upload, or both when
    they agree."""
    if stated is not None and not isinstance(stated, str):
        stated = str(stated)
    if stated and given and stated != given:
        raise PackageInvalid(
            reason=f"its metadata says app_{field} {stated!r}, the upload says {given!r}"
        )
    value = stated or given
    if not value:
        raise PackageInvalid(reason=f"no app_{field} in {METADATA}, and none given with the upload")
    if not pattern.fullmatch(value):
        raise PackageInvalid(reason=f"app_{field} {value!r} is not valid")
    return value


def _strings(metadata: dict[str, Any], key: str) -> list[str]:
    value = metadata.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise PackageInvalid(reason=f"{key} must be a list of strings")
    return value


def _flag(metadata: dict[str, Any], key: str, default: bool) -> bool:
    value = metadata.get(key, default)
    if not isinstance(value, bool):
        raise PackageInvalid(reason=f"{key} must be true or false")
    return value


def _mapping(metadata: dict[str, Any], key: str) -> dict[str, Any]:
    value = metadata.get(key) or {}
    if not isinstance(value, dict):
        raise PackageInvalid(reason=f"{key} must be a mapping")
    return value


def _charts(
    files: dict[str, bytes], archives: dict[str, bytes], metadata: dict[str, Any], app: str
) -> tuple[ChartEntry, ...]:
    packaged = {
        path: content
        for path, content in files.items()
        if path.startswith(CHARTS_DIR) and path.count("/") == 1 and path.endswith(".tgz")
    }
    found = {**packaged, **archives}
    if not found:
        raise PackageInvalid(reason="it holds no chart (charts/*.tgz or charts/<dir>/)")
    placement = _placement(metadata)
    entries = []
    for path in sorted(found):
        info = app_charts.load(path, found[path])
        where = placement.pop(info.name, {})
        entries.append(
            ChartEntry(
                name=info.name,
                version=info.version,
                release=_release_name(where.get("release", info.name), info.name),
                namespace=_release_name(where.get("namespace", app), info.name),
                path=path,
            )
        )
    if placement:
        raise PackageInvalid(
            reason=f"{METADATA} places charts it does not hold: {', '.join(sorted(placement))}"
        )
    # A release is named by its name alone across the application (its overrides,
    # ledger and revisions), even in two namespaces.
    releases = [entry.release for entry in entries]
    if len(set(releases)) != len(releases):
        raise PackageInvalid(reason="two charts would be the same Helm release")
    return tuple(entries)


def _placement(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    value = metadata.get("charts") or []
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in value
    ):
        raise PackageInvalid(reason="charts must be a list of {name, release, namespace}")
    return {item["name"]: item for item in value}


def _release_name(value: Any, chart: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise PackageInvalid(reason=f"chart {chart}: {value!r} is not a Helm release name")
    return value
