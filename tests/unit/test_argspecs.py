"""pecan's signature reads are kept once the API app is set up."""

import inspect

import pecan.core
import pecan.rest
import pecan.routing
import pecan.util

from dcmanager.api import app as api_app
from dcmanager.api.controllers.v1 import subclouds


def test_setting_up_the_api_keeps_what_pecan_reads_of_signatures(conf):
    api_app.setup_app(conf)
    controller = subclouds.SubcloudsController()

    first = pecan.rest.getargspec(controller.get_one)

    # One function for every caller, answering from what it read before.
    assert pecan.core.getargspec is pecan.rest.getargspec is pecan.routing.getargspec
    assert pecan.util.getargspec is pecan.rest.getargspec
    assert pecan.rest.getargspec(controller.get_one) is first
    # Another instance's method is the same function: read once.
    assert pecan.rest.getargspec(subclouds.SubcloudsController().get_one) is first
    assert pecan.util.getargspec.cache_info().hits >= 2
    # And it reads what pecan's own would.
    assert first.args == ["self"]
    assert first.varargs == "path"
    assert list(inspect.signature(controller.get_one).parameters) == ["path"]


def test_keeping_signatures_twice_wraps_once(conf):
    api_app.setup_app(conf)
    kept = pecan.util.getargspec
    api_app.setup_app(conf)
    assert pecan.util.getargspec is kept
    assert not hasattr(kept.__wrapped__, "cache_info")
