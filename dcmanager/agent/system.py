"""What the agent reports about its subcloud (``GET /v1/info`` and the precheck)."""

import os
from typing import Any

from oslo_config import cfg

from dcmanager.agent import layout
from dcmanager.agent import statedir


def info(conf: cfg.ConfigOpts, state: statedir.StateDir) -> dict[str, Any]:
    """The configured system facts, the free disk and the releases prestaged."""
    agent = conf.agent
    stat = os.statvfs(state.root)
    return {
        "system_mode": agent.system_mode,
        "controller0_active": agent.controller0_active,
        "management_alarms": agent.management_alarms,
        "free_disk_bytes": max(0, stat.f_bavail * stat.f_frsize - agent.reserved_disk_bytes),
        "deploy_status": "complete",
        "software_version": agent.software_version,
        "prestaged_versions": layout.prestaged_versions(conf, state),
        "health_problem": None,
    }
