"""The packages phase: the release's files from the system controller's release store,
into the blob store, then linked into ``releases/<version>/packages``."""

import os
import posixpath
import shutil
import tempfile
from typing import Any

from dcmanager.agent import records
from dcmanager.agent import statedir
from dcmanager.agent import transfer
from dcmanager.agent.phases import Context
from dcmanager.releases import store


def run(context: Context) -> dict[str, Any]:
    """Fetch the files the blob store lacks, link the tree, then write ``packages.json``
    (which makes the phase complete)."""
    record, release_store = context.record, context.release_store
    files = release_store.release(record.release).get("files") or []
    paths = {safe_path(f.get("path")): f for f in files}
    sizes = {f["digest"]: f["size"] for f in files}
    for digest in sizes:
        store.parse_digest(digest)
    files_of: dict[str, list[dict]] = {}
    for f in files:
        files_of.setdefault(f["digest"], []).append(f)
    missing = [d for d in sizes if not context.state.blobs.has(d)]
    fetcher = context.fetcher()
    record.artifacts_total = len(files)
    record.artifacts_done = sum(len(files_of[d]) for d in sizes if d not in missing)
    record.bytes_total = sum(sizes.values())
    record.bytes_done = record.bytes_total - sum(sizes[d] for d in missing)
    record.bytes_done += fetcher.resumed_bytes(missing, sizes)

    def done(digest: str) -> None:
        with context.progress_lock:
            record.artifacts_done += len(files_of[digest])

    jobs = [
        transfer.Job(
            release_store.get_blob,
            release_store.blob_url(digest),
            digest,
            sizes[digest],
            files_of[digest][0]["path"],
        )
        for digest in missing
    ]
    context.fetch_all(fetcher, jobs, done)
    _link_tree(context.state, record.release, paths)
    statedir.write_json(
        context.state.phase_file(record.release, records.PACKAGES),
        [{"path": p, "size": f["size"], "digest": f["digest"]} for p, f in paths.items()],
    )
    return {"bytes_transferred": fetcher.bytes_received, "files_transferred": len(missing)}


def safe_path(path: Any) -> str:
    """A manifest path as a relative path inside the release tree.

    :raises records.Failed: absolute, empty, or climbing out with ``..``.
    """
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path:
        raise records.Failed(f"the release manifest has an unsafe path: {path!r}")
    normal = posixpath.normpath(path)
    if normal != path or normal.startswith("..") or "/../" in f"/{normal}/":
        raise records.Failed(f"the release manifest has an unsafe path: {path!r}")
    return normal


def _link_tree(state: statedir.StateDir, version: str, paths: dict[str, dict]) -> None:
    """``releases/<version>/packages``: the release's files, as hard links to blobs
    (built aside, then swapped in)."""
    directory = state.release(version)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    building = tempfile.mkdtemp(dir=directory, prefix=".packages-")
    try:
        for path, entry in paths.items():
            target = os.path.join(building, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.link(state.blobs.path(entry["digest"]), target)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
        raise
    final = os.path.join(directory, "packages")
    if os.path.exists(final):
        old = tempfile.mkdtemp(dir=directory, prefix=".old-")
        os.replace(final, os.path.join(old, "packages"))
        os.replace(building, final)
        shutil.rmtree(old)
    else:
        os.replace(building, final)
