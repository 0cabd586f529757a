"""Chart plugins: each names a chart and its namespaces, and computes the chart's
system overrides for a site from the inventory.

Plugins are found through the ``dcmanager.helm.charts`` entry point group (stevedore),
one entry point per chart, named after the chart; a package adds a chart by declaring
one. A plugin must be deterministic: the same site gives the same overrides.
"""

import abc
import dataclasses
import functools
from collections.abc import Callable
from typing import Any
from typing import ClassVar

import stevedore

from dcmanager.common import exception
from dcmanager.helm.yamlio import Secret

NAMESPACE = "dcmanager.helm.charts"

SIMPLEX = "simplex"
DUPLEX = "duplex"
# How many controllers each system mode has.
CONTROLLERS = {SIMPLEX: 1, DUPLEX: 2}


@dataclasses.dataclass(frozen=True)
class Site:
    """What the plugins may know about the site a chart is deployed to."""

    name: str
    region_name: str
    system_mode: str
    """simplex or duplex."""
    derive_secret: Callable[[str], str] = dataclasses.field(repr=False, compare=False)
    """Derives a secret from a purpose (:func:`dcmanager.common.crypt.derive_secret`)."""

    @property
    def controllers(self) -> int:
        return CONTROLLERS[self.system_mode]

    def password(self, chart: str, user: str) -> Secret:
        """The generated password of ``user`` for ``chart`` on this site: stable,
        different on every site, never shown."""
        return Secret(self.derive_secret(f"helm-password/{self.name}/{chart}/{user}"))


class ChartPlugin(abc.ABC):
    """The system overrides of one chart."""

    chart: ClassVar[str]
    namespaces: ClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        """The chart's system overrides in ``namespace`` (one of :attr:`namespaces`)."""


class ChartNotFound(exception.NotFound):
    msg_fmt = "Helm chart %(chart)s not found"


class NamespaceNotFound(exception.NotFound):
    msg_fmt = (
        "Helm chart %(chart)s has no overrides in namespace %(namespace)s "
        "(its namespaces: %(namespaces)s)"
    )


class NamespaceRequired(exception.Invalid):
    msg_fmt = "The namespace is required: ?namespace=<one of %(namespaces)s>"


@functools.cache
def plugins() -> dict[str, ChartPlugin]:
    """Every installed chart plugin, by chart name.

    :raises ConfigInvalid: an entry point is not named after its plugin's chart.
    """
    manager = stevedore.ExtensionManager(NAMESPACE, invoke_on_load=True)
    found = {}
    for extension in manager:
        plugin = extension.obj
        if plugin.chart != extension.name:
            raise exception.ConfigInvalid(
                reason=f"chart plugin {extension.name} is for the chart {plugin.chart}"
            )
        found[plugin.chart] = plugin
    return dict(sorted(found.items()))


def get(chart: str, namespace: str | None) -> tuple[ChartPlugin, str]:
    """The plugin of ``chart`` and ``namespace``, checked to be one of its namespaces.

    :raises ChartNotFound, NamespaceNotFound, NamespaceRequired:
    """
    plugin = plugins().get(chart)
    if plugin is None:
        raise ChartNotFound(chart=chart)
    names = ", ".join(plugin.namespaces)
    if not namespace:
        raise NamespaceRequired(namespaces=names)
    if namespace not in plugin.namespaces:
        raise NamespaceNotFound(chart=chart, namespace=namespace, namespaces=names)
    return plugin, namespace
