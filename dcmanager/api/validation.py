"""Input normalisation at the edge: the API turns request values into clean typed
values once, so nothing behind it parses strings again."""

import json
import re
from typing import Any

import pecan

from dcmanager.common import exception

_INT_RE = re.compile(r"^[+-]?\d+$")


def json_body() -> dict[str, Any]:
    """The request's JSON object.

    :raises BodyRequired: the body is empty.
    :raises MalformedBody: the body is not a JSON object.
    """
    raw = pecan.request.body
    if not raw or not raw.strip():
        raise exception.BodyRequired()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise exception.MalformedBody() from exc
    if not isinstance(body, dict):
        raise exception.MalformedBody()
    return body


def parse_bool(value: Any, field: str) -> bool:
    """JSON true/false or the strings "true"/"false" in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise exception.Invalid(
        f"Invalid value '{value}' for {field} - must be True/False or 'true'/'false'"
    )


def parse_int(value: Any) -> int | None:
    """A JSON integer or a decimal string as an int; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def parse_ref(ref: str) -> int | str:
    """A path reference: all ASCII digits is an id, anything else a name."""
    # str.isdigit() is also true for "²" or "١", which int() rejects or reads oddly.
    return int(ref) if ref.isascii() and ref.isdigit() else ref


def is_short_text(value: Any, max_length: int = 255, allow_empty: bool = True) -> bool:
    # PostgreSQL cannot store NUL in a text column.
    return (
        isinstance(value, str)
        and len(value) <= max_length
        and (allow_empty or bool(value.strip()))
        and "\x00" not in value
    )
