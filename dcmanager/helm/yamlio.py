"""YAML read with Helm's typing, and written so that Helm reads back the same values.

Helm's YAML is YAML 1.1 as Go reads it, then a trip through JSON. Compared with
PyYAML's ``safe_load`` that means (``doc/helm-overrides.md`` has the table):

- ``y``/``n``/``yes``/``on``/``off`` (listed case forms only) are booleans;
- numbers are read like Go's ``strconv`` with base prefixes (``0o17``, ``0x1F``,
  ``0b11``, ``017``), underscores dropped, ``1e3`` and ``08`` are numbers; then every
  number becomes a 64-bit float (:mod:`dcmanager.helm.numbers`);
- no timestamps (``2001-12-14`` stays a string) and no base-60 (``1:20`` stays a string);
- map keys become strings (``1: a`` has the key ``"1"``, ``yes: a`` the key ``"true"``);
- ``.inf`` and ``.nan`` cannot become JSON, so a file holding them is refused;
- every use of an alias is a copy of its own (JSON has no shared values).

Writing: keys sorted, 2-space indentation, no line folding, multi-line strings as
literal blocks, and any string that Helm *or* PyYAML would read as something else is
quoted, so the text means the same to both.
"""

import decimal
import math
import re
import struct
from typing import Any

import yaml
from yaml import nodes

from dcmanager.helm import numbers
from dcmanager.helm.maps import merge_maps
from dcmanager.helm.strvals import Budget
from dcmanager.helm.strvals import ValuesError

_BOOL = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
}
_NULL = ("", "~", "null", "Null", "NULL")
_SPECIAL_FLOATS = {
    ".nan", ".NaN", ".NAN",
    ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
}  # fmt: skip
# Go's strconv.ParseInt(text, 0, 64): base prefixes, a leading 0 for octal.
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
# What Go's strconv.ParseFloat takes in a scalar that starts with ".": Go's YAML tries it
# on the text as written, where "_" may stand only between two digits (".5_5" is 0.55).
_DOT_FLOAT = re.compile(r"\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?")
_NUMBER_START = "+-.0123456789"
_PLAIN_TAG = "tag:dcmanager,2026:helm-plain"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"
_UINT64_MAX = 2**64 - 1
_INT64_MAX = 2**63 - 1


class _SpecialFloat(Exception):
    pass


def _go_int(text: str) -> int | None:
    found = _GO_INT.fullmatch(text)
    if found is None:
        return None
    sign, digits = found.groups()
    if digits[:2] in ("0x", "0X"):
        magnitude = int(digits[2:], 16)
    elif digits[:2] in ("0o", "0O"):
        magnitude = int(digits[2:], 8)
    elif digits[:2] in ("0b", "0B"):
        magnitude = int(digits[2:], 2)
    elif digits.startswith("0"):
        magnitude = int(digits, 8)
    else:
        significant = digits.lstrip("0")
        if len(significant) > 20:
            return None
        magnitude = int(significant or "0")
    if sign == "-":
        return -magnitude if magnitude <= _INT64_MAX + 1 else None
    # A sign is not accepted beyond int64 (strconv.ParseUint takes none).
    limit = _INT64_MAX if sign else _UINT64_MAX
    return magnitude if magnitude <= limit else None


def _go_float(text: str) -> float | None:
    """A float as Helm's YAML reads one (after ``_`` are dropped), None if it is not."""
    if not _YAML_FLOAT.fullmatch(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


def _resolve(text: str) -> Any:
    """What Go's YAML makes of an unquoted scalar: bool, null, int, float or the text.

    :raises _SpecialFloat: it is ``.inf`` or ``.nan``.
    """
    if text in _BOOL:
        return _BOOL[text]
    if text in _NULL:
        return None
    if text in _SPECIAL_FLOATS:
        raise _SpecialFloat(text)
    if not text or text[0] not in _NUMBER_START:
        return text
    if text[0] == ".":
        # Beyond a float's range (".5e400") ParseFloat fails, and the text stays text.
        value = _go_float(text.replace("_", "")) if _DOT_FLOAT.fullmatch(text) else None
        return text if value is None else value
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    value = _go_float(plain)
    return text if value is None else value


def plain_scalar(text: str) -> Any:
    """What Helm makes of an unquoted scalar: bool, null, number (as it holds them,
    :func:`dcmanager.helm.numbers.as_float64`) or the text itself.

    :raises _SpecialFloat: it is ``.inf`` or ``.nan``.
    """
    value = _resolve(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return numbers.as_float64(value)
    return value


def _error(node: nodes.Node, problem: str) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


# LibYAML's parser (about three times faster than PyYAML's own) when PyYAML has it, under
# PyYAML's composer: LibYAML's composer recurses in C without a limit and a deep enough
# document would crash the process; the Python one stops with a RecursionError.
_CParser = getattr(getattr(yaml, "_yaml", None), "CParser", None)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

if _CParser is not None:

    class _BaseLoader(
        yaml.composer.Composer,
        _CParser,
        yaml.constructor.SafeConstructor,
        yaml.resolver.Resolver,
    ):
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without LibYAML
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):
    """A safe loader with Helm's implicit types (see the module docstring), that counts
    what each document expands to against ``budget``."""

    yaml_implicit_resolvers: dict = {}
    yaml_constructors = dict(yaml.SafeLoader.yaml_constructors)
    budget: Budget | None = None

    def construct_mapping(self, node: nodes.Node, deep: bool = False) -> dict:
        # Keys become strings as they are read (True and 1 must not collide), from what
        # Go's YAML reads them as: an integer key stays exact, a float key is a float.
        if not isinstance(node, nodes.MappingNode):
            raise _error(node, f"expected a map, found {node.id}")
        self.flatten_mapping(node)
        mapping = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, nodes.ScalarNode) and key_node.tag == _PLAIN_TAG:
                try:
                    key = _resolve(key_node.value)
                except _SpecialFloat:
                    key = _SPECIAL_FLOAT_KEYS[key_node.value.lower().lstrip("+")]
            else:
                key = self.construct_object(key_node, deep=True)
            mapping[_key(key, key_node)] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_document(self, node: nodes.Node) -> Any:
        try:
            size, shared = _expanded_size(node, {})
        except _Recursive as exc:
            raise _error(exc.node, "an alias refers to a value that contains it") from None
        if self.budget is not None:
            try:
                self.budget.spend(size)
            except ValuesError as exc:
                raise _error(node, str(exc)) from None
        data = super().construct_document(node)
        # Helm reads YAML through JSON: every use of an alias is a copy of its own, which
        # a --set changes alone.
        return _unshared(data) if shared else data


_SPECIAL_FLOAT_KEYS = {".inf": ".inf", "-.inf": "-.inf", ".nan": ".nan"}

# Every unquoted scalar that may be something other than text gets our own tag, and
# _resolve() decides; explicit tags (!!bool, !!int...) have their own constructors.
_Loader.add_implicit_resolver(_PLAIN_TAG, re.compile(r".*", re.S), [*"yYnNtTfFoO~", *_NUMBER_START])
_Loader.add_implicit_resolver(_PLAIN_TAG, re.compile(r"\Z"), [""])
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"<<\Z"), ["<"])
for _tag in ("timestamp", "binary", "set", "omap", "pairs"):
    _Loader.yaml_constructors.pop(f"tag:yaml.org,2002:{_tag}", None)


def _construct_plain(loader: _Loader, node: nodes.ScalarNode) -> Any:
    try:
        return plain_scalar(loader.construct_scalar(node))
    except _SpecialFloat as exc:
        raise _error(node, f"{exc} cannot be used: Helm converts values to JSON") from exc


def _construct_tagged(kind: str) -> Any:
    """The constructor of an explicit ``!!int``, ``!!float``, ``!!bool`` or ``!!null``:
    the text must read as that kind, as Go's YAML requires."""

    def construct(loader: _Loader, node: nodes.ScalarNode) -> Any:
        text = loader.construct_scalar(node)
        try:
            value = _resolve(text)
        except _SpecialFloat:
            value = None
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        wanted = {"int": int, "float": float, "bool": bool, "null": type(None)}[kind]
        if not isinstance(value, wanted) or (kind == "int" and isinstance(value, bool)):
            raise _error(node, f"{text!r} is not a valid !!{kind}")
        return numbers.as_float64(value) if kind in ("int", "float") else value

    return construct


def _construct_unknown(loader: _Loader, node: nodes.Node) -> Any:
    raise _error(node, f"the tag {node.tag} is not supported in values")


_Loader.add_constructor(_PLAIN_TAG, _construct_plain)
for _kind_name in ("int", "float", "bool", "null"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_kind_name}", _construct_tagged(_kind_name))
_Loader.add_constructor(None, _construct_unknown)


def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def _go_float32_text(value: float) -> str:
    """Go's ``FormatFloat(value, 'g', -1, 32)``: how Helm names a map key that is a
    float (``1.5: x`` has the key ``"1.5"``, ``1e6: x`` the key ``"1e+06"``)."""
    try:
        single = _float32(value)
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    for precision in range(9):
        text = f"{single:.{precision}e}"
        if _float32(float(text)) == single:
            break
    mantissa, exponent = text.split("e")
    power = int(exponent)
    if power < -4 or power >= 6:
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{'+' if power >= 0 else '-'}{abs(power):02d}"
    return format(decimal.Decimal(text).normalize(), "f")


def _key(key: Any, node: nodes.Node) -> str:
    """A map key as Helm names it after its trip through JSON."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _go_float32_text(key)
    raise _error(node, "a map key must be text, a number or a boolean")


class _Recursive(Exception):
    def __init__(self, node: nodes.Node) -> None:
        self.node = node


def _expanded_size(node: nodes.Node, sizes: dict[int, int | None]) -> tuple[int, bool]:
    """How many nodes ``node`` stands for once every alias is written out (a shared node
    counts once per use, and is computed once), and whether any collection is shared.

    :raises _Recursive: a node contains itself.
    """
    if id(node) in sizes:
        known = sizes[id(node)]
        if known is None:
            raise _Recursive(node)
        return known, not isinstance(node, nodes.ScalarNode)
    sizes[id(node)] = None  # in progress
    size, shared = 1, False
    if isinstance(node, nodes.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, nodes.SequenceNode):
        children = node.value
    else:
        children = []
    for child in children:
        child_size, child_shared = _expanded_size(child, sizes)
        size += child_size
        shared = shared or child_shared
    sizes[id(node)] = size
    return size, shared


def _unshared(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _unshared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshared(item) for item in value]
    return value


def load_values(text: str, budget: Budget | None = None) -> dict[str, Any]:
    """A values file as Helm reads it: each YAML document merged over the previous
    one (:func:`dcmanager.helm.maps.merge_maps`); an empty file or document is ``{}``.

    ``budget`` counts the values the documents expand to (aliases written out); without
    one, each document may expand to :data:`MAX_EXPANDED_VALUES`.

    :raises ValuesError: the text is not YAML, a document is not a map, or the budget
        is exceeded.
    """
    result: dict[str, Any] = {}
    loader = _Loader(text)
    loader.budget = budget
    number = 0
    try:
        while loader.check_data():
            number += 1
            if budget is None:
                loader.budget = Budget(
                    MAX_EXPANDED_VALUES, "the document expands to more than %d values"
                )
            document = loader.get_data()
            if document is None:
                continue
            if not isinstance(document, dict):
                raise ValuesError(f"document {number} is a {_kind(document)}, not a map of values")
            result = merge_maps(result, document)
    except yaml.YAMLError as exc:
        raise ValuesError(_yaml_problem(exc)) from exc
    except RecursionError as exc:
        raise ValuesError("nested too deeply") from exc
    finally:
        loader.dispose()
    return result


# How many values one document may expand to when no budget is given.
MAX_EXPANDED_VALUES = 1_000_000


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    return "string" if isinstance(value, str) else "scalar"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"invalid YAML: {problem}"


# Writing.

SECRET_MASK = "******"


class Secret:
    """A generated secret (a password): shown only as :data:`SECRET_MASK`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(******)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _Dumper(_BaseDumper):
    """Writes what Helm reads back as the same values; PyYAML's flow-style choices."""

    def ignore_aliases(self, data: Any) -> bool:
        # Merged maps share parts; Helm users expect them written out, not anchored.
        return True

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        # A string Helm would read as something else is not written plain: telling the
        # emitter it would resolve to another type makes it quote it.
        tag = super().resolve(kind, value, implicit)
        if kind is nodes.ScalarNode and implicit[0] and tag == _STR_TAG:
            try:
                other = _resolve(value) is not value
            except _SpecialFloat:
                other = True
            if other:
                return _BOOL_TAG
        return tag


class _BlockDumper(_Dumper):
    """Block style, multi-line strings as literal blocks."""


def _represent_secret(dumper: _Dumper, data: Secret) -> nodes.ScalarNode:
    return dumper.represent_scalar(_STR_TAG, SECRET_MASK)


def _represent_block_str(dumper: _Dumper, data: str) -> nodes.ScalarNode:
    return dumper.represent_scalar(_STR_TAG, data, style="|" if "\n" in data else None)


_Dumper.add_representer(Secret, _represent_secret)
_BlockDumper.add_representer(str, _represent_block_str)


def dump(values: dict[str, Any], *, flow: bool = False) -> str:
    """``values`` as YAML text; ``""`` for no values. ``flow`` writes maps and lists of
    scalars on one line (``replicas: {server: 1}``), as PyYAML's ``safe_dump(...,
    default_flow_style=None)`` does: how system overrides are shown."""
    if not values:
        return ""
    return yaml.dump(
        values,
        Dumper=_Dumper if flow else _BlockDumper,
        default_flow_style=None if flow else False,
        sort_keys=True,
        indent=2,
        width=2**31 - 1,
        allow_unicode=True,
    )
