"""``dcmanager subcloud-group ...`` commands."""

from typing import Any

from cliff import command
from cliff import lister
from cliff import show

from dcmanager.cli import subcloud
from dcmanager.cli.client import quote

LIST_COLUMNS = ("id", "name", "description")
# (label, key in the API's group), labelled as StarlingX's client does.
DETAIL_FIELDS = (
    ("id", "id"),
    ("name", "name"),
    ("description", "description"),
    ("update apply type", "update_apply_type"),
    ("max parallel subclouds", "max_parallel_subclouds"),
    ("created_at", "created-at"),
    ("updated_at", "updated-at"),
)


def detail(group: dict[str, Any]) -> tuple[tuple[str, ...], tuple]:
    """Field labels and values of one group."""
    return (
        tuple(label for label, _ in DETAIL_FIELDS),
        tuple(group.get(key) for _, key in DETAIL_FIELDS),
    )


def _add_settings(parser) -> None:
    parser.add_argument("--description", help="Free text describing the group.")
    parser.add_argument(
        "--update_apply_type",
        choices=("parallel", "serial"),
        help="How strategies apply to the group's subclouds by default.",
    )
    parser.add_argument(
        "--max_parallel_subclouds",
        type=int,
        metavar="N",
        help="Default number of subclouds a strategy works on at once (1-5000).",
    )


def _settings(parsed_args) -> dict[str, Any]:
    keys = ("description", "update_apply_type", "max_parallel_subclouds")
    return {key: getattr(parsed_args, key) for key in keys if getattr(parsed_args, key) is not None}


class _OneGroup:
    @staticmethod
    def add_group_argument(parser):
        parser.add_argument("group", help="Name or id of the subcloud group.")


class AddGroup(show.ShowOne):
    """Create a subcloud group."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", required=True, help="Unique name of the group.")
        _add_settings(parser)
        return parser

    def take_action(self, parsed_args):
        body = {"name": parsed_args.name, **_settings(parsed_args)}
        return detail(self.app.client.post("/subcloud-groups", body))


class ListGroups(lister.Lister):
    """List subcloud groups."""

    def take_action(self, parsed_args):
        groups = self.app.client.get("/subcloud-groups")["subcloud_groups"]
        return LIST_COLUMNS, [tuple(g.get(c) for c in LIST_COLUMNS) for g in groups]


class ShowGroup(show.ShowOne):
    """Show a subcloud group."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _OneGroup.add_group_argument(parser)
        return parser

    def take_action(self, parsed_args):
        return detail(self.app.client.get(f"/subcloud-groups/{quote(parsed_args.group)}"))


class UpdateGroup(show.ShowOne):
    """Update a subcloud group."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _OneGroup.add_group_argument(parser)
        parser.add_argument("--name", help="New name (the Default group keeps its name).")
        _add_settings(parser)
        return parser

    def take_action(self, parsed_args):
        body = _settings(parsed_args)
        if parsed_args.name is not None:
            body["name"] = parsed_args.name
        path = f"/subcloud-groups/{quote(parsed_args.group)}"
        return detail(self.app.client.patch(path, body))


class DeleteGroup(command.Command):
    """Delete an empty subcloud group (never Default)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _OneGroup.add_group_argument(parser)
        return parser

    def take_action(self, parsed_args):
        self.app.client.delete(f"/subcloud-groups/{quote(parsed_args.group)}")


class ListGroupSubclouds(lister.Lister):
    """List the subclouds of a subcloud group, every column (as StarlingX's client)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        _OneGroup.add_group_argument(parser)
        return parser

    def take_action(self, parsed_args):
        path = f"/subcloud-groups/{quote(parsed_args.group)}/subclouds"
        return subcloud.list_rows(self.app.client.get(path)["subclouds"], detailed=True)
