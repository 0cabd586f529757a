"""Fixtures of the functional tests that drive the ``dcmanager`` CLI in-process."""

import pytest

from tests.functional.test_cli import CLI
from tests.functional.test_cli import CLI_ENV


@pytest.fixture
def clean_env(monkeypatch):
    """No ``DCMANAGER_*`` or ``OS_*`` variable of the caller's reaches the CLI."""
    for name in CLI_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cli(live_api, capsys, clean_env) -> CLI:
    """The CLI pointed at ``live_api`` with ``--dcmanager-url``."""
    return CLI(capsys, f"{live_api}/v1.0")
