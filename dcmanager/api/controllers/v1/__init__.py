"""``/v1.0``: the resources of API version 1.0."""

import pecan

from dcmanager.api.controllers import base
from dcmanager.api.controllers.v1 import apps
from dcmanager.api.controllers.v1 import helm_charts
from dcmanager.api.controllers.v1 import releases
from dcmanager.api.controllers.v1 import subcloud_groups
from dcmanager.api.controllers.v1 import subclouds
from dcmanager.api.controllers.v1 import sw_update_strategy

RESOURCES = (
    "subclouds",
    "subcloud-groups",
    "sw-update-strategy",
    "releases",
    "helm_charts",
    "apps",
)


class V1Controller:
    @pecan.expose("json")
    def index(self) -> dict:
        if pecan.request.method != "GET":
            base.method_not_allowed(base.READ_ONLY_METHODS)
        root = f"{pecan.request.host_url}/v1.0"
        return {"links": [{"rel": name, "href": f"{root}/{name}"} for name in RESOURCES]}


pecan.route(V1Controller, "subclouds", subclouds.SubcloudsController())
pecan.route(V1Controller, "subcloud-groups", subcloud_groups.SubcloudGroupsController())
pecan.route(V1Controller, "sw-update-strategy", sw_update_strategy.StrategyController())
pecan.route(V1Controller, "releases", releases.ReleasesController())
pecan.route(V1Controller, "blobs", releases.BlobsController())
pecan.route(V1Controller, "helm_charts", helm_charts.HelmChartsController())
pecan.route(V1Controller, "apps", apps.AppsController())
