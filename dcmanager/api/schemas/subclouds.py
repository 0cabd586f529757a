"""Validation of subcloud requests."""

import ipaddress
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


# The path of a bulk registration, so no subcloud's name.
RESERVED_NAME = "bulk"


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
    if value == RESERVED_NAME:
        raise exception.Invalid(
            f"Invalid subcloud name '{value}': reserved for /v1.0/subclouds/{value}"
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
    # Both take an id or a name: StarlingX's client sends a group's name as group_id.
    field = "group_id" if "group_id" in body else "group"
    ref = body[field]
    if field == "group_id" and validation.parse_int(ref) is not None:
        ref = validation.parse_int(ref)
    elif isinstance(ref, str):
        ref = validation.parse_ref(ref) if validation.is_storable_text(ref) else None
    elif not isinstance(ref, int) or isinstance(ref, bool):
        ref = None
    if ref is None:
        raise exception.Invalid(f"Invalid {field}")
    try:
        return db_api.subcloud_group_get(ref).id
    except exception.SubcloudGroupNotFound as exc:
        raise exception.Invalid(f"Invalid {field}: subcloud group '{ref}' does not exist") from exc


NETWORK_FIELDS = (
    "management-subnet",
    "management-start-ip",
    "management-end-ip",
    "management-gateway-ip",
    "systemcontroller-gateway-ip",
)
"""The management network a subcloud may be registered with (StarlingX's client and
scripts may spell them with ``_``)."""


def _network_value(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field, body.get(field.replace("-", "_")))
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        if field == "management-subnet":
            return str(ipaddress.ip_network(value.strip(), strict=True))
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        kind = "a network in CIDR notation" if field == "management-subnet" else "an IP address"
        raise exception.Invalid(f"Invalid {field} '{value}': must be {kind}") from None


def _management_network(body: dict[str, Any]) -> dict[str, str]:
    """The management network fields given, each valid, the addresses inside the
    subnet and the range in order."""
    given = {field: _network_value(body, field) for field in NETWORK_FIELDS}
    subnet = given["management-subnet"]
    if subnet is not None:
        network = ipaddress.ip_network(subnet)
        for field in ("management-start-ip", "management-end-ip", "management-gateway-ip"):
            address = given[field]
            if address is not None and ipaddress.ip_address(address) not in network:
                raise exception.Invalid(
                    f"Invalid {field} '{address}': not in management-subnet {subnet}"
                )
    start, end = given["management-start-ip"], given["management-end-ip"]
    if start is not None and end is not None:
        first, last = ipaddress.ip_address(start), ipaddress.ip_address(end)
        if first.version != last.version or first > last:
            raise exception.Invalid(
                f"Invalid management-end-ip '{end}': must not come before "
                f"management-start-ip {start}"
            )
    return {field.replace("-", "_"): value for field, value in given.items() if value is not None}


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
    values.update(_management_network(body))
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


# The most subclouds one bulk registration takes (a fleet is registered in a few).
MAX_BULK = 5000


def validate_bulk(body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """A bulk registration: ``{"subclouds": [<create body>, ...], "manage": bool}``.
    Each entry is checked as a create is (the message says which entry), and no name or
    region is given twice. Returns the column values of each, and whether to manage
    them.

    :raises Invalid: the first problem found.
    """
    entries = body.get("subclouds")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_BULK:
        raise exception.Invalid(
            f"subclouds required: a list of 1 to {MAX_BULK} subclouds to register"
        )
    manage = validation.parse_bool(body["manage"], "manage") if "manage" in body else False
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise exception.Invalid("must be an object")
            values = validate_create(entry)
        except exception.Invalid as exc:
            raise exception.Invalid(f"subclouds[{index}]: {exc.message}") from exc
        for key in ("name", "region_name"):
            if key in values:
                first = seen.setdefault((key, values[key]), index)
                if first != index:
                    raise exception.Invalid(
                        f"subclouds[{index}]: {key.replace('_', '-')} '{values[key]}' is "
                        f"given already by subclouds[{first}]"
                    )
        rows.append(values)
    return rows, manage
