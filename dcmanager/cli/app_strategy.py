"""``dcmanager app-update-strategy ...``: update an application to one version across
subclouds, with the options, actions and live view of ``prestage-strategy``."""

import argparse
from collections.abc import Mapping
from typing import Any

from cliff import show

from dcmanager.cli import live
from dcmanager.cli import retry
from dcmanager.cli import strategy
from dcmanager.common.states import APP_UPDATE_PHASES
from dcmanager.common.states import STEP_ACTIVE
from dcmanager.common.states import STEP_FINISHED
from dcmanager.common.states import StepState
from dcmanager.common.states import StrategyState
from dcmanager.common.states import StrategyType


def _target(extra_args: Mapping[str, Any]) -> str | None:
    app, version = extra_args.get("app"), extra_args.get("version")
    return f"application {app} {version}" if app and version else None


# What the live view shows of an app-update strategy.
APP_UPDATE = live.StrategyKind(
    name=str(StrategyType.APP_UPDATE),
    step_states=strategy.step_states(APP_UPDATE_PHASES),
    in_flight=frozenset(str(state) for state in STEP_ACTIVE),
    finished=frozenset(str(state) for state in STEP_FINISHED),
    not_started=str(StepState.INITIAL),
    listed=((str(StepState.FAILED), "Failed"), (str(StepState.SKIPPED), "Skipped")),
    end_states=strategy.EXIT_STATUS,
    deleting=str(StrategyState.DELETING),
    target=_target,
)


class CreateAppUpdateStrategy(show.ShowOne):
    """Create an app-update strategy: update an application to one version (default
    the catalog's latest) at one subcloud, a group's, or every subcloud that has it."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "cloud_name", nargs="?", help="The one subcloud to update (default: all)."
        )
        parser.add_argument("--app", required=True, help="Name of the application.")
        parser.add_argument(
            "--version",
            help="The version to update to, or 'latest' (the default); resolved once, now.",
        )
        parser.add_argument(
            "--include-prerelease",
            action="store_true",
            help="'latest' may be a pre-release version.",
        )
        parser.add_argument(
            "--require-prestaged",
            action="store_true",
            help="Update only the subclouds a prestage put the version's images on "
            "(prestage-strategy create --app NAME@VERSION); skip the others.",
        )
        strategy.add_scope_options(parser, "update")
        retry.add_retry_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple]:
        body: dict[str, Any] = {"type": APP_UPDATE.name, "app": parsed_args.app}
        if parsed_args.version is not None:
            body["version"] = parsed_args.version
        if parsed_args.include_prerelease:
            body["include_prerelease"] = True
        if parsed_args.require_prestaged:
            body["require-prestaged"] = True
        body.update(strategy.scope_body(parsed_args))
        if policy := retry.retry_body(parsed_args):
            body["retry"] = policy
        return strategy.create_or_preview(self.app.client, body, parsed_args.dry_run)


class ShowAppUpdateStrategy(strategy.ShowStrategy):
    """Show the app-update strategy, or follow it live with --watch."""

    kind = APP_UPDATE


class WatchAppUpdateStrategy(strategy.WatchStrategy):
    """Follow the app-update strategy live until it ends: exit 0 if it completes, 1 if
    it fails or is aborted."""

    kind = APP_UPDATE


class ApplyAppUpdateStrategy(strategy.StrategyAction):
    """Apply the app-update strategy (from its initial state)."""

    kind = APP_UPDATE
    action = "apply"


class PauseAppUpdateStrategy(strategy.StrategyAction):
    """Pause the app-update strategy: no step starts; running ones finish."""

    kind = APP_UPDATE
    action = "pause"


class ResumeAppUpdateStrategy(strategy.StrategyAction):
    """Resume the paused app-update strategy."""

    kind = APP_UPDATE
    action = "resume"


class AbortAppUpdateStrategy(strategy.StrategyAction):
    """Abort the app-update strategy: steps not started are aborted, running ones
    finish (an update under way at a site ends, applied or recovered)."""

    kind = APP_UPDATE
    action = "abort"


class RetryFailedAppUpdateStrategy(strategy.StrategyAction):
    """Run the failed app-update strategy's failed steps again: each begins the update
    at its site anew (the site's records decide, as at the first attempt)."""

    kind = APP_UPDATE
    action = "retry-failed"


class DeleteAppUpdateStrategy(strategy.DeleteStrategy):
    """Delete the app-update strategy (unless it is running)."""

    kind = APP_UPDATE
