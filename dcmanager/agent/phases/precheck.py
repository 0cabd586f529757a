"""The precheck phase: whether the subcloud can take the release, and how much of it
still has to come."""

from typing import Any

from dcmanager.agent import system
from dcmanager.agent.phases import Context


def run(context: Context) -> dict[str, Any]:
    """System information, plus the bytes the release still needs here."""
    record, blobs = context.record, context.state.blobs
    release = context.release_store.release(record.release)
    needed = {
        f["digest"]: f["size"] for f in release.get("files") or () if not blobs.has(f["digest"])
    }
    if release.get("images"):
        for manifest in context.registry.manifests(release["images"]).values():
            needed.update({b.digest: b.size for b in manifest.blobs if not blobs.has(b.digest)})
    # Fresh facts: the operator may just have cleared the alarm the last answer had.
    info = system.info(context.conf, context.state, max_age=0)
    info["needed_bytes"] = (
        0 if record.release in info["prestaged_versions"] else sum(needed.values())
    )
    return info
