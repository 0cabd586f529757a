"""The images phase: each image's manifest and blobs from the container registry, into
the blob store, then the references in ``releases/<version>/images.json``."""

import io
from typing import Any

from dcmanager.agent import images
from dcmanager.agent import records
from dcmanager.agent import statedir
from dcmanager.agent import transfer
from dcmanager.agent.phases import Context

NO_IMAGES = "the release has no image list: no images to prestage"


def run(context: Context) -> dict[str, Any]:
    """Fetch the blobs the blob store lacks, store the manifests, then write
    ``images.json`` (which makes the phase complete)."""
    record, registry = context.record, context.registry
    listed = context.release_store.release(record.release).get("images") or []
    # Applications' images after the release's, each once.
    names = list(dict.fromkeys([*listed, *record.images]))
    target = context.state.phase_file(record.release, records.IMAGES)
    if not names:
        statedir.write_json(target, {})
        return {"skipped": NO_IMAGES}
    manifests = registry.manifests(names)
    sizes: dict[str, int] = {}
    repository_of: dict[str, str] = {}
    for name, manifest in manifests.items():
        for blob in manifest.blobs:
            sizes[blob.digest] = blob.size
            repository_of.setdefault(blob.digest, images.parse(name).repository)
    missing = [d for d in sizes if not context.state.blobs.has(d)]
    fetcher = context.fetcher()
    record.artifacts_total = len(names)
    record.bytes_total = sum(sizes.values())
    record.bytes_done = record.bytes_total - sum(sizes[d] for d in missing)
    record.bytes_done += fetcher.resumed_bytes(missing, sizes)
    jobs = [
        transfer.Job(
            registry.get_blob,
            registry.blob_url(repository_of[d], d),
            d,
            sizes[d],
            f"image blob of {repository_of[d]}",
        )
        for d in missing
    ]
    context.fetch_all(fetcher, jobs, lambda digest: None)
    references = {}
    for name, manifest in manifests.items():
        context.state.blobs.put(manifest.digest, io.BytesIO(manifest.body), len(manifest.body))
        references[name] = {"manifest": manifest.digest, "media_type": manifest.media_type}
    record.artifacts_done = len(names)
    statedir.write_json(target, references)
    return {"bytes_transferred": fetcher.bytes_received, "blobs_transferred": len(missing)}
