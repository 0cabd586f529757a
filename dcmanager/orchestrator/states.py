"""Orchestration vocabulary shared by strategies and subcloud groups."""

import enum


class ApplyType(enum.StrEnum):
    PARALLEL = "parallel"
    """Up to max-parallel-subclouds steps run at once."""
    SERIAL = "serial"
    """One step at a time (max-parallel-subclouds is 1)."""
