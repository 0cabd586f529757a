"""``dcmanager subcloud ...`` commands."""

from typing import Any

from cliff import command
from cliff import lister
from cliff import show

from dcmanager.cli import strategy
from dcmanager.cli.client import quote

LIST_COLUMNS = (
    ("id", "id"),
    ("name", "name"),
    ("management", "management-state"),
    ("availability", "availability-status"),
    ("deploy status", "deploy-status"),
    ("prestage status", "prestage-status"),
    ("software version", "software-version"),
    ("group id", "group_id"),
)

DETAIL_FIELDS = (
    "id",
    "name",
    "description",
    "location",
    "software-version",
    "management-state",
    "availability-status",
    "deploy-status",
    "backup-status",
    "prestage-status",
    "prestage-versions",
    "error-description",
    "region-name",
    "group_id",
    "endpoint",
    "created-at",
    "updated-at",
)


def list_rows(subclouds: list[dict[str, Any]]) -> tuple[tuple[str, ...], list[tuple]]:
    """Columns and rows of a subcloud listing."""
    columns = tuple(title for title, _ in LIST_COLUMNS)
    rows = [tuple(sc.get(key) for _, key in LIST_COLUMNS) for sc in subclouds]
    return columns, rows


def detail(subcloud: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    """Field names (``-`` as ``_``) and values of one subcloud."""
    return (
        tuple(field.replace("-", "_") for field in DETAIL_FIELDS),
        tuple(subcloud.get(field) for field in DETAIL_FIELDS),
    )


class ListSubclouds(lister.Lister):
    """List subclouds."""

    def take_action(self, parsed_args):
        return list_rows(self.app.client.get("/subclouds")["subclouds"])


class _OneSubcloud(show.ShowOne):
    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("subcloud", help="Name or id of the subcloud.")
        return parser


class ShowSubcloud(_OneSubcloud):
    """Show a subcloud."""

    def take_action(self, parsed_args):
        return detail(self.app.client.get(f"/subclouds/{quote(parsed_args.subcloud)}"))


def _add_common_options(parser) -> None:
    parser.add_argument("--description", help="Free text describing the subcloud.")
    parser.add_argument("--location", help="Where the subcloud is.")
    parser.add_argument("--group", help="Name or id of its subcloud group.")


def _common_values(parsed_args) -> dict[str, Any]:
    body = {}
    for option in ("description", "location", "group"):
        value = getattr(parsed_args, option)
        if value is not None:
            body[option] = value
    return body


class AddSubcloud(show.ShowOne):
    """Register an existing site as a subcloud (it starts unmanaged and offline)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", required=True, help="Unique name of the subcloud.")
        parser.add_argument(
            "--endpoint",
            required=True,
            help="How dcmanager reaches it: https://host:port for its agent, or "
            "simulated://name for a simulated site.",
        )
        _add_common_options(parser)
        parser.add_argument("--software-version", help="Release it runs (MM.mm).")
        parser.add_argument("--region-name", help="Its region name (default: a new UUID).")
        return parser

    def take_action(self, parsed_args):
        body = {"name": parsed_args.name, "endpoint": parsed_args.endpoint}
        body.update(_common_values(parsed_args))
        if parsed_args.software_version is not None:
            body["software-version"] = parsed_args.software_version
        if parsed_args.region_name is not None:
            body["region-name"] = parsed_args.region_name
        return detail(self.app.client.post("/subclouds", body))


class UpdateSubcloud(_OneSubcloud):
    """Update a subcloud's attributes."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _add_common_options(parser)
        parser.add_argument("--endpoint", help="New endpoint URL.")
        return parser

    def take_action(self, parsed_args):
        body = _common_values(parsed_args)
        if parsed_args.endpoint is not None:
            body["endpoint"] = parsed_args.endpoint
        path = f"/subclouds/{quote(parsed_args.subcloud)}"
        return detail(self.app.client.patch(path, body))


class _SetManagementState(_OneSubcloud):
    state: str

    def take_action(self, parsed_args):
        path = f"/subclouds/{quote(parsed_args.subcloud)}"
        return detail(self.app.client.patch(path, {"management-state": self.state}))


class ManageSubcloud(_SetManagementState):
    """Manage a subcloud: orchestration may act on it."""

    state = "managed"


class UnmanageSubcloud(_SetManagementState):
    """Unmanage a subcloud: orchestration leaves it alone."""

    state = "unmanaged"


class PrestageSubcloud(_OneSubcloud):
    """Prestage one subcloud outside any strategy (its prestage status shows how it goes)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        strategy.add_prestage_options(parser)
        return parser

    def take_action(self, parsed_args):
        body = strategy.prestage_body(parsed_args, self.app.stderr)
        path = f"/subclouds/{quote(parsed_args.subcloud)}/prestage"
        return detail(self.app.client.patch(path, body))


class DeleteSubcloud(command.Command):
    """Delete an unmanaged subcloud that is in no strategy."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("subcloud", help="Name or id of the subcloud.")
        return parser

    def take_action(self, parsed_args):
        self.app.client.delete(f"/subclouds/{quote(parsed_args.subcloud)}")
