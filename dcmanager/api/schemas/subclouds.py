"""Validation of subcloud requests."""

import re
from typing import Any

from dcmanager.api import validation
from dcmanager.common import endpoints
from dcmanager.common import exception
from dcmanager.common.subcloud_states import ManagementState
from dcmanager.db import api as db_api

MAX_NAME_LENGTH = 255
MAX_TEXT_LENGTH = 255

# Used with fullmatch: "$" would also match before a trailing newline.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VERSION_RE = re.compile(r"[0-9]{2}\.[0-9]{2}")


def _name(value: Any) -> str:
    if value is None:
        raise exception.Invalid("name required")
    if (
        not isinstance(value, str)
        or len(value) > MAX_NAME_LENGTH
        or not _NAME_RE.fullmatch(value)
        or value.isdigit()
    ):
        raise exception.Invalid(
            f"Invalid subcloud name '{value}': use up to {MAX_NAME_LENGTH} letters, digits, "
            "'-', '_' or '.', starting with a letter or digit, and not only digits"
        )
    return value


def _endpoint(value: Any) -> str:
    if value is None:
        raise exception.Invalid("endpoint required")
    return endpoints.validate(value)


def _text(field: str):
    def check(value: Any) -> str:
        if not validation.is_short_text(value, MAX_TEXT_LENGTH):
            raise exception.Invalid(
                f"Invalid {field}: must be a string of at most {MAX_TEXT_LENGTH} characters"
            )
        return value

    return check


def _region_name(value: Any) -> str:
    if (
        not validation.is_short_text(value, MAX_TEXT_LENGTH, allow_empty=False)
        or value != value.strip()
    ):
        raise exception.Invalid(
            f"Invalid region-name: must be a non-empty string of at most {MAX_TEXT_LENGTH} "
            "characters, without surrounding spaces"
        )
    return value


def _software_version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION_RE.fullmatch(value):
        raise exception.Invalid(
            f"Invalid software-version '{value}'. Version format must be MM.mm."
        )
    return value


def _management_state(value: Any) -> str:
    if not isinstance(value, str) or value not in set(ManagementState):
        raise exception.Invalid(
            f"Invalid management-state '{value}': must be "
            f"'{ManagementState.MANAGED}' or '{ManagementState.UNMANAGED}'"
        )
    return str(value)


def _group_id(body: dict[str, Any]) -> int:
    """Resolve ``group_id`` (an id) or ``group`` (an id or a name) to an existing id."""
    if "group_id" in body and "group" in body:
        raise exception.Invalid("group_id and group are mutually exclusive")
    if "group_id" in body:
        field, ref = "group_id", validation.parse_int(body["group_id"])
    else:
        field, ref = "group", body["group"]
        if isinstance(ref, str):
            ref = validation.parse_ref(ref) if validation.is_storable_text(ref) else None
        elif not isinstance(ref, int) or isinstance(ref, bool):
            ref = None
    if ref is None:
        raise exception.Invalid(f"Invalid {field}")
    try:
        return db_api.subcloud_group_get(ref).id
    except exception.SubcloudGroupNotFound as exc:
        raise exception.Invalid(f"Invalid {field}: subcloud group '{ref}' does not exist") from exc


# Request field -> (column, check) for the plain fields.
_CREATE_FIELDS = {
    "description": ("description", _text("description")),
    "location": ("location", _text("location")),
    "software-version": ("software_version", _software_version),
    "region-name": ("region_name", _region_name),
}
_UPDATE_FIELDS = {
    "management-state": ("management_state", _management_state),
    "description": ("description", _text("description")),
    "location": ("location", _text("location")),
    "endpoint": ("endpoint", _endpoint),
}


def _plain_fields(body: dict[str, Any], fields: dict) -> dict[str, Any]:
    return {
        column: check(body[field]) for field, (column, check) in fields.items() if field in body
    }


def validate_create(body: dict[str, Any]) -> dict[str, Any]:
    """The new subcloud's column values."""
    values = {"name": _name(body.get("name")), "endpoint": _endpoint(body.get("endpoint"))}
    values.update(_plain_fields(body, _CREATE_FIELDS))
    if "group_id" in body or "group" in body:
        values["group_id"] = _group_id(body)
    return values


def validate_update(body: dict[str, Any]) -> dict[str, Any]:
    """The columns to change.

    :raises NothingToUpdate: the body names no updatable field.
    """
    values = _plain_fields(body, _UPDATE_FIELDS)
    if "group_id" in body or "group" in body:
        values["group_id"] = _group_id(body)
    if not values:
        raise exception.NothingToUpdate()
    return values
