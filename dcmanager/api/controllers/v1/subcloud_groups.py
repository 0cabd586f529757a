"""``/v1.0/subcloud-groups``: named sets of subclouds with orchestration defaults."""

import pecan
from pecan import rest

from dcmanager.api import validation
from dcmanager.api import views
from dcmanager.api.schemas import subcloud_groups as schema
from dcmanager.common import policy
from dcmanager.db import api as db_api

POLICY = "dc_api:subcloud_groups:%s"


def _authorize(action: str) -> None:
    policy.authorize(POLICY % action, pecan.request.context)


class GroupSubcloudsController(rest.RestController):
    """``/v1.0/subcloud-groups/{ref}/subclouds``."""

    @pecan.expose("json")
    def get_all(self, group_ref: str) -> dict:
        _authorize("get")
        group = db_api.subcloud_group_get(validation.parse_ref(group_ref))
        subclouds = db_api.subcloud_group_subclouds(group.id)
        return {"subclouds": [views.subcloud(sc) for sc in subclouds]}

    @pecan.expose()
    def get_one(self, group_ref: str, *remainder: str) -> None:
        # Without this, RestController answers 405 to paths below .../subclouds.
        pecan.abort(404)


class SubcloudGroupsController(rest.RestController):
    subclouds = GroupSubcloudsController()

    @pecan.expose("json")
    def get_all(self) -> dict:
        _authorize("get")
        groups = db_api.subcloud_group_get_all()
        return {"subcloud_groups": [views.subcloud_group(g) for g in groups]}

    @pecan.expose("json")
    def get_one(self, ref: str) -> dict:
        _authorize("get")
        return views.subcloud_group(db_api.subcloud_group_get(validation.parse_ref(ref)))

    @pecan.expose("json")
    def post(self) -> dict:
        _authorize("create")
        values = schema.validate_create(validation.json_body())
        return views.subcloud_group(db_api.subcloud_group_create(values))

    @pecan.expose("json")
    def patch(self, ref: str) -> dict:
        _authorize("modify")
        group = db_api.subcloud_group_get(validation.parse_ref(ref))
        values = schema.validate_update(group.id, group.name, validation.json_body())
        return views.subcloud_group(db_api.subcloud_group_update(group.id, values))

    @pecan.expose(content_type="application/json")
    def delete(self, ref: str) -> None:
        _authorize("delete")
        group = db_api.subcloud_group_get(validation.parse_ref(ref))
        db_api.subcloud_group_destroy(group.id)
        pecan.response.status = 204
