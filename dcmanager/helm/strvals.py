"""Helm's ``--set`` expression grammars: ``--set``, ``--set-string``, ``--set-file``,
``--set-json`` and ``--set-literal``.

Every expression is parsed *into* an existing values map, reusing and changing what is
there (``a: {x: 1}`` plus ``a.y=2`` gives ``a: {x: 1, y: 2}``), one assignment at a
time, character by character, the way Helm reads them; ``doc/helm-overrides.md`` lists
the rules. Where Helm's wording for an error is part of what users search for, the
message keeps it; type conflicts, which Helm reports as a Go runtime panic, get a
sentence of our own.

End of input is a control-flow signal here (:class:`_End`), as ``io.EOF`` is in Helm:
several places stop quietly on it after setting what they had read.
"""

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from dcmanager.helm import numbers

MAX_NESTED_NAME_LEVEL = 30
"""How many ``.`` one key may hold."""
MAX_INDEX = 65536
"""The largest list index an expression may name (the list grows to it)."""

Reader = Callable[[str], Any]
"""Turns the text of one value into the value."""


class ValuesError(ValueError):
    """An expression or a values file that Helm would refuse; the message says why."""


class _End(Exception):
    """The input ended (Helm's ``io.EOF``); not an error where the grammar allows it."""


_KEY_STOP = "=[,."
_LITERAL_KEY_STOP = "=[."
_INDEX_STOP = "]"
_AFTER_INDEX_STOP = "[.="
_VALUE_STOP = ","
_LIST_STOP = ",}"
_GO_SIGNED_DIGITS = re.compile(r"[+-]?[0-9]+")
# A value longer than this cannot be a 64-bit integer (and int() of a very long digit
# string is refused by Python anyway).
_MAX_INT_DIGITS = 19
_INT64 = (-(2**63), 2**63 - 1)


def _go_decimal(text: str) -> int | None:
    """``text`` as Go's ``strconv.ParseInt(text, 10, 64)`` reads it: an optional sign
    and ASCII digits (leading zeros allowed), within 64 bits; None otherwise."""
    if not (text.isascii() and _GO_SIGNED_DIGITS.fullmatch(text)):
        return None
    sign = "-" if text[0] == "-" else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > _MAX_INT_DIGITS + 1:  # int() refuses very long texts; not 64-bit
        return None
    number = int(sign + digits)
    return number if _INT64[0] <= number <= _INT64[1] else None


def quote(text: str) -> str:
    """``text`` in double quotes with escapes, as error messages show keys."""
    return json.dumps(text, ensure_ascii=False)


def type_name(value: Any) -> str:
    """How an error names the type of a value already in the map."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def typed_value(text: str) -> Any:
    """A ``--set`` value as Helm types it: booleans and null in any case, ``0``, and
    base-10 64-bit integers not starting with ``0``; everything else (floats included)
    stays a string."""
    folded = text.casefold()
    if folded == "true":
        return True
    if folded == "false":
        return False
    if folded == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0":
        number = _go_decimal(text)
        if number is not None:
            return number
    return text


def string_value(text: str) -> str:
    """A ``--set-string`` value: always the text."""
    return text


def _is_go_space(char: str) -> bool:
    """Go's ``unicode.IsSpace``: narrower than ``str.isspace`` (no separators)."""
    if char <= "\xff":
        return char in "\t\n\v\f\r \x85\xa0"
    return char in "\u1680\u2028\u2029\u202f\u205f\u3000" or "\u2000" <= char <= "\u200a"


def _atoi(text: str) -> int:
    """A list index as Go's ``strconv.Atoi`` reads it: an optional sign and ASCII
    digits, nothing else (no spaces)."""
    if not (text.isascii() and _GO_SIGNED_DIGITS.fullmatch(text)):
        raise ValuesError(f"error parsing index: {quote(text)} is not an integer")
    number = _go_decimal(text)
    if number is None:
        raise ValuesError(f"error parsing index: {quote(text)} is out of range")
    return number


@functools.cache
def _stop_pattern(stop: str, escapes: bool) -> re.Pattern:
    """Finds the next character of ``stop`` (or a backslash, with ``escapes``)."""
    return re.compile("[" + re.escape(stop + ("\\" if escapes else "")) + "]")


class _Scanner:
    """The expression text and a position in it."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def read(self) -> str | None:
        if self.pos >= len(self.text):
            return None
        char = self.text[self.pos]
        self.pos += 1
        return char

    def unread(self) -> None:
        self.pos -= 1

    def rest(self) -> str:
        text = self.text[self.pos :]
        self.pos = len(self.text)
        return text

    def until(self, stop: str, escapes: bool) -> tuple[str, str | None]:
        """The text up to the first character of ``stop`` (consumed and returned as
        the second item, None at the end of input). With ``escapes``, a backslash takes
        the next character as it is; one at the very end is dropped."""
        pattern = _stop_pattern(stop, escapes)
        parts = []
        text = self.text
        while True:
            found = pattern.search(text, self.pos)
            if found is None:
                parts.append(text[self.pos :])
                self.pos = len(text)
                return "".join(parts), None
            start = found.start()
            parts.append(text[self.pos : start])
            char = text[start]
            if char == "\\":
                parts.append(text[start + 1 : start + 2])
                self.pos = min(start + 2, len(text))
                continue
            self.pos = start + 1
            return "".join(parts), char


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    if key:  # an empty key sets nothing
        data[key] = value


class Budget:
    """How many more values of some kind a request may create, all together.

    Helm has no such limits; without them a few kilobytes of ``a[65536]=x`` expressions,
    or of YAML aliases, would stand for billions of values.
    """

    def __init__(self, limit: int, message: str) -> None:
        """``message`` has a ``%d`` for the limit."""
        self.limit = limit
        self.left = limit
        self.message = message

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise ValuesError(self.message % self.limit)


def list_budget(elements: int) -> Budget:
    """The list elements expressions may create, padding included."""
    return Budget(elements, "the expressions make more than %d list elements")


def _set_index(items: list[Any], index: int, value: Any, budget: Budget | None = None) -> list[Any]:
    if len(items) <= index:
        if budget is not None:
            budget.spend(index + 1 - len(items))
        items.extend([None] * (index + 1 - len(items)))
    items[index] = value
    return items


def _existing(data: dict[str, Any], key: str, kind: type) -> Any:
    """What ``key`` holds if it is a ``kind``, a new empty one if it is absent.

    :raises ValuesError: it holds something else (Helm fails on this too).
    """
    if key not in data:
        return kind()
    value = data[key]
    if not isinstance(value, kind):
        wanted = "map" if kind is dict else "list"
        raise ValuesError(
            f"key {quote(key)} holds a {type_name(value)}, not a {wanted}: "
            f"it cannot be {'nested into' if kind is dict else 'indexed'}"
        )
    return value


class _Parser:
    def __init__(
        self,
        text: str,
        data: dict[str, Any],
        reader: Reader,
        *,
        json_values: bool = False,
        literal: bool = False,
        budget: Budget | None = None,
    ) -> None:
        self.scan = _Scanner(text)
        self.budget = budget
        self.data = data
        self.reader = reader
        self.json_values = json_values
        self.literal = literal
        self.escapes = not literal

    def parse(self) -> None:
        try:
            while True:
                self._key(self.data, 0)
        except _End:
            return

    def _until(self, stop: str) -> tuple[str, str | None]:
        return self.scan.until(stop, self.escapes)

    def _key(self, data: dict[str, Any], level: int) -> None:
        key, last = self._until(_LITERAL_KEY_STOP if self.literal else _KEY_STOP)
        if last is None:
            if not key:
                raise _End
            raise ValuesError(f"key {quote(key)} has no value")
        if last == "=":
            _set(data, key, self._assigned())
        elif last == ",":
            raise ValuesError(f"key {quote(key)} has no value (cannot end with ,)")
        elif last == "[":
            index = self._index()
            items = _existing(data, key, list)
            try:
                items = self._list_item(items, index, level)
            except _End:
                _set(data, key, items)
                raise
            _set(data, key, items)
        else:  # "."
            level += 1
            if level > MAX_NESTED_NAME_LEVEL:
                raise ValuesError(
                    "value name nested level is greater than maximum supported nested "
                    f"level of {MAX_NESTED_NAME_LEVEL}"
                )
            inner = _existing(data, key, dict)
            try:
                self._key(inner, level)
            except _End:
                if inner:
                    _set(data, key, inner)
                raise
            if not inner:
                raise ValuesError(f"key map {quote(key)} has no value")
            _set(data, key, inner)

    def _index(self) -> int:
        text, last = self._until(_INDEX_STOP)
        if last is None:
            raise _End
        return _atoi(text)

    def _list_item(self, items: list[Any], index: int, level: int) -> list[Any]:
        if index < 0:
            raise ValuesError(f"negative {index} index not allowed")
        if index > MAX_INDEX:
            raise ValuesError(
                f"index of {index} is greater than maximum supported index of {MAX_INDEX}"
            )
        extra, last = self._until(_AFTER_INDEX_STOP)
        if extra:
            raise ValuesError(f"unexpected data at end of array index: {quote(extra)}")
        if last is None:
            raise _End
        if last == "=":
            return _set_index(items, index, self._assigned(), self.budget)
        if last == "[":
            next_index = self._index()
            nested: list[Any] = []
            if len(items) > index and items[index] is not None:
                nested = items[index]
                if not isinstance(nested, list):
                    raise ValuesError(
                        f"list element {index} holds a {type_name(nested)}, not a list: "
                        "it cannot be indexed"
                    )
            inner_items = self._list_item(nested, next_index, level)
            return _set_index(items, index, inner_items, self.budget)
        # "." makes the element a map; anything else there is silently replaced.
        if len(items) > index:
            if not isinstance(items[index], dict):
                items[index] = {}
            inner = items[index]
        else:
            inner = {}
        self._key(inner, level)
        return _set_index(items, index, inner, self.budget)

    def _assigned(self) -> Any:
        """The value after ``=``."""
        if self.literal:
            return self.scan.rest()
        if self.json_values:
            return self._json_value()
        first = self.scan.read()
        if first is None:
            return ""
        if first != "{":
            self.scan.unread()
            text, _ = self._until(_VALUE_STOP)
            return self.reader(text)
        items = []
        while True:
            text, last = self._until(_LIST_STOP)
            if last is None:
                raise ValuesError("list must terminate with '}'")
            items.append(self.reader(text))
            if last == "}":
                after = self.scan.read()
                if after is not None and after != ",":
                    self.scan.unread()
                return items

    def _skip_blank(self) -> bool:
        """Skip spaces, then one comma: True at a comma or the end (an empty value)."""
        while True:
            char = self.scan.read()
            if char is None or char == ",":
                return True
            if not _is_go_space(char):
                self.scan.unread()
                return False

    def _json_value(self) -> Any:
        if self._skip_blank():
            return None
        start = self.scan.pos
        text = self.scan.text
        try:
            value, end = _JSON.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise ValuesError(
                f"invalid JSON value at character {exc.pos - start + 1}: {exc.msg}"
            ) from exc
        except _NotJSON as exc:
            raise ValuesError(f"invalid JSON value: {exc} is not JSON") from exc
        except ValueError as exc:  # an integer too long for Python to read
            raise ValuesError("invalid JSON value: a number too long to read") from exc
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and text[end : end + 1] in (".", "e", "E")
        ):
            # Go's decoder reads "1.x" or "1e" as a broken number; Python's stops at "1".
            raise ValuesError(f"invalid JSON value at character {end - start + 1}: bad number")
        self.scan.pos = end
        self._skip_blank()
        try:
            return numbers.from_json(value)
        except numbers.NumberError as exc:
            raise ValuesError(f"invalid JSON value: {exc}") from exc


class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str) -> None:
    raise _NotJSON(name)


_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_set(expression: str, data: dict[str, Any], budget: Budget | None = None) -> None:
    """``--set``: values typed (:func:`typed_value`)."""
    _Parser(expression, data, typed_value, budget=budget).parse()


def parse_set_string(expression: str, data: dict[str, Any], budget: Budget | None = None) -> None:
    """``--set-string``: every value a string."""
    _Parser(expression, data, string_value, budget=budget).parse()


def parse_set_file(
    expression: str, data: dict[str, Any], read_file: Reader, budget: Budget | None = None
) -> None:
    """``--set-file``: each value is a path, ``read_file`` turns it into the text."""
    _Parser(expression, data, read_file, budget=budget).parse()


def parse_set_json(expression: str, data: dict[str, Any], budget: Budget | None = None) -> None:
    """``--set-json``: each value is one JSON document (blank is null)."""
    _Parser(expression, data, string_value, json_values=True, budget=budget).parse()


def parse_set_literal(expression: str, data: dict[str, Any], budget: Budget | None = None) -> None:
    """``--set-literal``: one key, no escapes; the value is the rest, untouched."""
    _Parser(expression, data, string_value, literal=True, budget=budget).parse()
