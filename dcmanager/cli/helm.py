"""``dcmanager helm-override-*``: Helm chart overrides."""

import argparse
import pathlib
import urllib.parse
from typing import Any

from cliff import columns
from cliff import command
from cliff import lister
from cliff import show
from cliff.formatters import base as formatters

from dcmanager.cli.client import CommandError
from dcmanager.cli.client import quote
from dcmanager.helm import strvals
from dcmanager.helm import yamlio

SHOW_FIELDS = ("combined_overrides", "name", "namespace", "system_overrides", "user_overrides")
UPDATE_FIELDS = ("name", "namespace", "user_overrides")
SITE_UPDATE_FIELDS = ("name", "namespace", "subcloud_overrides")
# --format values that print the combined overrides for a tool rather than a table.
HELM = "helm"
ARMADA = "armada"
# Armada names a chart's document without the namespace for this one.
HELM_TOOLKIT = "helm-toolkit"


class _Namespaces(columns.FormattableColumn):
    def human_readable(self) -> str:
        return ", ".join(self._value)

    def machine_readable(self) -> list[str]:
        return list(self._value)


def _path(chart: str, namespace: str, subcloud: str | None = None, app: str | None = None) -> str:
    query = {"namespace": namespace}
    if subcloud:
        query["subcloud"] = subcloud
    if app:
        query["app"] = app
    return f"/helm_charts/{quote(chart)}?{urllib.parse.urlencode(query)}"


def _add_chart_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("chart", help="Name of the chart.")
    parser.add_argument("namespace", help="Namespace of the chart's overrides.")
    _add_app_option(parser)


def _add_app_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app",
        metavar="APP",
        help="A chart of this application of the catalog: its overrides belong to the "
        "application and are kept when a site updates it to another version.",
    )


def _read_text(option: str, path: str) -> str:
    try:
        return pathlib.Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{option} {path}: {exc}") from exc


def armada_document(chart: str, namespace: str, combined: str) -> str:
    """The Armada chart document carrying the combined overrides."""
    name = chart if namespace == HELM_TOOLKIT else f"{namespace}-{chart}"
    document = {
        "schema": "armada/Chart/v1",
        "metadata": {"schema": "metadata/Document/v1", "name": name},
        "data": {"values": yamlio.load_values(combined)},
    }
    # In the order Armada documents are written: what it is, its name, its data.
    return "---\n" + "".join(yamlio.dump({key: document[key]}) for key in document)


class HelmFormatter(formatters.SingleFormatter):
    """The combined overrides alone: a values file for ``helm -f``."""

    def add_argument_group(self, parser: argparse.ArgumentParser) -> None:
        pass

    def emit_one(self, column_names, data, stdout, parsed_args) -> None:
        stdout.write(dict(zip(column_names, data, strict=True))["combined_overrides"])


class ArmadaFormatter(formatters.SingleFormatter):
    """The combined overrides in an Armada chart document."""

    def add_argument_group(self, parser: argparse.ArgumentParser) -> None:
        pass

    def emit_one(self, column_names, data, stdout, parsed_args) -> None:
        fields = dict(zip(column_names, data, strict=True))
        stdout.write(
            armada_document(fields["name"], fields["namespace"], fields["combined_overrides"])
        )


class ListOverrides(lister.Lister):
    """List the charts that have system overrides (or those of an application), with
    their namespaces."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_app_option(parser)
        return parser

    def take_action(self, parsed_args):
        query = f"?{urllib.parse.urlencode({'app': parsed_args.app})}" if parsed_args.app else ""
        charts = self.app.client.get(f"/helm_charts{query}")["charts"]
        rows = [(chart["name"], _Namespaces(chart["namespaces"])) for chart in charts]
        return ("chart name", "overrides namespaces"), rows


class ShowOverrides(show.ShowOne):
    """Show a chart's system, user and combined overrides in a namespace.

    ``--format helm`` prints the combined overrides as a values file, ``--format
    armada`` as an Armada chart document; ``--file`` writes the output to a file.
    """

    @property
    def formatter_namespace(self) -> str:
        return "dcmanager.cli.formatter.helm_override"

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_chart_arguments(parser)
        parser.add_argument(
            "--subcloud",
            metavar="SUBCLOUD",
            help="Compute the system overrides for this subcloud (name or id) instead "
            "of a simplex site; with --app, also show its own overrides of the chart.",
        )
        parser.add_argument("--file", metavar="FILE", help="Write the output to FILE.")
        return parser

    def take_action(self, parsed_args):
        path = _path(
            parsed_args.chart, parsed_args.namespace, parsed_args.subcloud, parsed_args.app
        )
        chart = self.app.client.get(path)
        # An application's chart at a subcloud: that subcloud's own overrides too.
        fields = SHOW_FIELDS + (("subcloud_overrides",) if "subcloud_overrides" in chart else ())
        return fields, tuple(chart.get(field) for field in fields)

    def produce_output(self, parsed_args, column_names, data) -> int:
        if parsed_args.formatter in (HELM, ARMADA):
            parsed_args.columns = []  # these formats print whole documents
        if not parsed_args.file:
            return super().produce_output(parsed_args, column_names, data)
        stdout = self.app.stdout
        try:
            with open(parsed_args.file, "w", encoding="utf-8") as self.app.stdout:
                return super().produce_output(parsed_args, column_names, data)
        except OSError as exc:
            raise CommandError(f"--file {parsed_args.file}: {exc}") from exc
        finally:
            self.app.stdout = stdout


class UpdateOverrides(show.ShowOne):
    """Update a chart's user overrides in a namespace, as Helm reads values.

    Values apply in Helm's order whatever the order on the command line: --values
    files, then --set-json, --set, --set-string, --set-file, --set-literal. With
    --reuse-values (the default) they apply over the stored overrides; with
    --reset-values over nothing (so --reset-values alone clears them).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_chart_arguments(parser)
        flag = parser.add_mutually_exclusive_group()
        flag.add_argument(
            "--reuse-values",
            dest="flag",
            action="store_const",
            const="reuse",
            help="Apply the new values over the stored overrides (the default).",
        )
        flag.add_argument(
            "--reset-values",
            dest="flag",
            action="store_const",
            const="reset",
            help="Replace the stored overrides with the new values only.",
        )
        parser.set_defaults(flag="reuse")
        _add_site_argument(parser, "Update this subcloud's own overrides")
        for option, meta, text in (
            ("--values", "FILE", "A YAML values file (repeatable), sent as it is."),
            ("--set", "KEY=VALUE", "Set values, typed as Helm types them (repeatable)."),
            ("--set-string", "KEY=VALUE", "Set values as strings (repeatable)."),
            ("--set-file", "KEY=PATH", "Set values to the text of files (repeatable)."),
            ("--set-json", "KEY=JSON", "Set values to JSON documents (repeatable)."),
            ("--set-literal", "KEY=VALUE", "Set one value to the literal text (repeatable)."),
        ):
            parser.add_argument(option, metavar=meta, action="append", default=[], help=text)
        return parser

    def take_action(self, parsed_args):
        values: dict[str, Any] = {
            "files": [_read_text("--values", path) for path in parsed_args.values],
            "set": parsed_args.set,
            "set_string": parsed_args.set_string,
            "set_json": parsed_args.set_json,
            "set_literal": parsed_args.set_literal,
        }
        if parsed_args.set_file:
            values["set_file"] = parsed_args.set_file
            values["set_file_contents"] = _set_file_contents(parsed_args.set_file)
        body = {"flag": parsed_args.flag, "values": values}
        path = _path(
            parsed_args.chart, parsed_args.namespace, parsed_args.subcloud, parsed_args.app
        )
        chart = self.app.client.patch(path, body)
        fields = UPDATE_FIELDS if parsed_args.subcloud is None else SITE_UPDATE_FIELDS
        return fields, tuple(chart.get(field) for field in fields)


def _add_site_argument(parser, what: str) -> None:
    parser.add_argument(
        "--subcloud",
        metavar="SUBCLOUD",
        help=f"{what} (name or id) of the application's chart (with --app), which it "
        "deploys above the application's.",
    )


def _set_file_contents(expressions: list[str]) -> dict[str, str]:
    """The text of every file the ``--set-file`` expressions name, by path as written.

    Paths are found with the server's own grammar; an expression it refuses is sent as
    it is, for the server to explain.
    """
    paths: list[str] = []

    def record(path: str) -> str:
        paths.append(path)
        return ""

    for expression in expressions:
        try:
            strvals.parse_set_file(expression, {}, record)
        except strvals.ValuesError:
            continue
    return {path: _read_text("--set-file", path) for path in paths}


class DeleteOverrides(command.Command):
    """Delete a chart's user overrides in a namespace (system overrides still apply)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_chart_arguments(parser)
        _add_site_argument(parser, "Delete this subcloud's own overrides")
        return parser

    def take_action(self, parsed_args):
        self.app.client.delete(
            _path(parsed_args.chart, parsed_args.namespace, parsed_args.subcloud, parsed_args.app)
        )
        whose = f" of subcloud {parsed_args.subcloud}" if parsed_args.subcloud else ""
        self.app.stdout.write(
            f"Deleted chart overrides{whose} for {parsed_args.chart}:{parsed_args.namespace}\n"
        )
