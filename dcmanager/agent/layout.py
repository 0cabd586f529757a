"""Where prestaged packages land: the site's deploy layout.

A prestage for software deployment puts a release's packages in
``<[agent] software_dir>/<release>`` (StarlingX: ``/opt/software/<release>``), one for
install in ``<[agent] platform_backup_dir>/<release>`` (``/opt/platform-backup/...``),
with the release's manifest beside the directory as ``<release>.manifest.json``
(``{"release", "files": [{"path", "size", "digest"}]}``).

A release directory appears whole or not at all: it is built under a hidden name in
the same parent (hard links to the agent's blobs when they share a filesystem, copies
otherwise) and renamed into place; the manifest is written after it. Every directory
the agent writes holds a ``.dcmanager-prestage`` marker: one without it (put there by
someone else) is never replaced. Two operations of one release deploy in turn. A release counts
as there when its manifest is beside it and every file it lists is present with its
size; a directory left half-built by a killed agent is hidden, never counted, and
removed by the next prestage of that release.
"""

import errno
import glob
import json
import os
import shutil
import tempfile
import threading
from typing import Any

from oslo_config import cfg

from dcmanager.agent import records
from dcmanager.agent import statedir
from dcmanager.agent import transfer
from dcmanager.releases import store

MANIFEST_SUFFIX = ".manifest.json"
MARKER = ".dcmanager-prestage"
"""In every release directory the agent writes: a directory without it is not the
agent's to replace."""
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def root(conf: cfg.ConfigOpts, for_install: bool) -> str:
    """The directory a prestage of that kind writes releases into."""
    return conf.agent.platform_backup_dir if for_install else conf.agent.software_dir


def manifest_path(directory: str, release: str) -> str:
    return os.path.join(directory, release + MANIFEST_SUFFIX)


class NotOurs(Exception):
    """The release's directory exists but was not written by the agent."""


def _lock(directory: str, release: str) -> threading.Lock:
    """Held while a release is deployed: two operations of one release (an aborted one
    whose cancel did not arrive, and the next) take turns."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((os.path.abspath(directory), release), threading.Lock())


def deploy(
    blobs: store.BlobStore,
    directory: str,
    release: str,
    files: dict[str, dict[str, Any]],
    cancelled: threading.Event,
) -> None:
    """Put ``files`` (path → ``{size, digest}``, every blob in ``blobs``) into
    ``<directory>/<release>`` whole, then its manifest beside it.

    :raises OSError: the directory cannot be written (nothing half-built stays visible).
    :raises NotOurs: a directory of that name exists that the agent did not write.
    :raises transfer.Cancelled: ``cancelled`` was set meanwhile (nothing changed).
    """
    with _lock(directory, release):
        os.makedirs(directory, mode=0o755, exist_ok=True)
        final = os.path.join(directory, release)
        if os.path.lexists(final) and not os.path.exists(os.path.join(final, MARKER)):
            raise NotOurs(
                f"{final} exists and was not written by dcmanager-agent: move it away to "
                "prestage this release there"
            )
        _remove_leftovers(directory, release)
        building = _build(blobs, directory, release, files, cancelled)
        _swap(directory, release, building, files)


def _build(
    blobs: store.BlobStore,
    directory: str,
    release: str,
    files: dict[str, dict[str, Any]],
    cancelled: threading.Event,
) -> str:
    """The release's tree under a hidden name beside its place, with the marker."""
    building = tempfile.mkdtemp(dir=directory, prefix=f".{release}.building-")
    try:
        for path, entry in files.items():
            if cancelled.is_set():
                raise transfer.Cancelled()
            target = os.path.join(building, path)
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            _place(blobs.path(entry["digest"]), target)
        with open(os.path.join(building, MARKER), "w") as marker:
            marker.write(f"{release}\n")
        os.chmod(building, 0o755)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return building


def _swap(directory: str, release: str, building: str, files: dict[str, dict[str, Any]]) -> None:
    manifest = manifest_path(directory, release)
    if os.path.exists(manifest):
        os.unlink(manifest)  # the old manifest must never describe the new tree
    final = os.path.join(directory, release)
    if os.path.lexists(final):
        old = tempfile.mkdtemp(dir=directory, prefix=f".{release}.old-")
        os.replace(final, os.path.join(old, release))
        os.replace(building, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(building, final)
    listed = [{"path": p, "size": e["size"], "digest": e["digest"]} for p, e in files.items()]
    statedir.write_json(manifest, {"release": release, "files": listed})
    os.chmod(manifest, 0o644)


def _remove_leftovers(directory: str, release: str) -> None:
    """What a killed agent left half-done for ``release`` (hidden, never counted)."""
    for prefix in (f".{release}.building-", f".{release}.old-"):
        for path in glob.glob(os.path.join(glob.escape(directory), glob.escape(prefix) + "*")):
            shutil.rmtree(path, ignore_errors=True)


def _place(blob: str, target: str) -> None:
    """A hard link to the blob, or a copy (synced) where links cannot go."""
    try:
        os.link(blob, target)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
    shutil.copyfile(blob, target)
    with open(target, "rb+") as copied:
        os.fsync(copied.fileno())
    os.chmod(target, 0o644)


def is_deployed(directory: str, release: str) -> bool:
    """Whether ``<directory>/<release>`` holds every file its manifest lists, with its
    size."""
    try:
        with open(manifest_path(directory, release)) as handle:
            files = json.load(handle)["files"]
        base = os.path.join(directory, release)
        return os.path.isdir(base) and all(
            os.path.getsize(os.path.join(base, entry["path"])) == entry["size"] for entry in files
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def deployed_releases(conf: cfg.ConfigOpts) -> dict[str, list[str]]:
    """The releases whole in the deploy layout: ``{release: ["software",
    "platform-backup"]}`` (where each is)."""
    found: dict[str, list[str]] = {}
    for where, directory in (
        ("software", conf.agent.software_dir),
        ("platform-backup", conf.agent.platform_backup_dir),
    ):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in sorted(names):
            release = name[: -len(MANIFEST_SUFFIX)]
            if name.endswith(MANIFEST_SUFFIX) and is_deployed(directory, release):
                found.setdefault(release, []).append(where)
    return found


def prestaged_versions(conf: cfg.ConfigOpts, state: statedir.StateDir) -> list[str]:
    """The releases really at the site: packages whole in the deploy layout, and the
    images phase complete (``releases/<version>/images.json``)."""
    return sorted(
        release
        for release in deployed_releases(conf)
        if os.path.exists(state.phase_file(release, records.IMAGES))
    )
