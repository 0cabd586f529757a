"""``/v1.0/subclouds``: the subcloud inventory."""

import pecan

from dcmanager.api import validation
from dcmanager.api import views
from dcmanager.api.controllers import base
from dcmanager.api.schemas import subclouds as schema
from dcmanager.common import policy
from dcmanager.db import api as db_api

POLICY = "dc_api:subclouds:%s"


def _authorize(action: str) -> None:
    policy.authorize(POLICY % action, pecan.request.context)


class SubcloudsController(base.ResourceController):
    @pecan.expose("json")
    def get_all(self) -> dict:
        _authorize("get")
        return {"subclouds": [views.subcloud(sc) for sc in db_api.subcloud_get_all()]}

    @pecan.expose("json")
    def get_one(self, *path: str) -> dict:
        ref = self.item_ref(path)
        _authorize("get")
        return views.subcloud(db_api.subcloud_get(validation.parse_ref(ref)))

    @pecan.expose("json")
    def post(self, *path: str) -> dict:
        self.collection_only(path)
        _authorize("create")
        values = schema.validate_create(validation.json_body())
        return views.subcloud(db_api.subcloud_create(values))

    @pecan.expose("json")
    def patch(self, *path: str) -> dict:
        ref = self.item_ref(path)
        _authorize("modify")
        subcloud = db_api.subcloud_get(validation.parse_ref(ref))
        values = schema.validate_update(validation.json_body())
        return views.subcloud(db_api.subcloud_update(subcloud.id, values))

    @pecan.expose(content_type="application/json")
    def delete(self, *path: str) -> None:
        ref = self.item_ref(path)
        _authorize("delete")
        subcloud = db_api.subcloud_get(validation.parse_ref(ref))
        db_api.subcloud_destroy(subcloud.id)
        pecan.response.status = 204
