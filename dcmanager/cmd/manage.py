"""``dcmanager-manage``: administrative commands (database schema for now)."""

import sys

from oslo_config import cfg

from dcmanager.common import config
from dcmanager.common import service
from dcmanager.conf import CONF
from dcmanager.db.sqlalchemy import migration


def do_db_sync() -> None:
    service.prepare_state_path(CONF)
    migration.upgrade(CONF.command.revision)
    print(f"Database {service.database_location(CONF)} is at revision {migration.version()}")


def do_db_version() -> None:
    print(migration.version() or "None")


def _add_command_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "db_sync", help="Create or upgrade the database schema ([database] connection)."
    )
    parser.add_argument(
        "revision", nargs="?", default="head", help="Target revision (default: head)."
    )
    parser.set_defaults(func=do_db_sync)

    parser = subparsers.add_parser("db_version", help="Print the database schema revision.")
    parser.set_defaults(func=do_db_version)


command_opt = cfg.SubCommandOpt(
    "command", title="Commands", help="Available commands", handler=_add_command_parsers
)


def main() -> int:
    CONF.register_cli_opt(command_opt)
    config.parse_args(sys.argv[1:])
    try:
        CONF.command.func()
    except service.STARTUP_ERRORS as exc:
        print(
            f"dcmanager-manage {CONF.command.name}: {service.describe_startup_error(CONF, exc)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
