"""The ``helm`` backend: real Helm against the site's Kubernetes cluster.

Helm (``dcmanager[helm]``) installs, upgrades, rolls back and uninstalls the releases
through the cluster named by ``[agent] kubeconfig``; the releases and their history
are in Helm's own storage there. Each lifecycle phase is one upgrade with its overlay
above the user values, so its jobs run in the cluster; the last phase's revision is the
one deployed. Kept thin on purpose: no cluster runs where dcmanager is tested, so only
the refusal of an unreachable cluster is tested here (see ``doc/applications.md``).
"""

from typing import Any

from dcmanager.agent.apps import ChartRelease
from dcmanager.agent.apps import PhaseFailed
from dcmanager.apps import charts
from dcmanager.helm import maps


class ClusterUnreachable(Exception):
    """The cluster did not answer; the message says how it was reached and why not."""


class KubeBackend:
    # Helm's rollback restores a revision as it was; the phases' jobs do not run.
    runs_rollback_phases = False

    def __init__(self, kubeconfig: str | None, timeout: int) -> None:
        if charts.helm_python is None:
            raise charts.HelmUnavailable()
        self.kubeconfig = kubeconfig
        self.timeout = timeout

    def _config(self, namespace: str):
        helm = charts.helm_python
        config = helm.Config(kubeconfig_path=self.kubeconfig, namespace=namespace)
        try:
            config.check_reachable()
        except helm.HelmError as exc:
            config.close()
            raise ClusterUnreachable(
                f"the site's Kubernetes cluster is unreachable with kubeconfig "
                f"{self.kubeconfig or '(default)'}: {exc}"
            ) from None
        return config

    def revision(self, namespace: str, release: str) -> int:
        config = self._config(namespace)
        try:
            return int(config.status(release)["version"])
        except charts.helm_python.HelmNotFoundError:
            return 0
        finally:
            config.close()

    def install_or_upgrade(
        self,
        chart: ChartRelease,
        phases: list[tuple[str, dict[str, Any]]],
        app: str,
        version: str,
        operation: str,
    ) -> int:
        helm = charts.helm_python
        config = self._config(chart.namespace)
        revision = 0
        try:
            for phase, overlay in phases or [("", {})]:
                loaded = helm.Chart.load_archive(chart.archive)
                values = maps.merge_maps(chart.user_values, overlay)
                try:
                    if revision == 0 and self.revision(chart.namespace, chart.release) == 0:
                        done = config.install(
                            loaded,
                            chart.release,
                            values,
                            namespace=chart.namespace,
                            create_namespace=True,
                            timeout=self.timeout,
                            description=f"{app} {version} {phase} ({operation})",
                        )
                    else:
                        done = config.upgrade(
                            loaded,
                            chart.release,
                            values,
                            namespace=chart.namespace,
                            timeout=self.timeout,
                            description=f"{app} {version} {phase} ({operation})",
                        )
                except helm.HelmError as exc:
                    raise PhaseFailed(phase or "install", str(exc)) from None
                finally:
                    loaded.close()
                revision = int(done["version"])
            return revision
        finally:
            config.close()

    def rollback(
        self, namespace: str, release: str, revision: int, phases: list, operation: str
    ) -> int:
        helm = charts.helm_python
        config = self._config(namespace)
        try:
            # Helm's rollback takes no description: ``operation`` is not recorded.
            config.rollback(release, version=revision, timeout=self.timeout)
            return int(config.status(release)["version"])
        except helm.HelmError as exc:
            raise PhaseFailed("rollback", str(exc)) from None
        finally:
            config.close()

    def uninstall(self, namespace: str, release: str, phases: list) -> None:
        helm = charts.helm_python
        config = self._config(namespace)
        try:
            config.uninstall(release, ignore_not_found=True, timeout=self.timeout)
        except helm.HelmError as exc:
            raise PhaseFailed("uninstall", str(exc)) from None
        finally:
            config.close()
