"""The shape every REST resource of the API shares.

A resource is a collection (``GET``, ``POST``) of items (``GET``, ``PATCH``, ``DELETE``),
and an item may have sub-paths with their own methods (``GET
/subcloud-groups/{ref}/subclouds``, ``PATCH /subclouds/{ref}/prestage``).
Controller methods take the path as ``*path``: a named argument would let pecan fill it
from the query string or a body key (``DELETE /things?ref=x`` would delete x).
"""

import pecan
from pecan import rest

# What the Allow header of a 405 lists, per kind of path.
COLLECTION_METHODS = "GET, POST"
ITEM_METHODS = "GET, PATCH, DELETE"
READ_ONLY_METHODS = "GET"


def method_not_allowed(allowed: str) -> None:
    """:raises HTTPMethodNotAllowed: with ``allowed`` in its Allow header."""
    pecan.abort(405, headers={"Allow": allowed})


class ResourceController(rest.RestController):
    #: Names under an item that exist, with the one method each allows.
    subpaths: dict[str, str] = {}

    def _reject(self, path: tuple[str, ...]) -> None:
        """Refuse the request's method on ``path``: 405 if the path exists, else 404."""
        if not path:
            method_not_allowed(COLLECTION_METHODS)
        if len(path) == 1:
            method_not_allowed(ITEM_METHODS)
        if len(path) == 2 and path[1] in self.subpaths:
            method_not_allowed(self.subpaths[path[1]])
        pecan.abort(404)

    def item_ref(self, path: tuple[str, ...]) -> str:
        """The ref of the one item ``path`` names, else 405 or 404."""
        if len(path) != 1:
            self._reject(path)
        return path[0]

    def collection_only(self, path: tuple[str, ...]) -> None:
        """Accept only the collection itself (for ``POST``), else 405 or 404."""
        if path:
            self._reject(path)

    @pecan.expose(content_type="application/json")
    def put(self, *path: str) -> None:
        """No resource is replaced whole: PUT is refused everywhere."""
        self._reject(path)
