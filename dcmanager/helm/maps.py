"""Helm's ``mergeMaps``, the one merge that values files, ``--set`` results and stored
overrides all go through (at the bottom of the values engine: both the YAML reader and
the values pipeline use it)."""

from collections.abc import Mapping
from typing import Any


def merge_maps(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's ``mergeMaps``: ``over`` wins; where both hold a map, they are merged;
    anything else (lists, scalars, null) replaces. Neither argument is changed; the
    result shares the parts it took from them."""
    merged = dict(base)
    for key, value in over.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = merge_maps(current, value)
        else:
            merged[key] = value
    return merged
