"""``dcmanager subcloud add-many FILE``: register a fleet from a file, a few thousand
subclouds per request (``POST /v1.0/subclouds/bulk``)."""

import argparse

import yaml
from cliff import command

from dcmanager.cli.client import CommandError

# Subclouds per request (the API takes at most 5000, in [api] max_bulk_bytes).
DEFAULT_BATCH = 1000


def read_fleet(path: str) -> list[dict]:
    """The subclouds of a YAML or JSON file: a list of objects, each a create body
    (``name``, ``endpoint``, optionally ``group``, ``description``, ...)."""
    try:
        with open(path) as source:
            fleet = yaml.safe_load(source)
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CommandError(f"{path} is not YAML or JSON: {exc}") from None
    if not isinstance(fleet, list) or not all(isinstance(entry, dict) for entry in fleet):
        raise CommandError(f"{path} must hold a list of subclouds (objects with name, endpoint)")
    return fleet


def _batch(value: str) -> int:
    number = int(value) if value.isdigit() else 0
    if not 1 <= number <= 5000:
        raise argparse.ArgumentTypeError(f"invalid batch: '{value}' (1 to 5000)")
    return number


class AddSubclouds(command.Command):
    """Register the subclouds a YAML or JSON file lists, in requests of --batch
    subclouds each (each request registers all of its subclouds or none)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("file", help="A YAML or JSON list of subclouds.")
        parser.add_argument("--manage", action="store_true", help="Register them managed.")
        parser.add_argument(
            "--batch",
            type=_batch,
            default=DEFAULT_BATCH,
            metavar="N",
            help=f"Subclouds per request (default {DEFAULT_BATCH}, at most 5000).",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        fleet = read_fleet(parsed_args.file)
        if not fleet:
            raise CommandError(f"{parsed_args.file} lists no subcloud")
        registered = 0
        for first in range(0, len(fleet), parsed_args.batch):
            chunk = fleet[first : first + parsed_args.batch]
            body = {"subclouds": chunk, "manage": parsed_args.manage}
            try:
                registered += len(self.app.client.post("/subclouds/bulk", body)["subclouds"])
            except CommandError as exc:
                raise CommandError(
                    f"{exc} (subclouds {first + 1} to {first + len(chunk)} of the file; "
                    f"the {registered} before them are registered)"
                ) from None
        self.app.stdout.write(
            f"Registered {registered} subclouds in "
            f"{-(-len(fleet) // parsed_args.batch)} request(s).\n"
        )
        return 0
