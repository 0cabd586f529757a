"""What the agent reports about its subcloud (``GET /v1/info`` and the precheck).

The system facts come from the platform (:mod:`dcmanager.agent.platform`), the
``[agent]`` options filling in — and ``fallback_facts`` naming — what it does not give;
``health_problem`` joins every problem found (:mod:`dcmanager.agent.health`, and the
platform's look-ups), or is None.
"""

import os
from typing import Any

from oslo_config import cfg

from dcmanager.agent import health
from dcmanager.agent import inventory
from dcmanager.agent import layout
from dcmanager.agent import platform
from dcmanager.agent import statedir


def info(
    conf: cfg.ConfigOpts, state: statedir.StateDir, max_age: float | None = None
) -> dict[str, Any]:
    """The system facts, the free disk, the releases prestaged and the site's health.

    :param max_age: the oldest platform answer to reuse, in seconds (default:
        ``[platform] cache_seconds``; 0 for a precheck, which asks afresh).
    """
    reader = platform.reader_for(conf)
    facts = reader.facts(conf, max_age)
    stat = os.statvfs(state.root)
    available = stat.f_bavail * stat.f_frsize
    problems = [*facts.problems, *health.problems(conf, available)]
    return {
        **facts.values,
        "free_disk_bytes": max(0, available - conf.agent.reserved_disk_bytes),
        "prestaged_versions": layout.prestaged_versions(conf, state),
        "health_problem": "; ".join(problems) or None,
        "fallback_facts": list(facts.fallback),
        "facts_source": reader.source,
        "applications": inventory.applications(conf, state),
    }
