"""``/``: the API versions."""

import pecan

from dcmanager.api.controllers import v1

CURRENT_VERSION = "v1.0"
# Date of the last change to the v1.0 API.
CURRENT_VERSION_UPDATED = "2026-11-21"


class RootController:
    @pecan.expose("json")
    def index(self) -> dict:
        if pecan.request.method != "GET":
            pecan.abort(405)
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
