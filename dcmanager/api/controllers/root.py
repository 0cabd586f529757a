"""``/``: the API versions."""

import pecan

from dcmanager.api.controllers import base
from dcmanager.api.controllers import v1

CURRENT_VERSION = "v1.0"
# Date of the last change to the v1.0 API.
CURRENT_VERSION_UPDATED = "2026-11-21"


class RootController:
    @pecan.expose("json")
    def index(self) -> dict:
        if pecan.request.method != "GET":
            base.method_not_allowed(base.READ_ONLY_METHODS)
        return {
            "versions": [
                {
                    "id": CURRENT_VERSION,
                    "status": "CURRENT",
                    "updated": CURRENT_VERSION_UPDATED,
                    "links": [
                        {"rel": "self", "href": f"{pecan.request.host_url}/{CURRENT_VERSION}/"}
                    ],
                }
            ]
        }


pecan.route(RootController, "v1.0", v1.V1Controller())
