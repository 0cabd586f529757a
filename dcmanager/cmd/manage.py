"""``dcmanager-manage``: administrative commands (database schema, keystone catalog)."""

import os
import sys

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading
from oslo_config import cfg

from dcmanager.common import catalog
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


class RegistrationError(Exception):
    """The catalog could not be updated; the message says why."""


_OPENRC = (
    "source an admin openrc (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...) "
    "or pass the --os-* options"
)


def do_register_endpoint() -> None:
    args = CONF.command
    internal = args.internal_url or args.public_url
    urls = {
        "public": args.public_url,
        "internal": internal,
        "admin": args.admin_url or internal,
    }
    try:
        auth = loading.load_auth_from_argparse_arguments(args)
        if args.os_auth_type == "password" and not args.os_password:
            # keystoneauth would only notice when it first authenticates.
            raise RegistrationError(f"no password: set OS_PASSWORD or --os-password; {_OPENRC}")
        session = loading.load_session_from_argparse_arguments(args, auth=auth)
        changes = catalog.register(session, urls, args.region, identity_interface=args.os_interface)
    except ks_exc.MissingRequiredOptions as exc:
        raise RegistrationError(f"{exc}; {_OPENRC}") from exc
    except ks_exc.ClientException as exc:
        raise RegistrationError(str(exc)) from exc
    for change in changes:
        print(change)


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

    parser = subparsers.add_parser(
        "register_endpoint",
        help="Add the dcmanager service and its endpoints to the keystone catalog "
        "(idempotent); credentials from the OS_* variables of an admin.",
    )
    parser.add_argument("--public-url", required=True, help="e.g. http://controller:8119")
    parser.add_argument("--internal-url", help="Default: the public URL.")
    parser.add_argument("--admin-url", help="Default: the internal URL.")
    parser.add_argument(
        "--region",
        default=os.environ.get("OS_REGION_NAME") or "RegionOne",
        help="Keystone region of the endpoints (env OS_REGION_NAME, default RegionOne).",
    )
    parser.add_argument(
        "--os-interface",
        default=os.environ.get("OS_INTERFACE") or "public",
        help="Which identity endpoint to talk to (env OS_INTERFACE, default public).",
    )
    loading.register_auth_argparse_arguments(parser, sys.argv[1:], default="password")
    loading.register_session_argparse_arguments(parser)
    parser.set_defaults(func=do_register_endpoint)


command_opt = cfg.SubCommandOpt(
    "command", title="Commands", help="Available commands", handler=_add_command_parsers
)


def main() -> int:
    CONF.register_cli_opt(command_opt)
    config.parse_args(sys.argv[1:])
    try:
        CONF.command.func()
    except RegistrationError as exc:
        print(f"dcmanager-manage {CONF.command.name}: {exc}", file=sys.stderr)
        return 1
    except service.STARTUP_ERRORS as exc:
        print(
            f"dcmanager-manage {CONF.command.name}: {service.describe_startup_error(CONF, exc)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
