"""A chart's overrides as the API shows them: system (from its plugin, for a site),
user (the operator's stored YAML) and combined (``mergeMaps(system, user)``, nulls
kept), and the update of the user overrides with Helm's ``--reuse-values`` or
``--reset-values``.

Generated secrets are :class:`~dcmanager.helm.yamlio.Secret` objects: written as a mask
wherever overrides are shown.
"""

import dataclasses
import enum
from typing import Any

from oslo_config import cfg

from dcmanager.common import crypt
from dcmanager.common import exception
from dcmanager.db import api as db_api
from dcmanager.db import helm as db_helm
from dcmanager.helm import app_charts
from dcmanager.helm import maps
from dcmanager.helm import plugins
from dcmanager.helm import values
from dcmanager.helm import yamlio
from dcmanager.helm.strvals import ValuesError

# The site system overrides are computed for when no subcloud is named.
DEFAULT_SITE_NAME = "SystemController"


class Flag(enum.StrEnum):
    REUSE = "reuse"
    """Start from the stored user overrides (Helm's ``--reuse-values``)."""
    RESET = "reset"
    """Start from nothing (Helm's ``--reset-values``)."""


class InvalidValues(exception.Invalid):
    msg_fmt = "Invalid values: %(reason)s"


class OverridesTooLarge(exception.Invalid):
    msg_fmt = "The user overrides would be %(size)d bytes; at most %(limit)d are kept"


class SystemModeUnknown(exception.Conflict):
    msg_fmt = (
        "The system mode of subcloud %(name)s is not known yet: the audit learns it "
        "once the subcloud answers"
    )


def default_site(conf: cfg.ConfigOpts) -> plugins.Site:
    """The simplex site system overrides are shown for when no subcloud is named."""
    return plugins.Site(
        DEFAULT_SITE_NAME,
        conf.helm.default_region_name,
        plugins.SIMPLEX,
        lambda purpose: crypt.derive_secret(conf, purpose),
    )


def subcloud_site(conf: cfg.ConfigOpts, ref: int | str) -> plugins.Site:
    """A subcloud as a site, from its inventory.

    :raises SubcloudNotFound:
    :raises SystemModeUnknown: no audit has reached it yet.
    """
    subcloud = db_api.subcloud_get(ref)
    if subcloud.system_mode not in plugins.CONTROLLERS:
        raise SystemModeUnknown(name=subcloud.name)
    return plugins.Site(
        subcloud.name,
        subcloud.region_name,
        subcloud.system_mode,
        lambda purpose: crypt.derive_secret(conf, purpose),
    )


@dataclasses.dataclass(frozen=True)
class ChartOverrides:
    name: str
    namespace: str
    system: dict[str, Any]
    user: dict[str, Any]
    user_text: str
    site_text: str | None = None
    """One subcloud's own overrides of an application's chart (None: not asked for)."""

    @property
    def combined(self) -> dict[str, Any]:
        combined = maps.merge_maps(self.system, self.user)
        if self.site_text:
            combined = maps.merge_maps(combined, yamlio.load_values(self.site_text))
        return combined

    def view(self) -> dict[str, str]:
        view = {
            "name": self.name,
            "namespace": self.namespace,
            "system_overrides": yamlio.dump(self.system, flow=True),
            "user_overrides": self.user_text,
            "combined_overrides": yamlio.dump(self.combined),
        }
        if self.site_text is not None:
            view["subcloud_overrides"] = self.site_text
        return view


class SiteOverridesNeedApp(exception.Invalid):
    msg_fmt = "A subcloud's own overrides are of an application's chart: name it with ?app="


def list_charts(app: str | None = None) -> list[dict[str, Any]]:
    """The platform's charts (those with system overrides), or the charts of ``app``."""
    if app:
        return app_charts.listing(app)
    return [
        {"name": name, "namespaces": list(plugin.namespaces)}
        for name, plugin in plugins.plugins().items()
    ]


def _resolve(chart: str, namespace: str | None, app: str | None):
    """The chart's plugin (None for an application's chart) and its namespace.

    :raises ChartNotFound, NamespaceNotFound, NamespaceRequired, AppNotFound:
    """
    if app:
        return None, app_charts.check(app, chart, namespace)
    return plugins.get(chart, namespace)


def show(
    chart: str,
    namespace: str | None,
    site: plugins.Site | None,
    app: str | None = None,
    subcloud_id: int | None = None,
) -> ChartOverrides:
    """The chart's overrides; with ``subcloud_id`` (an application's chart), that
    subcloud's own too, combined above the application's.

    :raises ChartNotFound, NamespaceNotFound, NamespaceRequired, AppNotFound:
    """
    plugin, namespace = _resolve(chart, namespace, app)
    text = db_helm.user_overrides_get(chart, namespace, app or "")
    user = yamlio.load_values(text) if text else {}
    system = plugin.overrides(site, namespace) if plugin is not None else {}
    site_text = None
    if subcloud_id is not None:
        site_text = db_helm.user_overrides_get(chart, namespace, app or "", subcloud_id)
    return ChartOverrides(chart, namespace, system, user, text, site_text)


def user_values(app: str, chart: str, namespace: str) -> dict[str, Any]:
    """The operator's overrides of an application's chart, as values (what an apply
    deploys below the phase overlays)."""
    text = db_helm.user_overrides_get(chart, namespace, app)
    return yamlio.load_values(text) if text else {}


def update(
    conf: cfg.ConfigOpts,
    chart: str,
    namespace: str | None,
    flag: Flag,
    inputs: values.Inputs,
    file_contents: dict[str, str],
    app: str | None = None,
    subcloud_id: int | None = None,
) -> tuple[str, str]:
    """Apply ``inputs`` to the user overrides (with ``subcloud_id``, to that subcloud's
    own overrides of the application's chart): after the stored ones with ``reuse``,
    alone with ``reset`` (which, with no inputs, clears them). The result may not
    exceed ``[helm] max_user_overrides_bytes``.

    :returns: the namespace (an application's chart with one needs none given), and
        the new user overrides text.
    :raises InvalidValues: naming the input that Helm would refuse; nothing is stored.
    """
    if subcloud_id is not None and not app:
        raise SiteOverridesNeedApp()
    _, namespace = _resolve(chart, namespace, app)

    def read_file(path: str) -> str:
        if path not in file_contents:
            raise ValuesError(f"no content was sent for the file {path}")
        return file_contents[path]

    def change(stored: str) -> str:
        reused = stored if flag is Flag.REUSE else ""
        try:
            # Each value takes at least 2 bytes of YAML ("a: 1\n" holds two, a key and a
            # value): beyond this many the text could not be kept anyway.
            most = conf.helm.max_user_overrides_bytes // 2
            text = yamlio.dump(values.user_values(inputs, read_file, most, reused))
        except ValuesError as exc:
            raise InvalidValues(reason=str(exc)) from exc
        size = len(text.encode())
        if size > conf.helm.max_user_overrides_bytes:
            raise OverridesTooLarge(size=size, limit=conf.helm.max_user_overrides_bytes)
        return text

    written = db_helm.user_overrides_update(chart, namespace, change, app or "", subcloud_id or 0)
    return namespace, written


def delete(
    chart: str, namespace: str | None, app: str | None = None, subcloud_id: int | None = None
) -> None:
    if subcloud_id is not None and not app:
        raise SiteOverridesNeedApp()
    _, namespace = _resolve(chart, namespace, app)
    db_helm.user_overrides_delete(chart, namespace, app or "", subcloud_id or 0)
