"""``dcmanager subcloud app ...``: the applications at one subcloud.

``show --watch`` follows an operation until it ends: a line each time the status or
progress changes, then exit 0 if the application ended applied or uploaded with no
failure noted, 1 otherwise.
"""

import argparse
import time
from typing import Any

from cliff import command
from cliff import lister
from cliff import show

from dcmanager.cli.client import quote
from dcmanager.cli.strategy import positive_float

FIELDS = (
    ("name", "name"),
    ("version", "version"),
    ("status", "status"),
    ("progress", "progress"),
    ("target_version", "target-version"),
    ("operation", "operation"),
    ("releases", "releases"),
    ("phases", "phases"),
    ("inactive_versions", "inactive"),
    ("updated_at", "updated-at"),
)
# The statuses an operation ends in.
SETTLED = frozenset({"applied", "apply-failed", "uploaded", "upload-failed", "remove-failed"})
GOOD = frozenset({"applied", "uploaded"})


def _path(subcloud: str, name: str | None = None) -> str:
    path = f"/subclouds/{quote(subcloud)}/apps"
    return f"{path}/{quote(name)}" if name else path


def _releases(ledger: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{e['release']} ({e['namespace']}): {e['chart']}-{e['chart_version']} "
        f"revision {e['revision']}"
        for e in ledger
    )


def detail(app: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    values = dict(app)
    values["releases"] = _releases(app["releases"])
    values["phases"] = ", ".join(f"{phase}: {state}" for phase, state in app["phases"].items())
    values["inactive"] = ", ".join(entry["version"] for entry in app["inactive"])
    return tuple(label for label, _ in FIELDS), tuple(values.get(key) for _, key in FIELDS)


def ended(app: dict[str, Any]) -> bool:
    return app["status"] in SETTLED and not app["operation"]


def succeeded(app: dict[str, Any]) -> bool:
    return app["status"] in GOOD and "failed" not in (app["progress"] or "")


class _AppCommand(show.ShowOne):
    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("subcloud", help="The subcloud's name or id.")
        parser.add_argument("app", help="The application.")
        return parser


class ListSubcloudApps(lister.Lister):
    """List the applications at a subcloud."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("subcloud", help="The subcloud's name or id.")
        return parser

    def take_action(self, parsed_args):
        rows = [
            (a["name"], a["version"], a["status"], a["progress"], a["target-version"])
            for a in self.app.client.get(_path(parsed_args.subcloud))["apps"]
        ]
        return ("name", "version", "status", "progress", "target_version"), rows


class ShowSubcloudApp(_AppCommand):
    """Show an application at a subcloud, or follow its operation with --watch."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--watch",
            action="store_true",
            help="Follow the operation until it ends; exit 0 if the application ends "
            "applied or uploaded with no failure, 1 otherwise.",
        )
        parser.add_argument(
            "--interval",
            type=positive_float,
            default=1.0,
            metavar="SECONDS",
            help="Seconds between polls when watching (default 1).",
        )
        return parser

    def run(self, parsed_args: argparse.Namespace) -> int:
        if not parsed_args.watch:
            return super().run(parsed_args)
        parsed_args = self._run_before_hooks(parsed_args)
        path = _path(parsed_args.subcloud, parsed_args.app)
        last = None
        while True:
            app = self.app.client.get(path)
            line = f"{app['version']}: {app['status']}" + (
                f" ({app['progress']})" if app["progress"] else ""
            )
            if line != last:
                self.app.stdout.write(line + "\n")
                self.app.stdout.flush()
                last = line
            if ended(app):
                return 0 if succeeded(app) else 1
            time.sleep(parsed_args.interval)

    def take_action(self, parsed_args):
        return detail(self.app.client.get(_path(parsed_args.subcloud, parsed_args.app)))


class _Operation(_AppCommand):
    action = ""

    def take_action(self, parsed_args):
        body = {"action": self.action}
        if getattr(parsed_args, "version", None):
            body["version"] = parsed_args.version
        if getattr(parsed_args, "include_prerelease", False):
            body["include_prerelease"] = True
        return detail(self.app.client.post(_path(parsed_args.subcloud, parsed_args.app), body))


def _version_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--version",
        required=required,
        help="An exact version of the catalog, or latest.",
    )
    parser.add_argument(
        "--include-prerelease", action="store_true", help="latest may be a pre-release."
    )


class ApplySubcloudApp(_Operation):
    """Apply an application at a subcloud (uploading it there first if needed)."""

    action = "apply"

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _version_options(parser, required=False)
        return parser


class UpdateSubcloudApp(_Operation):
    """Update the application applied at a subcloud to another version (apply, or roll
    back to a version it ran; the old version recovered on failure)."""

    action = "update"

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _version_options(parser, required=True)
        return parser


class RemoveSubcloudApp(_Operation):
    """Remove (uninstall) an application at a subcloud; the subcloud keeps it uploaded."""

    action = "remove"


class DeleteSubcloudApp(command.Command):
    """Delete an application from a subcloud (nothing of it applied or under way)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("subcloud", help="The subcloud's name or id.")
        parser.add_argument("app", help="The application.")
        return parser

    def take_action(self, parsed_args):
        self.app.client.delete(_path(parsed_args.subcloud, parsed_args.app))
