"""Input normalisation at the edge: the API turns request values into clean typed
values once, so nothing behind it parses strings again."""

import datetime
import io
import json
import re
from typing import Any

import multipart
import pecan

from dcmanager.api import body
from dcmanager.common import exception

# Ids and counts fit in 64 bits; longer digit strings are not numbers we accept (and
# Python refuses to convert strings of more than 4300 digits at all).
MAX_DIGITS = 18
_INT_RE = re.compile(rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}")

# Where json_body() keeps the decoded body in the WSGI environment.
_BODY_KEY = "dcmanager.json_body"
JSON_TYPES = ("application/json", "application/javascript")
FORM_TYPE = "multipart/form-data"
# The most fields a multipart form may have (the reference client sends a handful).
MAX_FORM_FIELDS = 64


def _decode_json(raw: bytes) -> Any:
    if not raw or not raw.strip():
        raise exception.BodyRequired()
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise exception.MalformedBody() from exc


def _decode_form(raw: bytes, content_type_header: str) -> dict[str, str]:
    """A multipart/form-data body as one string per field (the first of a repeated
    field; parts sent as files are read as text too)."""
    if not raw.strip():
        raise exception.BodyRequired()
    _, options = multipart.parse_options_header(content_type_header)
    boundary = options.get("boundary")
    if not boundary:
        raise exception.Invalid("Invalid multipart/form-data body: the boundary is missing")
    fields: dict[str, str] = {}
    try:
        parser = multipart.MultipartParser(
            io.BytesIO(raw),
            boundary,
            content_length=len(raw),
            part_limit=MAX_FORM_FIELDS,
            memory_limit=len(raw) + 1,
            spool_limit=len(raw) + 1,
            disk_limit=0,
            strict=True,
        )
        for part in parser:
            fields.setdefault(part.name, part.raw.decode("utf-8"))
    except (multipart.MultipartError, UnicodeDecodeError) as exc:
        raise exception.Invalid(f"Invalid multipart/form-data body: {exc}") from exc
    if not fields:
        raise exception.BodyRequired()
    return fields


def _body(allow_form: bool) -> Any:
    environ = pecan.request.environ
    if _BODY_KEY not in environ:
        pending = body.pending(environ)
        try:
            raw = pending.read()
            if allow_form and pending.content_type == FORM_TYPE:
                environ[_BODY_KEY] = _decode_form(raw, pending.content_type_header)
            else:
                environ[_BODY_KEY] = _decode_json(raw)
        except exception.DCManagerException as exc:
            environ[_BODY_KEY] = exc
    found = environ[_BODY_KEY]
    if isinstance(found, exception.DCManagerException):
        raise found
    if not isinstance(found, dict):
        raise exception.MalformedBody()
    return found


def json_body() -> dict[str, Any]:
    """The request's JSON object, read now (call it after the policy check).

    :raises BodyRequired: the body is empty.
    :raises MalformedBody: the body is not a JSON object.
    :raises BodyTooLarge: the body is longer than the route allows.
    """
    return _body(allow_form=False)


def json_or_form_body() -> dict[str, Any]:
    """The request's JSON object, or its multipart/form-data fields as strings (how
    StarlingX's client sends updates and prestage requests); the same values follow,
    since every check accepts strings where a client may send them.

    :raises Invalid: as :func:`json_body`, and a form without a boundary or that does
        not parse.
    """
    return _body(allow_form=True)


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


def parse_page(query: Any, max_limit: int, what: str) -> tuple[int | None, int | None]:
    """``limit`` (1 to ``max_limit``) and ``marker`` (the id of the last ``what`` of the
    page before) of a paged list's query string; None where not given.

    :raises Invalid: either is not what it must be.
    """
    limit = marker = None
    if "limit" in query:
        limit = parse_int(query["limit"])
        if limit is None or not 1 <= limit <= max_limit:
            raise exception.Invalid(
                f"Invalid limit '{query['limit']}': must be an integer from 1 to {max_limit}"
            )
    if "marker" in query:
        marker = parse_int(query["marker"])
        if marker is None:
            raise exception.Invalid(f"Invalid marker '{query['marker']}': must be {what} id")
    return limit, marker


# What an ISO 8601 time looks like, in messages.
TIME_EXAMPLE = "2026-12-24T22:00:00Z"


def parse_time(field: str, value: Any) -> datetime.datetime:
    """An ISO 8601 time, in UTC (without an offset it is UTC).

    :raises Invalid: it is not one.
    """
    try:
        if not isinstance(value, str):
            raise ValueError
        parsed = datetime.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.astimezone(datetime.UTC)
    except (ValueError, OverflowError):  # the latter: out of range once in UTC
        raise exception.Invalid(
            f"Invalid {field} '{value}': must be an ISO 8601 time (e.g. {TIME_EXAMPLE})"
        ) from None


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
