"""Validation of ``PATCH /helm_charts/{name}``: the flag and the values, by kind."""

from typing import Any

from dcmanager.api import validation
from dcmanager.common import exception
from dcmanager.helm import values
from dcmanager.helm.overrides import Flag

# The kinds of values a request may carry, as Helm's options: lists of texts.
VALUE_KINDS = ("files", "set", "set_string", "set_json", "set_file", "set_literal")
# Where the texts of the ``set_file`` paths travel: {path: text}.
FILE_CONTENTS = "set_file_contents"


def _flag(body: dict[str, Any]) -> Flag:
    flag = body.get("flag")
    if flag is None:
        raise exception.Invalid("Missing flag: it must be either 'reuse' or 'reset'.")
    if not isinstance(flag, str) or flag not in set(Flag):
        raise exception.Invalid(f"Invalid flag: {flag} must be either 'reuse' or 'reset'.")
    return Flag(flag)


def _texts(kind: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(validation.is_storable_text(v) for v in value):
        raise exception.Invalid(f"Invalid values.{kind}: it must be a list of strings")
    return value


def _file_contents(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        validation.is_storable_text(v) for v in value.values()
    ):
        raise exception.Invalid(
            f"Invalid values.{FILE_CONTENTS}: it must map each set_file path to its text"
        )
    return value


def validate_patch(body: dict[str, Any]) -> tuple[Flag, values.Inputs, dict[str, str]]:
    """The flag, the inputs in Helm's kinds, and the texts of the ``set_file`` paths."""
    flag = _flag(body)
    given = body.get("values", {})
    if not isinstance(given, dict):
        raise exception.Invalid("Invalid values: it must be an object of lists by kind")
    unknown = sorted(set(given) - set(VALUE_KINDS) - {FILE_CONTENTS})
    if unknown:
        raise exception.Invalid(
            f"Unknown values kind {', '.join(unknown)}: the kinds are "
            f"{', '.join(VALUE_KINDS)} (and {FILE_CONTENTS})"
        )
    inputs = values.Inputs(
        **{kind: tuple(_texts(kind, given[kind])) for kind in VALUE_KINDS if kind in given}
    )
    return flag, inputs, _file_contents(given.get(FILE_CONTENTS, {}))
