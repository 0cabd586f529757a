"""``/v1.0/subcloud-groups``: named sets of subclouds with orchestration defaults."""

import pecan

from dcmanager.api import validation
from dcmanager.api import views
from dcmanager.api.controllers import base
from dcmanager.api.controllers.v1 import subclouds as subclouds_controller
from dcmanager.api.schemas import subcloud_groups as schema
from dcmanager.common import policy
from dcmanager.db import api as db_api

POLICY = "dc_api:subcloud_groups:%s"
# GET /subcloud-groups/{ref}/subclouds lists a group's members.
MEMBERS = "subclouds"


def _authorize(action: str) -> None:
    policy.authorize(POLICY % action, pecan.request.context)


class SubcloudGroupsController(base.ResourceController):
    subpaths = {MEMBERS: "GET"}

    @pecan.expose("json")
    def get_all(self) -> dict:
        _authorize("get")
        groups = db_api.subcloud_group_get_all()
        return {"subcloud_groups": [views.subcloud_group(g) for g in groups]}

    @pecan.expose("json")
    def get_one(self, *path: str) -> dict:
        """``GET /subcloud-groups/{ref}`` and ``GET /subcloud-groups/{ref}/subclouds``.

        One method for both, so that a group may be named "subclouds".
        """
        if len(path) == 2 and path[1] == MEMBERS:
            _authorize("get")
            # The answer shows subclouds: whoever may not read them may not list them.
            policy.authorize(subclouds_controller.POLICY % "get", pecan.request.context)
            group = db_api.subcloud_group_get(validation.parse_ref(path[0]))
            members = db_api.subcloud_group_subclouds(group.id)
            return {"subclouds": [views.subcloud(sc) for sc in members]}
        ref = self.item_ref(path)
        _authorize("get")
        return views.subcloud_group(db_api.subcloud_group_get(validation.parse_ref(ref)))

    @pecan.expose("json")
    def post(self, *path: str) -> dict:
        self.collection_only(path)
        _authorize("create")
        values = schema.validate_create(validation.json_body())
        return views.subcloud_group(db_api.subcloud_group_create(values))

    @pecan.expose("json")
    def patch(self, *path: str) -> dict:
        ref = self.item_ref(path)
        _authorize("modify")
        group = db_api.subcloud_group_get(validation.parse_ref(ref))
        values = schema.validate_update(group.id, group.name, validation.json_body())
        return views.subcloud_group(db_api.subcloud_group_update(group.id, values))

    @pecan.expose("json")
    def delete(self, *path: str) -> dict:
        """200 with the group as it was (StarlingX's client takes 204 for a failure)."""
        ref = self.item_ref(path)
        _authorize("delete")
        group = db_api.subcloud_group_get(validation.parse_ref(ref))
        db_api.subcloud_group_destroy(group.id)
        return views.subcloud_group(group)
