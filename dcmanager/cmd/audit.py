"""``dcmanager-audit``: periodic audit of every subcloud."""

from dcmanager.cmd import eventlet_setup  # noqa: F401 - must come first

import sys

from dcmanager.audit import service
from dcmanager.cmd import role


def main() -> int:
    return role.run("dcmanager-audit", lambda conf: [service.AuditService(conf)], False)


if __name__ == "__main__":
    sys.exit(main())
