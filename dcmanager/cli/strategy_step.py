"""``dcmanager strategy-step list|show``: the steps of the current strategy (of either
type)."""

import argparse
import urllib.parse

from cliff import lister
from cliff import show

from dcmanager.cli import strategy
from dcmanager.cli.client import quote

# Steps per request of `strategy-step list` without --limit.
STEPS_PAGE = 1000


class ListSteps(lister.Lister):
    """List the steps of the current strategy, one per subcloud, in order."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--state", help="Only the steps in this state.")
        parser.add_argument("--limit", type=int, metavar="N", help="At most N steps.")
        parser.add_argument(
            "--marker", type=int, metavar="ID", help="Only the steps after the step with this id."
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], list[tuple]]:
        query = {
            key: getattr(parsed_args, key)
            for key in ("state", "limit", "marker")
            if getattr(parsed_args, key) is not None
        }
        if parsed_args.limit is not None:
            path = f"{strategy.STEPS_PATH}?{urllib.parse.urlencode(query)}"
            return strategy.step_rows(self.app.client.get(path)["strategy-steps"])
        steps = self.app.client.get_all(strategy.STEPS_PATH, "strategy-steps", STEPS_PAGE, query)
        return strategy.step_rows(steps)


class ShowStep(show.ShowOne):
    """Show the step of one subcloud in the current strategy."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("cloud_name", help="Name of the subcloud.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple]:
        return strategy.step_detail(
            self.app.client.get(f"{strategy.STEPS_PATH}/{quote(parsed_args.cloud_name)}")
        )
