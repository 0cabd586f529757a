"""``dcmanager-orchestrator``: the strategy state machine and its window."""

from dcmanager.cmd import eventlet_setup  # noqa: F401 - must come first

import sys

from dcmanager.cmd import role
from dcmanager.orchestrator import service


def main() -> int:
    return role.run(
        "dcmanager-orchestrator", lambda conf: [service.OrchestratorService(conf)], True
    )


if __name__ == "__main__":
    sys.exit(main())
