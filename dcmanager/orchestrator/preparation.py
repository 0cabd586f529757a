"""Preparing a release's packages on the system controller, once per strategy.

It checks that every package file of the release is in the release store, whole
(present with the size the release records), so that no subcloud starts fetching a
release the controller cannot serve. ``[prestage] simulated_preparation_seconds`` and
``simulated_preparation_failures`` add a delay or a failure, to try out how strategies
handle them.
"""

import time

from oslo_config import cfg

from dcmanager.common import exception
from dcmanager.db import releases as db_releases
from dcmanager.releases import store

# How many missing files the failure names before it only counts the rest.
NAMED_MISSING = 3


class PreparationFailed(exception.DCManagerException):
    msg_fmt = "Preparing the packages of release %(release)s failed: %(reason)s"


def prepare(conf: cfg.ConfigOpts, release: str) -> None:
    """Prepare ``release``'s packages (blocking; runs once per strategy).

    :raises PreparationFailed: with the reason.
    """
    if conf.prestage.simulated_preparation_seconds:
        time.sleep(conf.prestage.simulated_preparation_seconds)
    if release in conf.prestage.simulated_preparation_failures:
        raise PreparationFailed(
            release=release, reason="simulated failure ([prestage] simulated_preparation_failures)"
        )
    try:
        files = db_releases.release_get(release).files or ()
    except exception.ReleaseNotFound:
        raise PreparationFailed(release=release, reason="it is not in the release store") from None
    blobs = store.BlobStore(conf.prestage.release_store)
    missing = [f.path for f in files if blobs.size(f.digest) != f.size]
    if missing:
        named = ", ".join(missing[:NAMED_MISSING])
        more = f" and {len(missing) - NAMED_MISSING} more" if len(missing) > NAMED_MISSING else ""
        raise PreparationFailed(
            release=release,
            reason=f"{len(missing)} package files are missing from the release store "
            f"({conf.prestage.release_store}): {named}{more}",
        )
