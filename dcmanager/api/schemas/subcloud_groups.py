"""Validation of subcloud group requests, with the messages of the API contract."""

import re
from typing import Any

from dcmanager.api import validation
from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.common.states import ApplyType
from dcmanager.db import api as db_api

MAX_NAME_LENGTH = 255
# A description must be shorter than this many characters.
DESCRIPTION_LIMIT = 255
DEFAULT_DESCRIPTION = "No description provided"
DEFAULT_MAX_PARALLEL = 2

# The regular-expression characters of the API contract, plus "/" (ours), which would
# make the group unreachable by name in a URL path.
_FORBIDDEN_NAME_CHARS = re.compile(r"[.*+?|()\[\]{}^$/]")


def _name(value: Any) -> str:
    if (
        not validation.is_storable_text(value)
        or not value.strip()
        # Surrounding spaces: invisible, and MySQL would ignore them when comparing.
        or value != value.strip()
        or len(value) > MAX_NAME_LENGTH
        or value.isdigit()
        or _FORBIDDEN_NAME_CHARS.search(value)
        or value.lower() == db_api.DEFAULT_GROUP_NAME.lower()
    ):
        raise exception.Invalid("Invalid group name")
    return value


def _description(value: Any) -> str:
    if (
        not validation.is_storable_text(value)
        or not value.strip()
        or len(value) >= DESCRIPTION_LIMIT
    ):
        raise exception.Invalid("Invalid group description")
    return value


def _apply_type(value: Any) -> str:
    if not isinstance(value, str) or value not in set(ApplyType):
        raise exception.Invalid("Invalid group update_apply_type")
    return str(value)


def _max_parallel(value: Any) -> int:
    number = validation.parse_int(value)
    if number is None or not states.MIN_PARALLEL <= number <= states.MAX_PARALLEL:
        raise exception.Invalid("Invalid group max_parallel_subclouds")
    return number


_FIELDS = {
    "name": _name,
    "description": _description,
    "update_apply_type": _apply_type,
    "max_parallel_subclouds": _max_parallel,
}


def validate_create(body: dict[str, Any]) -> dict[str, Any]:
    """The new group's column values, with defaults for the optional fields."""
    values = {
        "description": DEFAULT_DESCRIPTION,
        "update_apply_type": ApplyType.PARALLEL.value,
        "max_parallel_subclouds": DEFAULT_MAX_PARALLEL,
    }
    values["name"] = _name(body.get("name"))
    for field, check in _FIELDS.items():
        if field != "name" and field in body:
            values[field] = check(body[field])
    return values


def validate_update(group_id: int, current_name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The columns to change; Default keeps its name."""
    values = {}
    for field, check in _FIELDS.items():
        if field not in body:
            continue
        if field == "name" and group_id == db_api.DEFAULT_GROUP_ID:
            if body["name"] != current_name:
                raise exception.DefaultGroupRename()
            continue
        values[field] = check(body[field])
    if not values:
        raise exception.NothingToUpdate()
    return values
