"""Applications at the site: the agent's backends for Helm releases.

One interface (:class:`Backend`), chosen by ``[agent] app_backend``:

``render``
    real Helm renders every chart with the combined values into the state directory,
    keeping Helm's release semantics durably (:mod:`.render`);
``helm``
    real Helm against the site's Kubernetes cluster (``[agent] kubeconfig``):
    install, upgrade, rollback, uninstall, with the releases in Helm's own storage
    (:mod:`.kube`).
"""

import dataclasses
from typing import Any
from typing import Protocol

from dcmanager.apps import package


@dataclasses.dataclass(frozen=True)
class ChartRelease:
    """One release of an application version at the site, with its chart."""

    release: str
    namespace: str
    entry: package.ChartEntry
    archive: bytes
    user_values: dict[str, Any]
    """The operator's overrides of the chart (below any phase overlay)."""


class PhaseFailed(Exception):
    """A lifecycle phase failed; the message is why."""

    def __init__(self, phase: str, reason: str) -> None:
        super().__init__(f"the {phase} phase failed: {reason}")
        self.phase = phase
        self.reason = reason


class Backend(Protocol):
    runs_rollback_phases: bool
    """Whether a rollback runs the lifecycle phases it is given (else it is Helm's
    plain rollback, and the phases are reported skipped)."""

    def install_or_upgrade(
        self,
        chart: ChartRelease,
        phases: list[tuple[str, dict[str, Any]]],
        app: str,
        version: str,
        operation: str,
    ) -> int:
        """Install the release, or upgrade it to ``chart``, running ``phases`` (each
        with its values overlay, above the user values) in order; its new revision.

        :param operation: the agent's operation doing it. Run again (the agent
            restarted in the middle), the operation gets the revision it made the
            first time rather than another one (the ``render`` backend; ``helm``
            writes it in the revision's description only).
        :raises PhaseFailed: a phase failed (the release records a failed revision).
        """

    def rollback(
        self, namespace: str, release: str, revision: int, phases: list, operation: str
    ) -> int:
        """Back to ``revision``'s chart and values, as a new revision; its number (the
        one it made already, for an ``operation`` run again, as above).

        :raises PhaseFailed: a phase failed.
        """

    def uninstall(self, namespace: str, release: str, phases: list) -> None:
        """Run ``phases`` (the uninstall phase) against the deployed revision, then
        remove the release and its history (nothing if it is not installed)."""

    def revision(self, namespace: str, release: str) -> int:
        """The deployed revision (0: not installed)."""
