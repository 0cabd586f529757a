"""The packages phase: the release's files from the system controller's release store,
into the blob store, then into the site's deploy layout (:mod:`dcmanager.agent.layout`)."""

import os
import posixpath
import shutil
from typing import Any

from dcmanager.agent import layout
from dcmanager.agent import records
from dcmanager.agent import transfer
from dcmanager.agent.phases import Context
from dcmanager.releases import store


def run(context: Context) -> dict[str, Any]:
    """Fetch the files the blob store lacks, then put the release in the deploy layout
    with its manifest (which makes the phase complete)."""
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
    directory = layout.root(context.conf, record.for_install)
    try:
        layout.deploy(context.state.blobs, directory, record.release, paths, context.cancelled)
    except layout.NotOurs as exc:
        raise records.Failed(str(exc)) from None
    # What an agent of an earlier version linked into its state directory.
    shutil.rmtree(os.path.join(context.state.release(record.release), "packages"), True)
    return {
        "bytes_transferred": fetcher.bytes_received,
        "files_transferred": len(missing),
        "directory": os.path.join(directory, record.release),
    }


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
