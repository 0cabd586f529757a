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
    """Every method a resource does not serve on a path is a 405 whose ``Allow`` names
    exactly what it serves there (pecan's own would list every method of the class)."""

    #: What the collection and an item serve.
    collection_methods = COLLECTION_METHODS
    item_methods = ITEM_METHODS
    #: Names under an item that exist, with the methods each serves.
    subpaths: dict[str, str] = {}

    def _reject(self, path: tuple[str, ...]) -> None:
        """Refuse the request's method on ``path``: 405 if the path exists, else 404."""
        if not path:
            method_not_allowed(self.collection_methods)
        if len(path) == 1:
            method_not_allowed(self.item_methods)
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

    def _handle_unknown_method(self, method: str, remainder: list[str], request=None):
        """Methods pecan has no routing of its own for: PATCH goes to ``patch``; OPTIONS,
        TRACE and the rest are refused with this path's ``Allow``."""
        controller = self._find_controller(method)
        if controller:
            return controller, remainder
        # Refused when called, not while routing: pecan would replace the Allow header
        # of a 405 raised while it routes with every method of the class.
        return self.refuse, remainder

    @pecan.expose(content_type="application/json")
    def refuse(self, *path: str) -> None:
        self._reject(path)

    # The methods a resource may not serve: refused unless the resource defines them.

    @pecan.expose(content_type="application/json")
    def post(self, *path: str) -> None:
        self._reject(path)

    @pecan.expose(content_type="application/json")
    def put(self, *path: str) -> None:
        self._reject(path)

    @pecan.expose(content_type="application/json")
    def patch(self, *path: str) -> None:
        self._reject(path)

    @pecan.expose(content_type="application/json")
    def delete(self, *path: str) -> None:
        self._reject(path)
