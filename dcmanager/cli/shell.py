"""``dcmanager``: the command-line client (cliff)."""

import os
import sys
from collections.abc import Sequence

from cliff import app
from cliff import commandmanager

from dcmanager import version
from dcmanager.cli import client as api_client


def _env(*names: str, default: str | None = None) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return default


# Stands for a command's own --version while cliff parses the global options.
_COMMAND_VERSION = "--dcmanager-command-version"

# How the CLI reaches the API: flag, metavar, environment variable, default, help.
_CONNECTION_OPTIONS = (
    (
        "--dcmanager-url",
        "URL",
        "DCMANAGER_URL",
        None,
        "dcmanager API URL, e.g. http://127.0.0.1:8119/v1.0 (env DCMANAGER_URL). "
        "Without an auth URL, the CLI talks to it directly.",
    ),
    ("--os-auth-url", "URL", "OS_AUTH_URL", None, "Keystone URL (env OS_AUTH_URL)."),
    ("--os-username", "NAME", "OS_USERNAME", None, "User name (env OS_USERNAME)."),
    ("--os-password", "PASSWORD", "OS_PASSWORD", None, "Password (env OS_PASSWORD)."),
    (
        "--os-project-name",
        "NAME",
        "OS_PROJECT_NAME",
        None,
        "Project to scope the token to (env OS_PROJECT_NAME).",
    ),
    (
        "--os-user-domain-name",
        "NAME",
        "OS_USER_DOMAIN_NAME",
        "Default",
        "Domain of the user (env OS_USER_DOMAIN_NAME, default Default).",
    ),
    (
        "--os-project-domain-name",
        "NAME",
        "OS_PROJECT_DOMAIN_NAME",
        "Default",
        "Domain of the project (env OS_PROJECT_DOMAIN_NAME, default Default).",
    ),
    (
        "--os-auth-token",
        "TOKEN",
        "OS_AUTH_TOKEN",
        None,
        "An existing token instead of a password (env OS_AUTH_TOKEN).",
    ),
    (
        "--os-region-name",
        "NAME",
        "OS_REGION_NAME",
        None,
        "Region of the dcmanager endpoint in the catalog (env OS_REGION_NAME).",
    ),
    (
        "--os-interface",
        "INTERFACE",
        "OS_INTERFACE",
        "public",
        "Catalog interface: public, internal or admin (env OS_INTERFACE).",
    ),
    ("--os-cacert", "FILE", "OS_CACERT", None, "CA bundle to verify TLS servers (env OS_CACERT)."),
)


class DCManagerShell(app.App):
    def __init__(self) -> None:
        super().__init__(
            description="Command-line client for dcmanager, the distributed-cloud manager.",
            version=version.version_string,
            command_manager=commandmanager.CommandManager("dcmanager.cli"),
            deferred_help=True,
        )
        self._client: api_client.Client | None = None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version, argparse_kwargs)
        for flag, metavar, variable, default, text in _CONNECTION_OPTIONS:
            parser.add_argument(
                flag, metavar=metavar, default=_env(variable, default=default), help=text
            )
        parser.add_argument(
            "--insecure", action="store_true", default=False, help="Do not verify TLS certificates."
        )
        return parser

    def run(self, argv: list[str]) -> int:
        """Run; a ``--version`` after the command word belongs to the command
        (``release upload --version 25.09``), not to cliff's global ``--version``."""
        words = {name.split()[0] for name, _ in self.command_manager}
        start = next((i for i, arg in enumerate(argv) if arg in words), len(argv))
        argv = argv[:start] + [
            _COMMAND_VERSION if arg == "--version" else arg for arg in argv[start:]
        ]
        return super().run(argv)

    def run_subcommand(self, argv: list[str]) -> int:
        return super().run_subcommand(
            ["--version" if arg == _COMMAND_VERSION else arg for arg in argv]
        )

    @property
    def client(self) -> api_client.Client:
        """The API client, built on first use from the global options."""
        if self._client is None:
            session, endpoint = api_client.make_session(self.options)
            self._client = api_client.Client(
                session,
                endpoint,
                interface=self.options.os_interface,
                region_name=self.options.os_region_name,
            )
        return self._client


def main(argv: Sequence[str] | None = None) -> int:
    return DCManagerShell().run(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
