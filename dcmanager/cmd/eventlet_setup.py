"""Imported first by the service entry points: monkey-patch the process for eventlet.

Library code uses plain threading primitives, which work patched or not; tests and the
CLI never import this module.
"""

import dcmanager  # noqa: F401 - silences eventlet's import banner

import eventlet

eventlet.monkey_patch()
