"""The application operations at the site (seed 000), run through the configured
backend (:mod:`dcmanager.agent.apps`).

``app-upload`` fetches the version's tarball from the system controller's store into
the blob store (by digest, resumable) and links it as ``apps/files/<app>/<version>.tgz``;
the others read the charts from it. Each answers the releases' new ledger
(``releases``: release, namespace, chart, chart version, revision) and the state of
every phase it ran (``phases``); a failure reports the phases too.
"""

import os
from typing import Any

from dcmanager.agent import records
from dcmanager.agent import transfer
from dcmanager.agent.apps import ChartRelease
from dcmanager.agent.apps import PhaseFailed
from dcmanager.agent.apps import kube
from dcmanager.agent.apps import render
from dcmanager.agent.phases import Context
from dcmanager.apps import package


def _backend(context: Context):
    agent = context.conf.agent
    if agent.app_backend == "helm":
        return kube.KubeBackend(agent.kubeconfig, agent.helm_timeout)
    return render.RenderBackend(os.path.join(context.state.root, "apps"), context.state.blobs)


def _files_path(context: Context, app: str, version: str) -> str:
    return os.path.join(context.state.root, "apps", "files", app, f"{version}.tgz")


def _tarball(context: Context) -> bytes:
    """The version's tarball, fetched into the blob store unless it is there."""
    request, blobs = context.record.app, context.state.blobs
    digest = request["digest"]
    if not blobs.has(digest):
        store = context.release_store
        job = transfer.Job(
            store.get_blob, store.blob_url(digest), digest, None, f"{request['app']} tarball"
        )
        context.fetch_all(context.fetcher(), [job], lambda done: None)
    with open(blobs.path(digest), "rb") as handle:
        return handle.read()


def _charts(context: Context, version: str | None = None) -> dict[str, tuple]:
    request, agent = context.record.app, context.conf.agent
    limits = package.Limits(agent.app_max_files, agent.app_max_unpacked_bytes)
    try:
        return package.charts_of(
            _tarball(context), limits, request["app"], version or request["version"]
        )
    except package.PackageInvalid as exc:
        raise records.Failed(exc.message) from None


def _phases(request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(phase, request["phase_values"].get(phase, {})) for phase in request["phases"]]


def _ledger_entry(release: dict[str, Any], revision: int) -> dict[str, Any]:
    keys = ("release", "namespace", "chart", "chart_version")
    return {**{key: release[key] for key in keys}, "revision": revision}


def _run_releases(context: Context, each) -> dict[str, Any]:
    """``each(release)`` for every release of the request (its new revision); the
    result, or :class:`records.Failed` with the phases' states."""
    request = context.record.app
    ledger = []
    for release in request["releases"]:
        try:
            ledger.append(_ledger_entry(release, each(release)))
        except PhaseFailed as exc:
            states = {}
            for phase in request["phases"]:
                states[phase] = "failed" if phase == exc.phase else "done"
                if phase == exc.phase:
                    break
            # The releases touched so far, this one not deployed (revision 0): the
            # controller keeps them, so that a removal uninstalls them.
            ledger.append(_ledger_entry(release, 0))
            raise records.Failed(str(exc), {"phases": states, "releases": ledger}) from None
        except kube.ClusterUnreachable as exc:
            raise records.Failed(str(exc)) from None
    return {"releases": ledger, "phases": dict.fromkeys(request["phases"], "done")}


def upload(context: Context) -> dict[str, Any]:
    request = context.record.app
    _charts(context)  # the tarball is whole and sound before it counts as uploaded
    link = _files_path(context, request["app"], request["version"])
    os.makedirs(os.path.dirname(link), mode=0o700, exist_ok=True)
    if not os.path.exists(link):
        os.link(context.state.blobs.path(request["digest"]), link)
    return {"phases": {}}


def _install(
    backend, request: dict[str, Any], charts: dict, release: dict[str, Any], operation: str
) -> int:
    """Install or upgrade one release of the request from the version's chart."""
    entry, archive = charts[release["release"]]
    chart = ChartRelease(
        release["release"],
        release["namespace"],
        entry,
        archive,
        request["values"].get(release["release"], {}),
    )
    return backend.install_or_upgrade(
        chart, _phases(request), request["app"], request["version"], operation
    )


def apply(context: Context) -> dict[str, Any]:
    request, backend = context.record.app, _backend(context)
    charts = _charts(context)

    return _run_releases(
        context, lambda release: _install(backend, request, charts, release, context.record.id)
    )


def rollback(context: Context) -> dict[str, Any]:
    """Back to each release's ``to_revision``; a release without one is installed from
    the version's charts (it was not at the site any more). A recovery is a rollback
    to the old version's revisions, then the new version's releases go."""
    request, backend = context.record.app, _backend(context)
    charts = None

    def each(release: dict[str, Any]) -> int:
        nonlocal charts
        if release.get("to_revision"):
            return backend.rollback(
                release["namespace"],
                release["release"],
                release["to_revision"],
                _phases(request),
                context.record.id,
            )
        charts = charts or _charts(context)
        return _install(backend, request, charts, release, context.record.id)

    result = _run_releases(context, each)
    if not backend.runs_rollback_phases:
        result["phases"] = dict.fromkeys(request["phases"], "skipped")
    try:
        _uninstall(backend, request["uninstall"])
    except (PhaseFailed, kube.ClusterUnreachable) as exc:
        raise records.Failed(str(exc), result) from None
    return result


def _uninstall(backend, releases: list[dict[str, str]]) -> None:
    for release in releases:
        backend.uninstall(release["namespace"], release["release"], [])


def cleanup(context: Context) -> dict[str, Any]:
    """The old version's releases the new one lacks are uninstalled, its file goes."""
    request, backend = context.record.app, _backend(context)
    try:
        _uninstall(backend, request["uninstall"])
    except (PhaseFailed, kube.ClusterUnreachable) as exc:
        raise records.Failed(str(exc)) from None
    if request.get("old_version"):
        old = _files_path(context, request["app"], request["old_version"])
        if os.path.exists(old):
            os.unlink(old)
    return {"phases": {}}


def remove(context: Context) -> dict[str, Any]:
    request, backend = context.record.app, _backend(context)
    try:
        for release in request["releases"]:
            backend.uninstall(release["namespace"], release["release"], _phases(request))
    except PhaseFailed as exc:
        raise records.Failed(str(exc), {"phases": {exc.phase: "failed"}}) from None
    except kube.ClusterUnreachable as exc:
        raise records.Failed(str(exc)) from None
    return {"phases": dict.fromkeys(request["phases"], "done")}


RUNS = {
    "app-upload": upload,
    "app-apply": apply,
    "app-rollback": rollback,
    "app-recover": rollback,
    "app-cleanup": cleanup,
    "app-remove": remove,
}
