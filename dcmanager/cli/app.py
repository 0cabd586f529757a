"""``dcmanager app ...``: the application catalog."""

import os
import urllib.parse
from typing import Any

from cliff import command
from cliff import lister
from cliff import show

from dcmanager.cli.client import CommandError
from dcmanager.cli.client import quote

VERSION_FIELDS = (
    ("name", "name"),
    ("version", "version"),
    ("semver", "semver"),
    ("prerelease", "prerelease"),
    ("upgradable", "upgradable"),
    ("charts", "charts"),
    ("images", "images"),
    ("phases", "phases"),
    ("md5", "md5"),
    ("created_at", "created-at"),
)


def _charts(charts: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{c['name']}-{c['version']} ({c['namespace']}/{c['release']})" for c in charts
    )


def version_detail(version: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    values = dict(version)
    values["charts"] = _charts(version["charts"])
    values["images"] = ", ".join(version["images"])
    values["phases"] = ", ".join(
        f"{phase}" + (f" (hooks: {', '.join(spec['hooks'])})" if spec["hooks"] else "")
        for phase, spec in version.get("phases", {}).items()
    )
    return (
        tuple(label for label, _ in VERSION_FIELDS),
        tuple(values.get(key) for _, key in VERSION_FIELDS),
    )


class UploadApp(show.ShowOne):
    """Upload a version of an application (its tarball) to the catalog."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("path", help="The application tarball (.tgz or .tar.gz).")
        parser.add_argument("--app-name", help="Its name, when its metadata has none.")
        parser.add_argument("--app-version", help="Its version, when its metadata has none.")
        return parser

    def take_action(self, parsed_args):
        if not parsed_args.path.endswith((".tgz", ".tar.gz")):
            raise CommandError(
                f"{parsed_args.path}: an application tarball ends in .tgz or .tar.gz"
            )
        query = {
            key: value
            for key, value in (("name", parsed_args.app_name), ("version", parsed_args.app_version))
            if value
        }
        path = "/apps" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        try:
            size = os.path.getsize(parsed_args.path)
            with open(parsed_args.path, "rb") as data:
                return version_detail(self.app.client.post_file(path, data, size))
        except OSError as exc:
            raise CommandError(f"{parsed_args.path}: {exc.strerror}") from exc


class ListApps(lister.Lister):
    """List the applications of the catalog, with their latest version."""

    def take_action(self, parsed_args):
        rows = [
            (a["name"], a["latest"], ", ".join(v["version"] for v in a["versions"]))
            for a in self.app.client.get("/apps")["apps"]
        ]
        return ("name", "latest", "versions"), rows


class ShowApp(show.ShowOne):
    """Show a version of an application (by default its latest)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", help="The application.")
        parser.add_argument(
            "--version", default="latest", help="An exact version, or latest (the default)."
        )
        parser.add_argument(
            "--include-prerelease",
            action="store_true",
            help="latest may be a pre-release.",
        )
        return parser

    def take_action(self, parsed_args):
        path = f"/apps/{quote(parsed_args.name)}/versions/{quote(parsed_args.version)}"
        if parsed_args.include_prerelease:
            path += "?include_prerelease=true"
        return version_detail(self.app.client.get(path))


class DeleteApp(command.Command):
    """Delete a version of an application from the catalog."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", help="The application.")
        parser.add_argument("--version", required=True, help="The exact version to delete.")
        return parser

    def take_action(self, parsed_args):
        self.app.client.delete(
            f"/apps/{quote(parsed_args.name)}/versions/{quote(parsed_args.version)}"
        )
