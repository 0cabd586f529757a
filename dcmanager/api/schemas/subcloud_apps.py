"""Validation of ``POST /subclouds/{ref}/apps/{name}``: an operation on the application
at the site."""

import dataclasses
from typing import Any

from dcmanager.api import validation
from dcmanager.apps import site
from dcmanager.common import exception

KEYS = ("action", "version", "include_prerelease")


@dataclasses.dataclass(frozen=True)
class AppOperation:
    action: str
    version: str | None
    include_prerelease: bool


def validate_operation(body: dict[str, Any]) -> AppOperation:
    unknown = sorted(set(body) - set(KEYS))
    if unknown:
        raise exception.Invalid(
            f"Unknown field {', '.join(unknown)}: an operation has {', '.join(KEYS)}"
        )
    action = body.get("action")
    if not isinstance(action, str) or action not in site.ACTIONS:
        raise exception.Invalid(
            f"Invalid action {action!r}: it must be one of {', '.join(site.ACTIONS)}"
        )
    version = body.get("version")
    if version is not None and not validation.is_short_text(version, 64, allow_empty=False):
        raise exception.Invalid("Invalid version: a version is a text of 1 to 64 characters")
    if action == "update" and version is None:
        raise exception.Invalid("An update needs the version to update to (or 'latest')")
    if action == "remove" and version is not None:
        raise exception.Invalid("A removal takes no version: it removes what the site runs")
    prerelease = validation.parse_bool(body.get("include_prerelease", False), "include_prerelease")
    return AppOperation(action, version, prerelease)
