"""``/v1.0/subclouds/{ref}/apps``: the applications at one site.

``GET .../apps``, ``GET .../apps/{name}``, ``POST .../apps/{name}`` with ``{"action":
"apply" | "update" | "remove", "version": ...}`` (202: the operation runs in the
manager; the site's record shows it), ``DELETE .../apps/{name}`` (the site forgets an
application of which nothing is applied or under way).
"""

import pecan

from dcmanager.api import validation
from dcmanager.api import views
from dcmanager.api.schemas import subcloud_apps as schema
from dcmanager.apps import operations
from dcmanager.apps import site
from dcmanager.common import policy
from dcmanager.db import api as db_api
from dcmanager.db import site_apps as db_site_apps

POLICY = "dc_api:subcloud_apps:%s"
APPS = "apps"


def _authorize(action: str) -> None:
    policy.authorize(POLICY % action, pecan.request.context)


def _views(subcloud_id: int, name: str | None = None) -> list[dict]:
    # The operations first: an operation ends in the same transaction as its last
    # change to the records, so records read after it has ended are its final ones
    # (read before, they could still say "cleaning up" with no operation shown).
    operations = db_site_apps.operations_under_way(subcloud_id)
    return views.site_apps(db_site_apps.site_apps(subcloud_id, name), operations)


def list_apps(ref: str) -> dict:
    _authorize("get")
    subcloud = db_api.subcloud_get(validation.parse_ref(ref))
    return {"apps": _views(subcloud.id)}


def show_app(ref: str, name: str) -> dict:
    _authorize("get")
    subcloud = db_api.subcloud_get(validation.parse_ref(ref))
    found = _views(subcloud.id, name)
    if not found:
        raise site.NotAtSite(name=name, subcloud=subcloud.name)
    return found[0]


def operate(ref: str, name: str) -> dict:
    _authorize("operate")
    subcloud = db_api.subcloud_get(validation.parse_ref(ref))
    wanted = schema.validate_operation(validation.json_body())
    step = operations.start(
        pecan.request.conf,
        subcloud,
        name,
        wanted.action,
        wanted.version,
        wanted.include_prerelease,
    )
    # Read before the manager is told: it could end the operation (and, undoing a
    # fresh apply, delete the record) before a read that came after.
    started = _views(subcloud.id, name)[0]
    pecan.request.manager.app_operation(pecan.request.context, step.id)
    pecan.response.status = 202
    return started


def forget_app(ref: str, name: str) -> None:
    _authorize("delete")
    subcloud = db_api.subcloud_get(validation.parse_ref(ref))
    operations.forget(subcloud, name)
    pecan.response.status = 204
