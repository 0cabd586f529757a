"""``/v1.0/subclouds``: the subcloud inventory."""

import datetime

import pecan
from oslo_utils import timeutils

from dcmanager.api import validation
from dcmanager.api import views
from dcmanager.api.controllers import base
from dcmanager.api.controllers.v1 import subcloud_apps
from dcmanager.api.schemas import subclouds as schema
from dcmanager.api.schemas import sw_update_strategy as strategy_schema
from dcmanager.common import clock
from dcmanager.common import crypt
from dcmanager.common import policy
from dcmanager.db import api as db_api
from dcmanager.db import prestage as db_prestage
from dcmanager.orchestrator import planning

POLICY = "dc_api:subclouds:%s"
# PATCH /subclouds/{ref}/prestage starts a standalone prestage.
PRESTAGE = "prestage"
# GET /subclouds/{ref}/detail: the subcloud and what `subcloud show --detail` reads.
DETAIL = "detail"
# POST /subclouds/bulk registers many.
BULK = "bulk"
# The longest page of GET /subclouds.
MAX_LIMIT = 10000


def _authorize(action: str) -> None:
    policy.authorize(POLICY % action, pecan.request.context)


def _app_path(path: tuple[str, ...]) -> bool:
    """Whether ``path`` is ``{ref}/apps/{name}``."""
    return len(path) == 3 and path[1] == subcloud_apps.APPS


class SubcloudsController(base.ResourceController):
    subpaths = {PRESTAGE: "PATCH", DETAIL: "GET", subcloud_apps.APPS: "GET"}

    def _reject(self, path: tuple[str, ...]) -> None:
        if _app_path(path):
            base.method_not_allowed("GET, POST, DELETE")
        if path == (BULK,):
            base.method_not_allowed("POST")
        super()._reject(path)

    def item_ref(self, path: tuple[str, ...]) -> str:
        """``bulk`` names no subcloud (only POST is served there)."""
        if path == (BULK,):
            self._reject(path)
        return super().item_ref(path)

    @pecan.expose("json")
    def get_all(self) -> dict:
        """Every subcloud by id, or a page (``?limit=N&marker=ID``: the N after ID), or
        those registered or changed since a time (``?changed-since=TIME``; the answer
        says which time to ask with next)."""
        _authorize("get")
        query = pecan.request.GET
        limit, marker = validation.parse_page(query, MAX_LIMIT, "a subcloud")
        since = None
        if "changed-since" in query:
            since = validation.parse_time("changed-since", query["changed-since"])
        # Taken before the read: what commits meanwhile is in the next answer.
        now = timeutils.utcnow()
        subclouds = db_api.subcloud_get_all(
            limit=limit, marker=marker, changed_since=since and since.replace(tzinfo=None)
        )
        found: dict = {"subclouds": [views.subcloud(sc) for sc in subclouds]}
        if since is not None:
            # A change stamped before it committed may commit after this read: the
            # next question reaches back over it (a subcloud may come twice).
            overlap = datetime.timedelta(seconds=pecan.request.conf.api.changes_overlap)
            found["next-changed-since"] = views.timestamp(now - overlap)
        return found

    @pecan.expose("json")
    def get_one(self, *path: str) -> dict:
        """``GET /subclouds/{ref}`` and ``GET /subclouds/{ref}/detail`` (one method, so
        that a subcloud may be named "detail")."""
        if len(path) == 2 and path[1] == DETAIL:
            _authorize("get")
            return views.subcloud_detail(db_api.subcloud_get(validation.parse_ref(path[0])))
        if len(path) == 2 and path[1] == subcloud_apps.APPS:
            return subcloud_apps.list_apps(path[0])
        if _app_path(path):
            return subcloud_apps.show_app(path[0], path[2])
        ref = self.item_ref(path)
        _authorize("get")
        return views.subcloud(db_api.subcloud_get(validation.parse_ref(ref)))

    @pecan.expose("json")
    def post(self, *path: str) -> dict:
        if _app_path(path):
            return subcloud_apps.operate(path[0], path[2])
        if path == (BULK,):
            return self._bulk()
        self.collection_only(path)
        _authorize("create")
        values = schema.validate_create(validation.json_body())
        return views.subcloud(db_api.subcloud_create(values))

    @pecan.expose("json")
    def patch(self, *path: str) -> dict:
        if len(path) == 2 and path[1] == PRESTAGE:
            return self._prestage(path[0])
        ref = self.item_ref(path)
        _authorize("modify")
        subcloud = db_api.subcloud_get(validation.parse_ref(ref))
        values = schema.validate_update(validation.json_or_form_body())
        return views.subcloud(db_api.subcloud_update(subcloud.id, values))

    def _bulk(self) -> dict:
        """``POST /subclouds/bulk``: many subclouds in one request, all or none."""
        _authorize("create")
        rows, manage = schema.validate_bulk(validation.json_body())
        return {"subclouds": [views.subcloud(sc) for sc in db_api.subclouds_create(rows, manage)]}

    def _prestage(self, ref: str) -> dict:
        """A standalone prestage of one subcloud, run by the manager."""
        _authorize("prestage")
        subcloud = db_api.subcloud_get(validation.parse_ref(ref))
        conf = pecan.request.conf
        args = strategy_schema.validate_standalone(validation.json_or_form_body(), planning.LOOKUPS)
        planning.check_standalone(subcloud)
        now, until = clock.lease(clock.SYSTEM, conf.orchestrator.step_lease_seconds)
        step = db_prestage.standalone_step_create(
            subcloud.id, args.extra_args(), crypt.encrypt(conf, args.password), now, until
        )
        pecan.request.manager.prestage_subcloud(pecan.request.context, step.id)
        return views.subcloud(db_api.subcloud_get(subcloud.id))

    @pecan.expose("json")
    def delete(self, *path: str) -> dict:
        """200 with the subcloud as it was (StarlingX's client takes 204 for a failure)."""
        if _app_path(path):
            return subcloud_apps.forget_app(path[0], path[2])
        ref = self.item_ref(path)
        _authorize("delete")
        subcloud = db_api.subcloud_get(validation.parse_ref(ref))
        db_api.subcloud_destroy(subcloud.id)
        return views.subcloud(subcloud)
