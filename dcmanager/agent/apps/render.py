"""The ``render`` backend: real Helm renders, Helm's release semantics kept on disk.

For sites whose manifests another tool applies (and for tests and the demo): every
operation renders each chart with real Helm (``dcmanager[helm]``) into the state
directory (:mod:`.releases`), one directory per revision. An install or upgrade is
one new revision: each lifecycle phase renders with its overlay above the user
values into ``phases/<phase>/`` (which jobs and resources it selects), and what the
last phase rendered is the revision's ``manifest/``. A rollback is a new revision with
the chart and values of the one it goes back to, as in Helm; a failed render records
a failed revision.
"""

import hashlib
import io
from typing import Any

from dcmanager.agent.apps import ChartRelease
from dcmanager.agent.apps import PhaseFailed
from dcmanager.agent.apps import releases
from dcmanager.apps import charts
from dcmanager.helm import maps
from dcmanager.releases import store


class RenderBackend:
    runs_rollback_phases = True

    def __init__(self, root: str, blobs: store.BlobStore) -> None:
        """
        :param root: where the records and manifests go (``<state_dir>/apps``).
        :param blobs: where each revision's chart archive is kept, by digest.
        """
        self.records = releases.ReleaseRecords(root)
        self.blobs = blobs

    def revision(self, namespace: str, release: str) -> int:
        deployed = self.records.deployed(namespace, release)
        return deployed["revision"] if deployed else 0

    def _render(
        self,
        archive: bytes,
        values: dict[str, Any],
        namespace: str,
        release: str,
        revision: int,
        phases: list[tuple[str, dict[str, Any]]],
    ) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
        """Each phase's render and the manifest (the last phase's); the values the
        manifest was rendered with.

        :raises PhaseFailed: Helm could not render a phase.
        """
        upgrade = revision > 1
        rendered: dict[str, dict[str, str]] = {}
        final = values
        for phase, overlay in phases or [("", {})]:
            final = maps.merge_maps(values, overlay)
            try:
                files = charts.render(archive, final, release, namespace, revision, upgrade)
            except charts.ChartInvalid as exc:
                raise PhaseFailed(phase or "render", exc.message) from None
            if phase:
                rendered[f"phases/{phase}"] = files
            rendered["manifest"] = files
        return rendered, final

    def _add(
        self,
        namespace: str,
        release: str,
        base: dict[str, Any],
        archive: bytes,
        user_values: dict[str, Any],
        phases: list[tuple[str, dict[str, Any]]],
        operation: str,
    ) -> int:
        history = self.records.history(namespace, release)
        if history and history[-1].get("operation") == operation:
            # This operation made the release's last revision before the agent
            # stopped: it is not made twice.
            done = history[-1]
            if done["status"] == releases.FAILED:
                raise PhaseFailed(done["failed_phase"], done["error"])
            return done["revision"]
        revision = self.records.next_revision(namespace, release)
        entry = {
            **base,
            "revision": revision,
            "chart_digest": self._put(archive),
            "user_values": user_values,
            "operation": operation,
        }
        try:
            rendered, values = self._render(
                archive, user_values, namespace, release, revision, phases
            )
        except PhaseFailed as exc:
            failed = {"status": releases.FAILED, "error": exc.reason, "failed_phase": exc.phase}
            self.records.add(namespace, release, {**entry, **failed}, {})
            raise
        entry.update(status=releases.DEPLOYED, values=values, phases=[p for p, _ in phases])
        self.records.add(namespace, release, entry, rendered)
        return revision

    def install_or_upgrade(
        self,
        chart: ChartRelease,
        phases: list[tuple[str, dict[str, Any]]],
        app: str,
        version: str,
        operation: str,
    ) -> int:
        base = {
            "chart": chart.entry.name,
            "chart_version": chart.entry.version,
            "app": app,
            "app_version": version,
        }
        return self._add(
            chart.namespace,
            chart.release,
            base,
            chart.archive,
            chart.user_values,
            phases,
            operation,
        )

    def rollback(
        self, namespace: str, release: str, revision: int, phases: list, operation: str
    ) -> int:
        earlier = self.records.revision(namespace, release, revision)
        if earlier is None or earlier["status"] == releases.FAILED:
            raise PhaseFailed(
                "rollback", f"release {release} has no revision {revision} to roll back to"
            )
        base = {k: earlier[k] for k in ("chart", "chart_version", "app", "app_version")}
        base["rolled_back_to"] = revision
        archive = self._read(earlier["chart_digest"])
        return self._add(
            namespace, release, base, archive, earlier["user_values"], phases, operation
        )

    def uninstall(self, namespace: str, release: str, phases: list) -> None:
        deployed = self.records.deployed(namespace, release)
        if deployed is None:
            self.records.uninstall(namespace, release)
            return
        if phases:
            rendered, _ = self._render(
                self._read(deployed["chart_digest"]),
                deployed["user_values"],
                namespace,
                release,
                deployed["revision"],
                phases,
            )
            # What the uninstall phase selected (its jobs, for the tool that applies
            # the manifests) outlives the release's history.
            self.records.keep_uninstalled(namespace, release, deployed["revision"], rendered)
        self.records.uninstall(namespace, release)

    def _put(self, archive: bytes) -> str:
        digest = store.DIGEST_PREFIX + hashlib.sha256(archive).hexdigest()
        self.blobs.put(digest, io.BytesIO(archive), len(archive))
        return digest

    def _read(self, digest: str) -> bytes:
        with open(self.blobs.path(digest), "rb") as handle:
            return handle.read()
