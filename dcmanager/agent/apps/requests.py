"""The application part of a request to start an operation (``"app": {...}``),
checked before anything runs: names that become file names and Helm release names,
the tarball's digest, and the shapes of the rest."""

from typing import Any

from dcmanager.apps import package
from dcmanager.apps import phases as app_phases
from dcmanager.releases import store

# The operations that never read the version's tarball (and may name none).
NO_TARBALL = ("app-cleanup", "app-remove")


def problems(kind: str, app: Any) -> list[str]:
    """What is wrong with ``app``, the request of a ``kind`` operation (empty if
    nothing)."""
    if not isinstance(app, dict):
        return ["'app' must be an object"]
    found = []
    if not isinstance(app.get("app"), str) or not package.NAME_RE.fullmatch(app["app"]):
        found.append("'app.app' must be an application name")
    for key in ("version", "old_version"):
        value = app.get(key)
        if (value is not None or key == "version") and (
            not isinstance(value, str) or not package.VERSION_RE.fullmatch(value)
        ):
            found.append(f"'app.{key}' must be an application version")
    digest = app.get("digest")
    if not (kind in NO_TARBALL and digest == ""):
        try:
            store.parse_digest(digest if isinstance(digest, str) else "")
        except store.BlobError:
            found.append("'app.digest' must be a sha256 digest")
    found += _release_problems(app.get("releases"))
    phases = app.get("phases")
    if not isinstance(phases, list) or any(p not in app_phases.PHASES for p in phases):
        found.append(f"'app.phases' must be a list of {', '.join(app_phases.PHASES)}")
    for key in ("values", "phase_values"):
        if not isinstance(app.get(key), dict) or not all(
            isinstance(v, dict) for v in app[key].values()
        ):
            found.append(f"'app.{key}' must map names to objects")
    if _release_problems(app.get("uninstall")):
        found.append("'app.uninstall' must be a list of {release, namespace} (Helm names)")
    return found


def _release_problems(releases: Any) -> list[str]:
    if not isinstance(releases, list) or not all(isinstance(r, dict) for r in releases):
        return ["'app.releases' must be a list of objects"]
    for release in releases:
        names_ok = all(
            isinstance(release.get(k), str) and package.NAME_RE.fullmatch(release[k])
            for k in ("release", "namespace")
        )
        numbers_ok = all(
            isinstance(release.get(k, 0), int) and not isinstance(release.get(k, 0), bool)
            for k in ("revision", "to_revision")
        )
        if not names_ok or not numbers_ok:
            return [
                "'app.releases' entries need a release and namespace (Helm names) and "
                "integer revisions"
            ]
    return []
