"""Preparing a release's packages on the system controller, once per strategy.

Simulated for now: it takes ``[prestage] simulated_preparation_seconds`` and fails for
the releases in ``[prestage] simulated_preparation_failures``. The release store will
make it real (building the prepared package set) without changing its callers.
"""

import time

from oslo_config import cfg

from dcmanager.common import exception
from dcmanager.drivers import simulator


class PreparationFailed(exception.DCManagerException):
    msg_fmt = "Preparing the packages of release %(release)s failed: %(reason)s"


def prepare(conf: cfg.ConfigOpts, release: str) -> None:
    """Prepare ``release``'s packages (blocking; runs once per strategy).

    :raises PreparationFailed: with the reason.
    """
    if conf.prestage.simulated_preparation_seconds:
        time.sleep(conf.prestage.simulated_preparation_seconds)
    if release in conf.prestage.simulated_preparation_failures:
        raise PreparationFailed(
            release=release, reason="simulated failure ([prestage] simulated_preparation_failures)"
        )


def release_bytes(conf: cfg.ConfigOpts, release: str) -> int:
    """How much disk a subcloud needs to hold ``release``'s packages and images."""
    return simulator.RELEASE_BYTES
