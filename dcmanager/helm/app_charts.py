"""The charts of an application of the catalog, as the overrides API names them:
``?app=<name>`` with the chart and namespace of any of its versions. Their overrides
belong to the application (kept across its versions); they have no system overrides.
"""

from typing import Any

from dcmanager.apps import catalog
from dcmanager.helm import plugins


def charts(app: str) -> dict[str, list[str]]:
    """Each chart of any version of ``app``, with its namespaces.

    :raises AppNotFound: the catalog has no version of ``app``.
    """
    found: dict[str, set[str]] = {}
    for version in catalog.application(app):
        for chart in version.details.get("charts", []):
            found.setdefault(chart["name"], set()).add(chart["namespace"])
    return {name: sorted(namespaces) for name, namespaces in sorted(found.items())}


def check(app: str, chart: str, namespace: str | None) -> str:
    """The namespace of ``chart`` of ``app`` (``namespace``, checked, or its only one).

    :raises AppNotFound, ChartNotFound, NamespaceNotFound, NamespaceRequired:
    """
    namespaces = charts(app).get(chart)
    if namespaces is None:
        raise plugins.ChartNotFound(chart=f"{chart} of application {app}")
    names = ", ".join(namespaces)
    if not namespace:
        if len(namespaces) == 1:
            return namespaces[0]
        raise plugins.NamespaceRequired(namespaces=names)
    if namespace not in namespaces:
        raise plugins.NamespaceNotFound(chart=chart, namespace=namespace, namespaces=names)
    return namespace


def listing(app: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "namespaces": namespaces, "app": app}
        for name, namespaces in charts(app).items()
    ]
