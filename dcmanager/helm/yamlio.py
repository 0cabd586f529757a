"""YAML read with Helm's typing, and written so that Helm reads back the same values.

Helm's YAML is YAML 1.1 as Go reads it, then a trip through JSON. Compared with
PyYAML's ``safe_load`` that means (``doc/helm-overrides.md`` has the table):

- ``y``/``n``/``yes``/``on``/``off`` (listed case forms only) are booleans;
- numbers are read like Go's ``strconv`` with base prefixes (``0o17``, ``0x1F``,
  ``0b11``, ``017``), underscores dropped, ``1e3`` and ``08`` are numbers; then every
  number becomes a 64-bit float (:mod:`dcmanager.helm.numbers`);
- no timestamps (``2001-12-14`` stays a string) and no base-60 (``1:20`` stays a string);
- map keys become strings (``1: a`` has the key ``"1"``, ``yes: a`` the key ``"true"``);
- ``.inf`` and ``.nan`` cannot become JSON, so a file holding them is refused.

Writing: keys sorted, 2-space indentation, no line folding, multi-line strings as
literal blocks, and any string that Helm *or* PyYAML would read as something else is
quoted, so the text means the same to both.
"""

import decimal
import re
import struct
from typing import Any

import yaml
from yaml import nodes

from dcmanager.helm import numbers
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
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_NUMBER_START = "+-.0123456789"
_NUMBER_TAG = "tag:dcmanager,2026:helm-number"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
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
    elif len(digits) > 20:
        return None
    else:
        magnitude = int(digits)
    if sign == "-":
        return -magnitude if magnitude <= _INT64_MAX + 1 else None
    # A sign is not accepted beyond int64 (strconv.ParseUint takes none).
    limit = _INT64_MAX if sign else _UINT64_MAX
    return magnitude if magnitude <= limit else None


def plain_scalar(text: str) -> Any:
    """What Helm makes of an unquoted scalar: bool, null, number or the text itself.

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
        if _DOT_FLOAT.fullmatch(text):
            return numbers.as_float64(float(text))
        return text
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return numbers.as_float64(number)
    if _YAML_FLOAT.fullmatch(plain):
        value = float(plain)
        if value not in (float("inf"), float("-inf")):
            return numbers.as_float64(value)
    return text


# LibYAML's parser and emitter when PyYAML has them (about three times faster); the
# typing and the representation are ours either way.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_BaseLoader):
    """PyYAML's safe loader with Helm's implicit types (see the module docstring)."""

    yaml_implicit_resolvers: dict = {}
    yaml_constructors = dict(yaml.SafeLoader.yaml_constructors)


for _first in set("yYnNtTfFoO"):
    _Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r".*", re.S), [_first])
for _first in ("~", "n", "N", ""):
    _Loader.add_implicit_resolver(_NULL_TAG, re.compile(r"(?:~|null|Null|NULL|)\Z"), [_first])
_Loader.add_implicit_resolver(_NUMBER_TAG, re.compile(r".*", re.S), list(_NUMBER_START))
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"<<\Z"), ["<"])
for _tag in ("timestamp", "binary", "set", "omap", "pairs"):
    _Loader.yaml_constructors.pop(f"tag:yaml.org,2002:{_tag}", None)


def _construct_plain(loader: _Loader, node: nodes.ScalarNode) -> Any:
    try:
        return plain_scalar(loader.construct_scalar(node))
    except _SpecialFloat as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{exc} cannot be used: Helm converts values to JSON", node.start_mark
        ) from exc


def _construct_float(loader: _Loader, node: nodes.ScalarNode) -> Any:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    try:
        return numbers.as_float64(value)
    except numbers.NumberError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{exc}: Helm converts values to JSON", node.start_mark
        ) from exc


def _construct_int(loader: _Loader, node: nodes.ScalarNode) -> Any:
    return numbers.as_float64(yaml.SafeLoader.construct_yaml_int(loader, node))


def _construct_unknown(loader: _Loader, node: nodes.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"the tag {node.tag} is not supported in values", node.start_mark
    )


_Loader.add_constructor(_NUMBER_TAG, _construct_plain)
_Loader.add_constructor(_BOOL_TAG, _construct_plain)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor(None, _construct_unknown)


def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def _go_float32_text(value: float) -> str:
    """Go's ``FormatFloat(value, 'g', -1, 32)``: how Helm names a map key that is a
    float (``1.5: x`` has the key ``"1.5"``)."""
    try:
        single = _float32(value)
    except OverflowError:
        return ".inf" if value > 0 else "-.inf"
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
    raise yaml.constructor.ConstructorError(
        None, None, "a map key must be text, a number or a boolean", node.start_mark
    )


def _construct_mapping(loader: _Loader, node: nodes.Node, deep: bool = False) -> dict:
    # Keys become strings as they are read: True and 1 must not collide.
    if not isinstance(node, nodes.MappingNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a map, found {node.id}", node.start_mark
        )
    loader.flatten_mapping(node)
    mapping = {}
    for key_node, value_node in node.value:
        key = _key(loader.construct_object(key_node, deep=True), key_node)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_Loader.construct_mapping = _construct_mapping

# How many values one document may expand to. Aliases let a small text stand for an
# enormous document ("a billion laughs"); Helm's YAML parser refuses excessive aliasing
# too.
MAX_EXPANDED_VALUES = 1_000_000


class _Recursive(Exception):
    def __init__(self, node: nodes.Node) -> None:
        self.node = node


def _expanded_size(node: nodes.Node, sizes: dict[int, int | None]) -> int:
    """How many nodes ``node`` stands for once every alias is written out (each shared
    node is counted once per use, computed once).

    :raises _Recursive: a node contains itself.
    """
    if id(node) in sizes:
        known = sizes[id(node)]
        if known is None:
            raise _Recursive(node)
        return known
    sizes[id(node)] = None  # in progress
    if isinstance(node, nodes.MappingNode):
        size = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    elif isinstance(node, nodes.SequenceNode):
        size = 1 + sum(_expanded_size(item, sizes) for item in node.value)
    else:
        size = 1
    sizes[id(node)] = size
    return size


def _construct_document(loader: _Loader, node: nodes.Node) -> Any:
    try:
        size = _expanded_size(node, {})
    except _Recursive as exc:
        raise yaml.constructor.ConstructorError(
            None, None, "an alias refers to a value that contains it", exc.node.start_mark
        ) from None
    if size > MAX_EXPANDED_VALUES:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"the document expands to more than {MAX_EXPANDED_VALUES} values through aliases",
            node.start_mark,
        )
    return _BaseLoader.construct_document(loader, node)


_Loader.construct_document = _construct_document


def load_values(text: str) -> dict[str, Any]:
    """A values file as Helm reads it: each YAML document merged over the previous
    one (:func:`dcmanager.helm.values.merge_maps`); an empty file or document is ``{}``.

    :raises ValuesError: the text is not YAML, or a document is not a map.
    """
    from dcmanager.helm.values import merge_maps  # noqa: PLC0415 - values imports this

    result: dict[str, Any] = {}
    try:
        for number, document in enumerate(yaml.load_all(text, Loader=_Loader), 1):
            if document is None:
                continue
            if not isinstance(document, dict):
                raise ValuesError(f"document {number} is a {_kind(document)}, not a map of values")
            result = merge_maps(result, document)
    except yaml.YAMLError as exc:
        raise ValuesError(_yaml_problem(exc)) from exc
    except RecursionError as exc:
        raise ValuesError("nested too deeply") from exc
    return result


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
    def ignore_aliases(self, data: Any) -> bool:
        # Merged maps share parts; Helm users expect them written out, not anchored.
        return True


def _reads_as_other(dumper: _Dumper, text: str) -> bool:
    """Whether unquoted ``text`` would be read as something other than this string,
    by Helm or by PyYAML."""
    try:
        if plain_scalar(text) is not text:
            return True
    except _SpecialFloat:
        return True
    return dumper.resolve(nodes.ScalarNode, text, (True, False)) != _STR_TAG


def _represent_str(dumper: _Dumper, data: str) -> nodes.ScalarNode:
    style = None
    if "\n" in data:
        style = "|"
    elif _reads_as_other(dumper, data):
        style = "'"
    return dumper.represent_scalar(_STR_TAG, data, style=style)


def _represent_secret(dumper: _Dumper, data: Secret) -> nodes.ScalarNode:
    return dumper.represent_scalar(_STR_TAG, SECRET_MASK, style="'")


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Secret, _represent_secret)


def dump(values: dict[str, Any], *, flow: bool = False) -> str:
    """``values`` as YAML text; ``""`` for no values. ``flow`` writes innermost maps and
    lists on one line (``replicas: {server: 1}``), as system overrides are shown."""
    if not values:
        return ""
    return yaml.dump(
        values,
        Dumper=_Dumper,
        default_flow_style=None if flow else False,
        sort_keys=True,
        indent=2,
        width=2**31 - 1,
        allow_unicode=True,
    )
