"""The one exception tree of dcmanager.

Every error a user can cause is a :class:`DCManagerException` leaf with a message
template and the HTTP status the API answers with. Library exceptions are translated
into these at the boundary (the DB layer, the drivers), so callers never see them.
"""

from http import HTTPStatus
from typing import Any


class DCManagerException(Exception):
    """Base of all dcmanager errors.

    :cvar msg_fmt: message template, formatted with the constructor's keyword arguments.
    :cvar code: HTTP status the API returns for this error.
    :cvar retryable: whether repeating the same operation later may succeed.
    """

    msg_fmt = "An unknown error occurred."
    code = HTTPStatus.INTERNAL_SERVER_ERROR
    retryable = False

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            message = self.msg_fmt % kwargs if kwargs else self.msg_fmt
        self.message = message
        super().__init__(message)


class Invalid(DCManagerException):
    """The request is malformed or a value is not acceptable (400)."""

    msg_fmt = "Invalid input: %(reason)s"
    code = HTTPStatus.BAD_REQUEST


class NotFound(DCManagerException):
    msg_fmt = "Resource not found"
    code = HTTPStatus.NOT_FOUND


class Conflict(DCManagerException):
    """The request conflicts with the current state of a resource (409)."""

    msg_fmt = "Conflict: %(reason)s"
    code = HTTPStatus.CONFLICT


class Unprocessable(DCManagerException):
    """The request is valid but cannot be carried out now (422)."""

    msg_fmt = "Request cannot be processed: %(reason)s"
    code = HTTPStatus.UNPROCESSABLE_ENTITY


class ConfigInvalid(DCManagerException):
    """The configuration cannot work; raised at start-up."""

    msg_fmt = "Invalid configuration: %(reason)s"


class ListenError(DCManagerException):
    msg_fmt = "Cannot listen on %(host)s:%(port)s: %(reason)s"


class SchemaOutOfDate(DCManagerException):
    msg_fmt = (
        "The database is at revision %(current)s, this dcmanager needs %(head)s: "
        "run 'dcmanager-manage --config-file <file> db_sync'."
    )


class DatabaseUnavailable(DCManagerException):
    msg_fmt = "Cannot use the database %(database)s: %(reason)s"


class PolicyNotAuthorized(DCManagerException):
    msg_fmt = "Policy doesn't allow %(action)s to be performed."
    code = HTTPStatus.FORBIDDEN


# Request-level errors.


class BodyRequired(Invalid):
    msg_fmt = "Body required"


class MalformedBody(Invalid):
    msg_fmt = "Request body is malformed."


class NothingToUpdate(Invalid):
    msg_fmt = "nothing to update"


# Subclouds.


class SubcloudNotFound(NotFound):
    msg_fmt = "Subcloud not found"


class SubcloudNameExists(Conflict):
    msg_fmt = "Subcloud with name %(name)s already exists"


class SubcloudRegionExists(Conflict):
    msg_fmt = "Subcloud with region-name %(region)s already exists"


class SubcloudsExist(Conflict):
    msg_fmt = "%(reason)s: nothing was registered"


class SubcloudGroupGone(Invalid):
    msg_fmt = "Invalid group_id: subcloud group %(group)s does not exist"


class SubcloudManaged(Conflict):
    msg_fmt = "Cannot delete subcloud %(name)s: it is managed. Unmanage it first."


class SubcloudInStrategy(Conflict):
    msg_fmt = "Cannot delete subcloud %(name)s: it is part of the current strategy."


class SubcloudOperationUnderWay(Conflict):
    msg_fmt = (
        "Cannot delete subcloud %(name)s: an operation is under way on it (a standalone "
        "prestage, or an operation on one of its applications)."
    )


# Subcloud groups.


class SubcloudGroupNotFound(NotFound):
    msg_fmt = "Subcloud Group not found"


class SubcloudGroupNameExists(Invalid):
    msg_fmt = "A subcloud group with this name already exists"


class SubcloudGroupNotEmpty(Conflict):
    msg_fmt = "Subcloud Group not empty"


class DefaultGroupUndeletable(Invalid):
    msg_fmt = "Default Subcloud Group may not be deleted"


class DefaultGroupRename(Invalid):
    msg_fmt = "Default group name cannot be changed"


# The release store.


class ReleaseNotFound(NotFound):
    msg_fmt = "Release %(version)s not found"


class ReleaseExists(Conflict):
    msg_fmt = "Release %(version)s already exists; delete it first to upload it again"


class BlobNotFound(NotFound):
    msg_fmt = "Blob %(digest)s not found"


class ReleaseInUse(Conflict):
    msg_fmt = (
        "Release %(version)s is being prestaged (by the current strategy or a standalone "
        "prestage); delete it once that has ended"
    )
