"""What services do around their loops: telling outages from bugs in the logs."""

import logging
import subprocess
import sys

import oslo_messaging
import pytest
import sqlalchemy.exc
from oslo_db import exception as db_exc

from dcmanager.common import service

LOG = logging.getLogger("dcmanager.test")

OPERATIONAL = sqlalchemy.exc.OperationalError(
    "SELECT 1", {}, Exception("server closed the connection unexpectedly\nmore detail")
)


@pytest.mark.parametrize(
    "exc",
    [
        OPERATIONAL,
        db_exc.DBConnectionError(OPERATIONAL),
        db_exc.DBError(OPERATIONAL),
        oslo_messaging.MessagingTimeout("no reply"),
        oslo_messaging.MessageDeliveryFailure("broker away"),
    ],
)
def test_outages_are_one_warning_line(caplog, exc):
    with caplog.at_level(logging.WARNING, logger="dcmanager.test"):
        service.log_failure(LOG, exc, "Renewal of %d leases failed", 3)

    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert record.getMessage().startswith("Renewal of 3 leases failed (")
    assert "\n" not in record.getMessage()


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("a bug"),
        db_exc.DBError(ValueError("not a connection problem")),
        db_exc.DBDuplicateEntry(),
    ],
)
def test_anything_else_is_an_error_with_its_traceback(caplog, exc):
    with caplog.at_level(logging.WARNING, logger="dcmanager.test"):
        service.log_failure(LOG, exc, "Batch failed")

    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info[1] is exc


def test_a_service_starts_with_no_library_warning_on_its_terminal():
    """What every service imports (eventlet, dnspython, oslo.*) prints no warning a
    user cannot act on (eventlet's banner, dnspython's DSA deprecations)."""
    result = subprocess.run(
        [sys.executable, "-c", "import dcmanager.cmd.all"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
