"""Input normalisation at the edge: the API turns request values into clean typed
values once, so nothing behind it parses strings again."""

import json
import re
from typing import Any

import pecan

from dcmanager.common import exception

# Ids and counts fit in 64 bits; longer digit strings are not numbers we accept (and
# Python refuses to convert strings of more than 4300 digits at all).
MAX_DIGITS = 18
_INT_RE = re.compile(rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}")

# Where parse_body() keeps the decoded body in the WSGI environment.
_BODY_KEY = "dcmanager.json_body"


def parse_body(request) -> None:
    """Decode the request's JSON body once, before pecan routes the request.

    The result, or the error it gives, is kept for :func:`json_body`.

    :raises MalformedBody: the body claims to be JSON and is not (pecan would fail on it
        while routing).
    """
    raw = request.body
    if not raw or not raw.strip():
        request.environ[_BODY_KEY] = exception.BodyRequired()
        return
    try:
        request.environ[_BODY_KEY] = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        error = exception.MalformedBody()
        if request.content_type in ("application/json", "application/javascript"):
            raise error from exc
        request.environ[_BODY_KEY] = error


def json_body() -> dict[str, Any]:
    """The request's JSON object.

    :raises BodyRequired: the body is empty.
    :raises MalformedBody: the body is not a JSON object.
    """
    body = pecan.request.environ.get(_BODY_KEY)
    if body is None:
        parse_body(pecan.request)
        body = pecan.request.environ[_BODY_KEY]
    if isinstance(body, exception.DCManagerException):
        raise body
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
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def parse_ref(ref: str) -> int | str:
    """A path reference: all ASCII digits is an id, anything else a name.

    Names are never all digits, so a digit string too long to be an id stays a string
    and simply finds nothing.
    """
    # str.isdigit() is also true for "²" or "١", which int() rejects or reads oddly.
    if ref.isascii() and ref.isdigit() and len(ref) <= MAX_DIGITS:
        return int(ref)
    return ref


def is_storable_text(value: Any) -> bool:
    """A string every database stores as given: no NUL (PostgreSQL refuses it), no lone
    surrogate (not encodable as UTF-8)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_short_text(value: Any, max_length: int = 255, allow_empty: bool = True) -> bool:
    return (
        is_storable_text(value)
        and len(value) <= max_length
        and (allow_empty or bool(value.strip()))
    )
