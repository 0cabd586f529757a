"""Subcloud drivers, chosen by the scheme of a subcloud's endpoint.

Drivers are ``dcmanager.drivers`` entry points named after the scheme they serve
(``simulated``, later ``https``...).
"""

import functools
import importlib.metadata

from dcmanager.common import clock as clock_module
from dcmanager.common import endpoints
from dcmanager.common import exception
from dcmanager.drivers import base

NAMESPACE = "dcmanager.drivers"


class NoDriver(exception.DCManagerException):
    msg_fmt = "No subcloud driver for endpoints of scheme '%(scheme)s'"


@functools.cache
def _driver_class(scheme: str) -> type[base.SubcloudDriver]:
    found = importlib.metadata.entry_points(group=NAMESPACE, name=scheme)
    if not found:
        raise NoDriver(scheme=scheme)
    return next(iter(found)).load()


def blocking_io(endpoint: str) -> bool:
    """Whether calls to the driver of ``endpoint`` wait on the network (True when no
    driver serves it: the call will fail, wherever it runs)."""
    try:
        return _driver_class(endpoints.scheme(endpoint)).blocking_io
    except NoDriver:
        return True


def get_driver(
    name: str, endpoint: str, clock: clock_module.Clock = clock_module.SYSTEM
) -> base.SubcloudDriver:
    """The driver of subcloud ``name`` at ``endpoint``.

    :raises NoDriver: no driver serves the endpoint's scheme.
    """
    return _driver_class(endpoints.scheme(endpoint))(name, endpoint, clock)
