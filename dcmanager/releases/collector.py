"""The collector of unused blobs (mark and sweep).

A blob no release names is removed once it has been left alone for ``[prestage]
blob_grace_seconds``: an upload puts blobs first and names them in a release after, and
an upload that was interrupted leaves blobs nobody names. The sweep runs under the
release store's lock (:func:`dcmanager.db.releases.store_locked`), which the creation
of a release takes too: a blob is never removed between the check that a new release's
blobs are stored and the release naming them. Uploading a blob that is stored already
renews its grace.
"""

import logging

from dcmanager.common import clock as clock_module
from dcmanager.db import releases as db_releases
from dcmanager.releases import store

LOG = logging.getLogger(__name__)


def sweep(
    blobs: store.BlobStore,
    grace_seconds: float,
    clock: clock_module.Clock = clock_module.SYSTEM,
) -> list[str]:
    """Remove the blobs no release names that were last written (or uploaded again)
    more than ``grace_seconds`` ago; their digests."""
    removed = []
    with db_releases.store_locked() as named:
        for digest in blobs.digests():
            if digest in named:
                continue
            age = clock.time() - blobs.modified(digest)
            if age >= grace_seconds:
                blobs.delete(digest)
                removed.append(digest)
    if removed:
        LOG.info("Release store: %d unused blobs removed", len(removed))
    return removed
