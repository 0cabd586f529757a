"""Lifecycle phases of an application (seed 003).

An application's metadata may give, for each phase, a values overlay (typically
``manifests.*`` switches that select which jobs and resources of its charts render in
that phase) and the hooks it runs. Overlays sit above the user overrides.

An install runs ``install``; an update runs ``trafficdrain``, ``upgrade``, ``test``,
``trafficrollout``; a failed ``test`` runs ``rollback`` then ``trafficrollout``;
a removal runs ``uninstall``.
"""

from typing import Any

from dcmanager.common import exception

PHASES = (
    "install",
    "upgrade",
    "rollback",
    "trafficdrain",
    "trafficrollout",
    "test",
    "uninstall",
)


class PhasesInvalid(exception.Invalid):
    msg_fmt = "Invalid application tarball: phases: %(reason)s"


def validate(plan: Any) -> dict[str, dict[str, Any]]:
    """The phase plan of the metadata, checked: ``{phase: {"values": {...}, "hooks":
    [...]}}`` for the phases it names.

    :raises PhasesInvalid: an unknown phase, or a phase that is not that shape.
    """
    if plan is None:
        return {}
    if not isinstance(plan, dict):
        raise PhasesInvalid(reason="must be a mapping of phase to {values, hooks}")
    checked = {}
    for phase, spec in plan.items():
        if phase not in PHASES:
            raise PhasesInvalid(reason=f"unknown phase {phase!r} (known: {', '.join(PHASES)})")
        spec = spec or {}
        if not isinstance(spec, dict) or set(spec) - {"values", "hooks"}:
            raise PhasesInvalid(reason=f"{phase} must be {{values: mapping, hooks: list}}")
        values = spec.get("values") or {}
        hooks = spec.get("hooks") or []
        if not isinstance(values, dict):
            raise PhasesInvalid(reason=f"{phase}.values must be a mapping")
        if not isinstance(hooks, list) or not all(isinstance(h, str) and h for h in hooks):
            raise PhasesInvalid(reason=f"{phase}.hooks must be a list of names")
        checked[phase] = {"values": values, "hooks": hooks}
    return checked
