"""What is wrong at the site that a prestage would run into: the checks of the agent's
own host behind ``health_problem`` (the look-ups of other services are in
:mod:`dcmanager.agent.platform`).

Each check answers a sentence for the operator, or None. The controller's precheck
refuses a site with any (``Subcloud health check failed: ...``).
"""

import os

from oslo_config import cfg

GIB = 1024**3
DIRECTORY_OPTIONS = ("software_dir", "platform_backup_dir")
"""Where prestages put a release's packages (for deployment, for install)."""


def disk_problem(available: int, reserved: int) -> str | None:
    """The state directory's filesystem has less free space than the platform's reserve."""
    if available >= reserved:
        return None
    return (
        f"free disk {available / GIB:.1f} GiB is below the reserve of {reserved / GIB:.1f} "
        "GiB ([agent] reserved_disk_bytes)"
    )


def directory_problem(path: str) -> str | None:
    """Why the agent could not write a release's files under ``path``, or None.

    A directory that does not exist yet is fine when the agent could create it: its
    nearest existing ancestor is a directory it may write. Nothing is created here.
    """
    path = os.path.abspath(path)
    nearest = path
    while not os.path.lexists(nearest):
        nearest = os.path.dirname(nearest)
    if not os.path.isdir(nearest):
        where = (
            "is not a directory"
            if nearest == path
            else f"cannot be created: {nearest} is not a directory"
        )
        return f"{path} {where}"
    if not os.access(nearest, os.W_OK | os.X_OK):
        where = (
            "is not writable"
            if nearest == path
            else f"cannot be created: {nearest} is not writable"
        )
        return f"{path} {where}"
    return None


def problems(conf: cfg.ConfigOpts, available: int) -> list[str]:
    """Every problem of the agent's host.

    :param available: the free bytes of the state directory's filesystem.
    """
    agent = conf.agent
    found = [disk_problem(available, agent.reserved_disk_bytes)]
    for option in DIRECTORY_OPTIONS:
        problem = directory_problem(getattr(agent, option))
        found.append(f"[agent] {option} {problem}" if problem else None)
    return [problem for problem in found if problem]
