"""``/v1.0/helm_charts``: the Helm charts that have system overrides, and the
operator's overrides of each (per namespace, ``?namespace=``); with ``?app=<name>``, the
charts of an application of the catalog and their overrides, which belong to the
application and are kept across its versions."""

import pecan

from dcmanager.api import validation
from dcmanager.api.controllers import base
from dcmanager.api.schemas import helm_charts as schema
from dcmanager.common import exception
from dcmanager.common import policy
from dcmanager.db import api as db_api
from dcmanager.helm import overrides
from dcmanager.helm import plugins

POLICY = "dc_api:helm_charts:%s"


def _authorize(action: str) -> None:
    policy.authorize(POLICY % action, pecan.request.context)


def _namespace() -> str | None:
    return pecan.request.GET.get("namespace") or None


def _app() -> str | None:
    """``?app=<name>``: a chart of that application of the catalog (its overrides are
    kept across the application's versions)."""
    app = pecan.request.GET.get("app") or None
    if app is not None and not validation.is_short_text(app, 63):
        raise exception.Invalid("Invalid app: an application name")
    return app


def _site() -> plugins.Site:
    """The site system overrides are computed for: ``?subcloud=<id or name>``, else a
    simplex site."""
    ref = _subcloud_ref()
    if ref is not None:
        return overrides.subcloud_site(pecan.request.conf, ref)
    return overrides.default_site(pecan.request.conf)


def _subcloud_ref() -> int | str | None:
    """``?subcloud=``, as an id or a name (one no database could hold names none).

    :raises SubcloudNotFound: it cannot be a subcloud's name.
    """
    ref = pecan.request.GET.get("subcloud")
    if not ref:
        return None
    if not validation.is_storable_text(ref):
        raise exception.SubcloudNotFound()
    return validation.parse_ref(ref)


def _subcloud_id() -> int | None:
    """``?subcloud=<id or name>`` with an application's chart: that subcloud's own
    overrides.

    :raises SubcloudNotFound:
    """
    ref = _subcloud_ref()
    return None if ref is None else db_api.subcloud_get(ref).id


class HelmChartsController(base.ResourceController):
    collection_methods = base.READ_ONLY_METHODS

    @pecan.expose("json")
    def get_all(self) -> dict:
        _authorize("get")
        return {"charts": overrides.list_charts(_app())}

    @pecan.expose("json")
    def get_one(self, *path: str) -> dict:
        chart = self.item_ref(path)
        _authorize("get")
        app = _app()
        if app is None:
            return overrides.show(chart, _namespace(), _site()).view()
        return overrides.show(chart, _namespace(), None, app, _subcloud_id()).view()

    @pecan.expose("json")
    def patch(self, *path: str) -> dict:
        chart = self.item_ref(path)
        _authorize("modify")
        namespace, app, subcloud_id = _namespace(), _app(), _subcloud_id()
        flag, inputs, contents = schema.validate_patch(validation.json_body())
        namespace, text = overrides.update(
            pecan.request.conf, chart, namespace, flag, inputs, contents, app, subcloud_id
        )
        if subcloud_id is not None:
            return {"name": chart, "namespace": namespace, "subcloud_overrides": text}
        return {"name": chart, "namespace": namespace, "user_overrides": text}

    @pecan.expose(content_type="application/json")
    def delete(self, *path: str) -> None:
        chart = self.item_ref(path)
        _authorize("delete")
        overrides.delete(chart, _namespace(), _app(), _subcloud_id())
        pecan.response.status = 204
