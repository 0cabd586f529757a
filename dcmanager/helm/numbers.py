"""Numbers as Helm holds them after reading a values file or a ``--set-json`` value.

Helm turns YAML into JSON and decodes that, so every number from a file or from JSON
becomes a 64-bit float: ``1.0`` is written back as ``1``, and an integer beyond 2**53
loses precision (``12345678901234567891`` comes back as ``12345678901234567000``).
Integers typed by ``--set`` stay exact 64-bit integers.
"""

import decimal
import math
import re
from typing import Any

_EXACT = 2**53
# Go writes an integral float64 below this without an exponent, as an integer.
_PLAIN_LIMIT = 1e21
_SURROGATE = re.compile("[\ud800-\udfff]")


class NumberError(ValueError):
    """A number Helm cannot hold (infinite or not a number)."""


def as_float64(number: int | float) -> int | float:
    """``number`` after a trip through a 64-bit float: an integral result is an int
    (with the digits Go would print), anything else a float.

    :raises NumberError: it is infinite or NaN, or too large for a float.
    """
    if isinstance(number, int) and -_EXACT <= number <= _EXACT:
        return number
    try:
        value = float(number)
    except OverflowError as exc:
        raise NumberError(f"{number} is too large") from exc
    if math.isinf(value) or math.isnan(value):
        raise NumberError(f"{value} cannot be represented")
    if value.is_integer() and abs(value) < _PLAIN_LIMIT:
        # The shortest digits that read back as this float, then zeros: what Go prints.
        return int(decimal.Decimal(repr(value)))
    return value


def from_json(value: Any) -> Any:
    """A decoded JSON document as Helm holds it: numbers as :func:`as_float64`, lone
    UTF-16 surrogates replaced (Go's decoder does that; they cannot be stored)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        try:
            return as_float64(value)
        except NumberError as exc:
            raise NumberError(f"number {exc}") from exc
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return {_clean(key): from_json(item) for key, item in value.items()}


def _clean(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)
