"""``dcmanager-orchestrator-worker``: runs strategy steps; start as many as you need."""

from dcmanager.cmd import eventlet_setup  # noqa: F401 - must come first

import sys

from dcmanager.cmd import role
from dcmanager.orchestrator import worker


def main() -> int:
    return role.run(
        "dcmanager-orchestrator-worker", lambda conf: [worker.WorkerService(conf)], True
    )


if __name__ == "__main__":
    sys.exit(main())
