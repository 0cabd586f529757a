"""``dcmanager subcloud ...`` commands."""

from typing import Any

from cliff import command
from cliff import lister
from cliff import show

from dcmanager.cli import strategy
from dcmanager.cli.client import add_yes_option
from dcmanager.cli.client import quote

# (label, key in the API's subcloud): the columns and labels StarlingX's client prints.
LIST_COLUMNS = (
    ("id", "id"),
    ("name", "name"),
    ("management", "management-state"),
    ("availability", "availability-status"),
    ("deploy status", "deploy-status"),
    ("sync", "sync_status"),
    ("backup status", "backup-status"),
    ("prestage status", "prestage-status"),
)

DETAIL_COLUMNS = (
    ("id", "id"),
    ("name", "name"),
    ("description", "description"),
    ("location", "location"),
    ("software_version", "software-version"),
    ("management", "management-state"),
    ("availability", "availability-status"),
    ("deploy_status", "deploy-status"),
    ("management_subnet", "management-subnet"),
    ("management_start_ip", "management-start-ip"),
    ("management_end_ip", "management-end-ip"),
    ("management_gateway_ip", "management-gateway-ip"),
    ("systemcontroller_gateway_ip", "systemcontroller-gateway-ip"),
    ("group_id", "group_id"),
    ("peer_group_id", "peer_group_id"),
    ("created_at", "created-at"),
    ("updated_at", "updated-at"),
    ("backup_status", "backup-status"),
    ("backup_datetime", "backup-datetime"),
    ("prestage_status", "prestage-status"),
    ("prestage_versions", "prestage-versions"),
    ("region_name", "region-name"),
    # Ours, after StarlingX's.
    ("prestage_software_version", "prestage-software-version"),
    ("error_description", "error-description"),
    ("endpoint", "endpoint"),
)
# `list --detail`: the detail columns, with `sync` after the deploy status.
DETAIL_LIST_COLUMNS = (*DETAIL_COLUMNS[:8], ("sync", "sync_status"), *DETAIL_COLUMNS[8:21])


def _rows(columns, subclouds: list[dict[str, Any]]) -> tuple[tuple[str, ...], list[tuple]]:
    return (
        tuple(label for label, _ in columns),
        [tuple(sc.get(key) for _, key in columns) for sc in subclouds],
    )


def list_rows(
    subclouds: list[dict[str, Any]], detailed: bool = False
) -> tuple[tuple[str, ...], list[tuple]]:
    """Columns and rows of a subcloud listing (every column, ``detailed``)."""
    return _rows(DETAIL_LIST_COLUMNS if detailed else LIST_COLUMNS, subclouds)


def detail(subcloud: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    """Field labels and values of one subcloud (with the endpoint sync statuses and the
    detail fields when the API knows them, as StarlingX's client shows them)."""
    columns = list(DETAIL_COLUMNS)
    extra = [
        (f"{s['endpoint_type']}_sync_status", s["sync_status"])
        for s in subcloud.get("endpoint_sync_status") or []
    ]
    if subcloud.get("oam_floating_ip") not in (None, "unavailable"):
        extra.append(("oam_floating_ip", subcloud["oam_floating_ip"]))
    if subcloud.get("deploy_config_sync_status") not in (None, "unknown"):
        extra.append(("deploy_config_sync_status", subcloud["deploy_config_sync_status"]))
    labels, (values,) = _rows(columns, [subcloud])
    return labels + tuple(label for label, _ in extra), values + tuple(v for _, v in extra)


class ListSubclouds(lister.Lister):
    """List subclouds."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "-d", "--detail", action="store_true", help="List every column of the subclouds."
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Also secondary subclouds (accepted for StarlingX's scripts: every "
            "subcloud here is listed either way).",
        )
        return parser

    def take_action(self, parsed_args):
        subclouds = self.app.client.get_all("/subclouds", "subclouds", PAGE)
        return list_rows(subclouds, parsed_args.detail)


# Subclouds per request of `subcloud list` (the API pages up to 10000).
PAGE = 1000


class _OneSubcloud(show.ShowOne):
    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("subcloud", help="Name or id of the subcloud.")
        return parser


class ShowSubcloud(_OneSubcloud):
    """Show a subcloud."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("-d", "--detail", action="store_true", help="Show additional details.")
        return parser

    def take_action(self, parsed_args):
        path = f"/subclouds/{quote(parsed_args.subcloud)}"
        return detail(self.app.client.get(path + ("/detail" if parsed_args.detail else "")))


class ShowSubcloudErrors(command.Command):
    """Show why the last operation on a subcloud failed."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("subcloud", help="Name or id of the subcloud.")
        return parser

    def take_action(self, parsed_args):
        subcloud = self.app.client.get(f"/subclouds/{quote(parsed_args.subcloud)}")
        self.app.stdout.write((subcloud.get("error-description") or "") + "\n")


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

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_yes_option(parser)
        return parser


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
