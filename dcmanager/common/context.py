"""Request context: who is calling, carried from the API through RPC to the workers."""

from oslo_context import context


class RequestContext(context.RequestContext):
    """dcmanager's request context (oslo.context with no additions yet)."""


def get_admin_context() -> RequestContext:
    """A context with every role, for internal callers and the noauth API."""
    return RequestContext(is_admin=True, roles=["admin", "reader"], overwrite=False)
