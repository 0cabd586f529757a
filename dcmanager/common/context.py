"""Request context: who is calling, carried from the API through RPC to the workers."""

from collections.abc import MutableMapping
from typing import Any

from oslo_context import context


class RequestContext(context.RequestContext):
    """dcmanager's request context: oslo.context's, with the project's name among the
    values policies see (the default rules name the system projects by name, since
    their ids differ from one installation to the next)."""

    def to_policy_values(self) -> MutableMapping[str, Any]:
        values = super().to_policy_values()
        values["project_name"] = self.project_name
        return values


ADMIN_PROJECT = "admin"


def get_admin_context() -> RequestContext:
    """A context with every role in the admin project, for internal callers and the
    noauth API."""
    return RequestContext(
        is_admin=True, roles=["admin", "reader"], project_name=ADMIN_PROJECT, overwrite=False
    )
