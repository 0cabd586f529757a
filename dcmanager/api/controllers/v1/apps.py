"""``/v1.0/apps``: the application catalog.

``POST /apps`` (the tarball as the body; ``?name=&version=`` fill what its metadata
lacks), ``GET /apps``, ``GET /apps/{name}``, ``GET /apps/{name}/versions/{version |
latest}[?include_prerelease=true]``, ``DELETE /apps/{name}/versions/{version}``.
"""

import pecan

from dcmanager.api import body
from dcmanager.api import validation
from dcmanager.api import views
from dcmanager.api.controllers import base
from dcmanager.apps import catalog
from dcmanager.common import exception
from dcmanager.common import policy

POLICY = "dc_api:apps:%s"
VERSIONS = "versions"
TARBALL_TYPES = ("application/octet-stream", "application/gzip", "application/x-gzip")


def _authorize(action: str) -> None:
    policy.authorize(POLICY % action, pecan.request.context)


def _query_text(name: str) -> str | None:
    value = pecan.request.GET.get(name)
    if value is not None and not validation.is_storable_text(value):
        raise exception.Invalid(f"Invalid {name}")
    return value


class AppsController(base.ResourceController):
    item_methods = base.READ_ONLY_METHODS

    def _reject(self, path: tuple[str, ...]) -> None:
        if len(path) == 3 and path[1] == VERSIONS:
            base.method_not_allowed("GET, DELETE")
        super()._reject(path)

    @pecan.expose("json")
    def get_all(self) -> dict:
        _authorize("get")
        return {"apps": [views.app(n, r) for n, r in catalog.applications().items()]}

    @pecan.expose("json")
    def get_one(self, *path: str) -> dict:
        if len(path) == 3 and path[1] == VERSIONS:
            _authorize("get")
            prerelease = validation.parse_bool(
                pecan.request.GET.get("include_prerelease", "false"), "include_prerelease"
            )
            return views.app_version(catalog.choose(path[0], path[2], prerelease))
        name = self.item_ref(path)
        _authorize("get")
        return views.app(name, catalog.application(name))

    @pecan.expose("json")
    def post(self, *path: str) -> dict:
        self.collection_only(path)
        _authorize("upload")
        upload = body.pending(pecan.request.environ)
        if upload.content_type not in TARBALL_TYPES:
            raise exception.Invalid(
                f"An application tarball is sent as one of {', '.join(TARBALL_TYPES)}"
            )
        data = upload.read()
        if not data:
            raise exception.BodyRequired()
        record = catalog.upload(
            pecan.request.conf, data, _query_text("name"), _query_text("version")
        )
        pecan.response.status = 201
        return views.app_version(record)

    @pecan.expose("json")
    def delete(self, *path: str) -> None:
        if not (len(path) == 3 and path[1] == VERSIONS):
            self._reject(path)
        _authorize("delete")
        catalog.delete(path[0], path[2])
        pecan.response.status = 204
