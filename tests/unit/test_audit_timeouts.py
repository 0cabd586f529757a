"""The audit over real HTTP: agent subclouds asked through the real agent driver, one
answering from a real HTTP server, one a TCP listener that never accepts. The answer
is recorded as it arrives, long before the silent one's timeout ends the round, and
the silent one counts as not answering after ``[scheduler] audit_timeout``."""

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from dcmanager.audit import service as audit_service
from dcmanager.db import api as db_api
from dcmanager.drivers import agent as agent_driver
from dcmanager.drivers import base as driver_base
from tests.functional.strategy_helpers import wait_for

INFO = {
    "system_mode": "duplex",
    "controller0_active": True,
    "management_alarms": 0,
    "free_disk_bytes": 10**11,
    "deploy_status": "complete",
    "software_version": "25.09",
    "prestaged_versions": ["25.09"],
    "health_problem": None,
    "applications": [{"name": "demo", "version": "1.0.0", "status": "uploaded", "releases": []}],
}


class _Agent(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        body = json.dumps(INFO).encode() if self.path.endswith("/v1/info") else b"{}"
        self.send_response(200 if self.path.endswith("/v1/info") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def agent_url() -> Iterator[str]:
    """A real HTTP server answering ``GET .../v1/info`` as an agent does."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Agent)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A TCP listener that never accepts a connection nor answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def audit_conf(db, conf):
    agent_driver.reset_session()
    conf.set_override("audit_timeout", 2.0, group="scheduler")
    conf.set_override("audit_record_interval", 0.05, group="scheduler")
    yield conf
    agent_driver.reset_session()


def test_the_driver_gives_up_after_the_timeout_it_is_given(audit_conf, silent_url):
    driver = agent_driver.AgentDriver("sc1", silent_url)
    started = time.monotonic()

    with pytest.raises(driver_base.SubcloudUnreachable, match="sc1 is unreachable"):
        driver.get_system_info(timeout=0.5)

    assert time.monotonic() - started < 2.5  # [subcloud_agent] request_timeout is 10


def test_an_answer_is_recorded_before_the_silent_subclouds_timeout(
    audit_conf, agent_url, silent_url
):
    answering = db_api.subcloud_create({"name": "fast", "endpoint": f"{agent_url}/site-1"})
    silent = db_api.subcloud_create({"name": "silent", "endpoint": silent_url})
    db_api.subcloud_update(silent.id, {"availability_status": "online"})
    recorded = []
    started = time.monotonic()
    audit = threading.Thread(target=lambda: recorded.append(audit_service.audit_once(audit_conf)))
    audit.start()

    wait_for(
        lambda: db_api.subcloud_get(answering.id).availability_status == "online",
        timeout=10,
        what="the answering subcloud to be recorded online",
    )
    online_after = time.monotonic() - started
    still_running = audit.is_alive()
    audit.join(30)
    ended_after = time.monotonic() - started

    assert still_running, f"the round ended before the answer was seen ({online_after:.2f}s)"
    assert online_after < 1.5
    assert 2.0 <= ended_after < 6.0
    assert recorded == [2]
    fast = db_api.subcloud_get(answering.id)
    assert (fast.system_mode, fast.software_version, fast.prestage_versions) == (
        "duplex",
        "25.09",
        "25.09",
    )
    assert fast.app_sync_status == "in-sync"  # uploaded only: nothing runs, as recorded
    slow = db_api.subcloud_get(silent.id)
    assert (slow.availability_status, slow.audit_fail_count) == ("online", 1)
