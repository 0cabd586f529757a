"""``/v1.0``: the resources of API version 1.0."""

import pecan

from dcmanager.api.controllers.v1 import subcloud_groups
from dcmanager.api.controllers.v1 import subclouds

RESOURCES = ("subclouds", "subcloud-groups")


class V1Controller:
    @pecan.expose("json")
    def index(self) -> dict:
        if pecan.request.method != "GET":
            pecan.abort(405)
        base = f"{pecan.request.host_url}/v1.0"
        return {"links": [{"rel": name, "href": f"{base}/{name}"} for name in RESOURCES]}


pecan.route(V1Controller, "subclouds", subclouds.SubcloudsController())
pecan.route(V1Controller, "subcloud-groups", subcloud_groups.SubcloudGroupsController())
