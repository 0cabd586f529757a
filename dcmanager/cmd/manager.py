"""``dcmanager-manager``: subcloud operations outside strategies."""

from dcmanager.cmd import eventlet_setup  # noqa: F401 - must come first

import sys

from dcmanager.cmd import role
from dcmanager.manager import service


def main() -> int:
    return role.run("dcmanager-manager", lambda conf: [service.ManagerService(conf)], True)


if __name__ == "__main__":
    sys.exit(main())
