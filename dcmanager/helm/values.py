"""Helm's values pipeline: values files merged, ``--set*`` expressions parsed into the
result, and the result coalesced with a chart's defaults.

The order is by kind of input, never by position on the command line (:data:`ORDER`).
"""

import copy
import dataclasses
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from dcmanager.helm import strvals
from dcmanager.helm import yamlio
from dcmanager.helm.maps import merge_maps
from dcmanager.helm.strvals import ValuesError

ORDER = ("files", "set_json", "set", "set_string", "set_file", "set_literal")
"""The kinds of input, in the order Helm applies them."""

MAX_DEPTH = 100
"""How deeply user values may nest (maps and lists). Helm has no limit; ours keeps
every later step (merging, writing YAML) within Python's recursion limit."""


def _check_depth(values: dict[str, Any]) -> None:
    """:raises ValuesError: ``values`` nest deeper than :data:`MAX_DEPTH`."""
    stack: list[tuple[Any, int]] = [(values, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValuesError(f"the values nest deeper than {MAX_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def coalesce(defaults: Mapping[str, Any], user: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """What Helm deploys: ``user`` over a chart's ``defaults``.

    User values win; maps merge deeply; lists and scalars replace; ``key: null`` removes
    a key the defaults give a value. Below the top level a null over no default, or over
    a null, stays (helm/helm#31644); at the top level a null for any key the defaults
    have goes. Nulls of the defaults' own are kept: Helm 4.2.3 drops them, which
    helm/helm#32530 reports as a regression of 4.2.0. Neither argument is changed.

    :returns: the values, and Helm's warnings (a scalar over a default table, a table
        over a default scalar).
    """
    warnings: list[str] = []
    result = copy.deepcopy(dict(user))
    for key, default in copy.deepcopy(dict(defaults)).items():
        if key not in result:
            result[key] = default
        elif result[key] is None:
            del result[key]
        elif isinstance(result[key], dict):
            if isinstance(default, dict):
                _coalesce_tables(result[key], default, key, warnings)
            elif default is not None:
                warnings.append(f"skipped value for {key}: Not a table.")
    return result, warnings


def _coalesce_tables(dst: dict, src: dict, prefix: str, warnings: list[str]) -> None:
    for key, value in src.items():
        path = f"{prefix}.{key}"
        if key not in dst:
            dst[key] = value
        elif dst[key] is None:
            if value is not None:  # a null over a null default is the user's, and stays
                del dst[key]
        elif isinstance(value, dict):
            if isinstance(dst[key], dict):
                _coalesce_tables(dst[key], value, path, warnings)
            else:
                warnings.append(f"cannot overwrite table with non table for {path}")
        elif isinstance(dst[key], dict) and value is not None:
            warnings.append(f"destination for {path} is a table. Ignoring non-table value")


@dataclasses.dataclass(frozen=True)
class Inputs:
    """One ``helm --values/--set*`` command line's worth of values, by kind."""

    files: Sequence[str] = ()
    """YAML texts."""
    set_json: Sequence[str] = ()
    set: Sequence[str] = ()
    set_string: Sequence[str] = ()
    set_file: Sequence[str] = ()
    """Expressions whose values are paths, read through ``read_file``."""
    set_literal: Sequence[str] = ()

    def __bool__(self) -> bool:
        return any(getattr(self, kind) for kind in ORDER)


def _no_files(path: str) -> str:
    raise ValuesError(f"no file {strvals.quote(path)} was provided")


def user_values(
    inputs: Inputs,
    read_file: Callable[[str], str] = _no_files,
    max_values: int | None = None,
    reused: str = "",
) -> dict[str, Any]:
    """Helm's user-supplied values: the files merged left to right, then each kind of
    expression parsed into the result in :data:`ORDER`. Nulls are kept.

    ``reused`` is YAML read before the files (the stored values, with Helm's
    ``--reuse-values``). ``max_values`` caps the values the files expand to (aliases
    written out), together, and the list elements the expressions create, together.

    :raises ValuesError: naming the input (``set[1] "a,b=c": ...``) and the problem.
    """
    values: dict[str, Any] = {}
    file_budget = None
    if max_values:
        file_budget = strvals.Budget(max_values, "the values files expand to more than %d values")
    sources = [("the stored user overrides", reused)] if reused else []
    sources += [(f"files[{index}]", text) for index, text in enumerate(inputs.files)]
    for name, text in sources:
        try:
            values = merge_maps(values, yamlio.load_values(text, file_budget))
        except ValuesError as exc:
            raise ValuesError(f"{name}: {exc}") from exc
    budget = strvals.list_budget(max_values) if max_values else None
    parsers: dict[str, Callable[[str, dict[str, Any]], None]] = {
        "set_json": lambda text, data: strvals.parse_set_json(text, data, budget),
        "set": lambda text, data: strvals.parse_set(text, data, budget),
        "set_string": lambda text, data: strvals.parse_set_string(text, data, budget),
        "set_file": lambda text, data: strvals.parse_set_file(text, data, read_file, budget),
        "set_literal": lambda text, data: strvals.parse_set_literal(text, data, budget),
    }
    for kind in ORDER[1:]:
        for index, expression in enumerate(getattr(inputs, kind)):
            try:
                parsers[kind](expression, values)
            except ValuesError as exc:
                raise ValuesError(f"{kind}[{index}] {strvals.quote(expression)}: {exc}") from exc
            except RecursionError as exc:
                raise ValuesError(f"{kind}[{index}]: nested too deeply to be read") from exc
    _check_depth(values)
    return values
