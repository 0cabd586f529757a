"""External services some tests need, and what to do when one does not answer.

When a service is unreachable its tests are skipped, except under ``CI=true``, where they
fail: CI must prove every backend. Addresses default to the local servers and can be
overridden with ``DCMANAGER_TEST_*`` environment variables.
"""

import os
import pathlib
import shutil
import socket
import sys

import pytest

RABBIT_URL = os.environ.get("DCMANAGER_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(message: str) -> None:
    """Skip the test, or fail it under CI=true."""
    if in_ci():
        pytest.fail(f"CI=true requires this service; {message}", pytrace=False)
    pytest.skip(message)


def require_tcp(name: str, host: str, port: int) -> None:
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError as exc:
        unavailable(f"{name} at {host}:{port} unreachable: {exc}")


def require_rabbitmq() -> str:
    """The RabbitMQ transport URL, once its port answers."""
    from urllib.parse import urlsplit

    parts = urlsplit(RABBIT_URL)
    require_tcp("RabbitMQ", parts.hostname or "127.0.0.1", parts.port or 5672)
    return RABBIT_URL


def free_port() -> int:
    """A TCP port free on the loopback address now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def have_command(name: str) -> bool:
    return shutil.which(name) is not None


def cache_dir() -> pathlib.Path:
    """Where the tests keep what they install for themselves (Keystone's virtualenv, the
    registry's binary): made once per machine and reused by every clone, like pip's own
    cache. ``$DCMANAGER_TEST_CACHE``, else ``dcmanager-tests`` under ``$XDG_CACHE_HOME``
    (``~/.cache``), one directory per Python version (a virtualenv is tied to one)."""
    root = os.environ.get("DCMANAGER_TEST_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        root = os.path.join(base, "dcmanager-tests")
    path = pathlib.Path(root) / f"python{sys.version_info.major}.{sys.version_info.minor}"
    path.mkdir(parents=True, exist_ok=True)
    return path
