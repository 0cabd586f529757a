"""The states of an application at a site (seed 000), as stored and rendered, and the
moves between them.

A site holds one record per version of an application it has had: the version it
runs (or is getting), and ``inactive`` records of the versions an update left behind
(kept with their release ledger, so that updating back to one is a Helm rollback).
"""

import enum
from collections.abc import Mapping


class AppStatus(enum.StrEnum):
    UPLOADING = "uploading"
    """The version's tarball is being put on the site."""
    UPLOADED = "uploaded"
    """On the site, not applied (never, or removed since)."""
    UPLOAD_FAILED = "upload-failed"
    APPLYING = "applying"
    APPLIED = "applied"
    APPLY_FAILED = "apply-failed"
    """An apply failed, or an update failed and so did its recovery: apply again."""
    UPDATING = "updating"
    """The version the site runs while an update to another version is under way."""
    RECOVERING = "recovering"
    """An update failed; the site is being brought back to this version."""
    REMOVING = "removing"
    REMOVE_FAILED = "remove-failed"
    INACTIVE = "inactive"
    """A version an update left behind, with the revisions it ran at."""


# Where an operator may start each operation from.
APPLY_FROM = frozenset(
    {AppStatus.UPLOADED, AppStatus.APPLIED, AppStatus.APPLY_FAILED, AppStatus.UPLOAD_FAILED}
)
UPDATE_FROM = frozenset({AppStatus.APPLIED})
REMOVE_FROM = frozenset({AppStatus.APPLIED, AppStatus.APPLY_FAILED, AppStatus.REMOVE_FAILED})
DELETE_FROM = frozenset(
    {AppStatus.UPLOADED, AppStatus.UPLOAD_FAILED, AppStatus.REMOVE_FAILED, AppStatus.INACTIVE}
)
# A record in one of these states has an operation under way.
BUSY = frozenset(
    {
        AppStatus.UPLOADING,
        AppStatus.APPLYING,
        AppStatus.UPDATING,
        AppStatus.RECOVERING,
        AppStatus.REMOVING,
    }
)

TRANSITIONS: Mapping[AppStatus, frozenset[AppStatus]] = {
    AppStatus.UPLOADING: frozenset(
        {AppStatus.UPLOADED, AppStatus.UPLOAD_FAILED, AppStatus.APPLYING, AppStatus.INACTIVE}
    ),
    AppStatus.UPLOADED: frozenset({AppStatus.APPLYING, AppStatus.UPLOADING}),
    AppStatus.UPLOAD_FAILED: frozenset({AppStatus.UPLOADING, AppStatus.APPLYING}),
    AppStatus.APPLYING: frozenset({AppStatus.APPLIED, AppStatus.APPLY_FAILED, AppStatus.INACTIVE}),
    AppStatus.APPLIED: frozenset({AppStatus.APPLYING, AppStatus.UPDATING, AppStatus.REMOVING}),
    AppStatus.APPLY_FAILED: frozenset({AppStatus.APPLYING, AppStatus.REMOVING}),
    # Applied again without Helm when the update failed before anything changed.
    AppStatus.UPDATING: frozenset({AppStatus.INACTIVE, AppStatus.RECOVERING, AppStatus.APPLIED}),
    AppStatus.RECOVERING: frozenset({AppStatus.APPLIED, AppStatus.APPLY_FAILED}),
    AppStatus.REMOVING: frozenset({AppStatus.UPLOADED, AppStatus.REMOVE_FAILED}),
    AppStatus.REMOVE_FAILED: frozenset({AppStatus.REMOVING}),
    AppStatus.INACTIVE: frozenset({AppStatus.APPLYING, AppStatus.UPLOADING}),
}


class InvalidAppTransition(Exception):
    """A move the table above does not allow: a bug, never user input."""


def check_transition(source: str, target: str) -> None:
    if AppStatus(target) not in TRANSITIONS[AppStatus(source)]:
        raise InvalidAppTransition(f"application: {source} -> {target}")
