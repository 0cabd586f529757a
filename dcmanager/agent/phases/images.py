"""The images phase: each image's manifest and blobs from the container registry, into
the blob store, then into the site's own registry when the agent has one
(``[agent] local_registry_url``), then the references in
``releases/<version>/images.json``."""

import io
import json
import os
from typing import Any

from dcmanager.agent import images
from dcmanager.agent import records
from dcmanager.agent import site_registry
from dcmanager.agent import statedir
from dcmanager.agent import transfer
from dcmanager.agent.phases import Context
from dcmanager.agent.site_registry import SiteRegistry
from dcmanager.releases import store

NO_IMAGES = "the release has no image list: no images to prestage"


def run(context: Context) -> dict[str, Any]:
    """Fetch the blobs the blob store lacks (of the images the site's registry lacks),
    store the manifests, push the images, then write ``images.json`` (which makes the
    phase complete)."""
    record, site = context.record, context.site_registry
    listed = context.release_store.release(record.release).get("images") or []
    # Applications' images after the release's, each once.
    names = list(dict.fromkeys([*listed, *record.images]))
    target = context.state.phase_file(record.release, records.IMAGES)
    if not names:
        statedir.write_json(target, {})
        return {"skipped": NO_IMAGES}
    manifests = context.registry.manifests(names)
    record.artifacts_total = len(names)
    at_site = set()
    if site is not None:
        at_site = {n for n, m in manifests.items() if site.has_image(images.parse(n), m)}
    wanted = {n: m for n, m in manifests.items() if n not in at_site}
    fetcher = context.fetcher()
    blobs_fetched = _fetch_blobs(context, fetcher, wanted)
    references = {}
    for name, manifest in manifests.items():
        context.state.blobs.put(manifest.digest, io.BytesIO(manifest.body), len(manifest.body))
        references[name] = {"manifest": manifest.digest, "media_type": manifest.media_type}
    result = {"bytes_transferred": fetcher.bytes_received, "blobs_transferred": blobs_fetched}
    if site is not None:
        _remember_pushed(context, site)
        record.artifacts_done = len(at_site)
        for name, manifest in wanted.items():
            site.push(images.parse(name), manifest, context.state.blobs.path)
            with context.progress_lock:
                record.artifacts_done += 1
        for name, manifest in manifests.items():
            image = images.parse(name)
            references[name]["site_image"] = (
                f"{site.url}/{image.repository}"
                f"{'@' if image.reference.startswith('sha256:') else ':'}"
                f"{site_registry.reference(image, manifest)}"
            )
        result.update(
            images_at_site=len(at_site),
            bytes_pushed=site.bytes_sent,
            blobs_pushed=site.blobs_sent,
            blobs_mounted=site.blobs_mounted,
        )
    record.artifacts_done = len(names)
    statedir.write_json(target, references)
    return result


def _fetch_blobs(
    context: Context, fetcher: transfer.Fetcher, manifests: dict[str, images.Manifest]
) -> int:
    """Fetch the blobs of ``manifests`` the blob store lacks; how many were missing."""
    record, registry = context.record, context.registry
    sizes: dict[str, int] = {}
    repository_of: dict[str, str] = {}
    for name, manifest in manifests.items():
        for blob in manifest.blobs:
            sizes[blob.digest] = blob.size
            repository_of.setdefault(blob.digest, images.parse(name).repository)
    missing = [d for d in sizes if not context.state.blobs.has(d)]
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
    return len(missing)


def _remember_pushed(context: Context, site: SiteRegistry) -> None:
    """Tell ``site`` which blobs earlier prestages pushed where (from every release's
    ``images.json`` and the manifests in the blob store), so that a layer shared with
    an image pushed before is mounted rather than sent again."""
    blobs = context.state.blobs
    for version in os.listdir(context.state.releases):
        try:
            with open(context.state.phase_file(version, records.IMAGES)) as handle:
                references = json.load(handle)
        except (OSError, ValueError):
            continue
        for name, entry in references.items() if isinstance(references, dict) else ():
            if not isinstance(entry, dict) or not entry.get("site_image"):
                continue  # not pushed to the site's registry
            try:
                repository = images.parse(name).repository
                with open(blobs.path(entry["manifest"]), "rb") as handle:
                    manifest = json.load(handle)
                digests = [manifest["config"]["digest"]]
                digests += [layer["digest"] for layer in manifest["layers"]]
            except (OSError, ValueError, KeyError, TypeError, images.ImageError, store.BlobError):
                continue  # a manifest the agent cannot read any more
            site.remember(repository, digests)
