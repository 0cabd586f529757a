"""The agent driver's own logic: endpoints, URLs and how agent answers become
operations (the calls themselves are proved against real agents in
tests/e2e/test_agents.py)."""

import pytest

from dcmanager import drivers
from dcmanager.common import endpoints
from dcmanager.common import exception
from dcmanager.drivers import agent as agent_driver
from dcmanager.drivers import base


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_http_endpoints_are_agents(scheme):
    assert isinstance(drivers.get_driver("sc1", f"{scheme}://sc1:8129"), agent_driver.AgentDriver)
    assert drivers.blocking_io(f"{scheme}://sc1:8129")


def test_a_bad_port_is_refused_when_the_subcloud_is_registered():
    with pytest.raises(exception.Invalid, match="Invalid endpoint: must be a URL") as caught:
        endpoints.validate("https://user:secret@sc1:99999")
    assert "secret" not in str(caught.value)
    endpoint = "https://user:secret@sc1:8129/agent?x=1"
    assert endpoints.validate(endpoint) == endpoint


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://sc1:8129", "http://sc1:8129/v1/info"),
        ("https://sc1", "https://sc1/v1/info"),
        ("http://user:secret@sc1:8129/?token=x", "http://sc1:8129/v1/info"),
        ("https://sc1:443/agent/", "https://sc1:443/agent/v1/info"),
        ("http://[fd00::3]:8129", "http://[fd00::3]:8129/v1/info"),
    ],
)
def test_calls_go_to_the_endpoints_host_and_path_without_its_credentials(endpoint, url):
    assert agent_driver.AgentDriver("sc1", endpoint)._url("/v1/info") == url


def _view(state: str, **more) -> dict:
    return {
        "id": "7:packages",
        "kind": "packages",
        "release": "25.09",
        "state": state,
        "error": None,
        "result": {},
        "progress": {"bytes_done": 5, "bytes_total": 10, "artifacts_done": 1, "artifacts_total": 2},
        **more,
    }


def test_a_running_operation_shows_its_progress():
    operation = agent_driver.AgentDriver("sc1", "http://sc1")._operation(_view("running"))
    assert not operation.done
    assert operation.error is None
    assert operation.progress == base.Progress(5, 10, 1, 2)
    assert operation.handle() == {"kind": "packages", "id": "7:packages"}


@pytest.mark.parametrize(
    ("state", "error", "expected"),
    [
        ("done", None, None),
        ("failed", "a.deb (sha256:1): not found", "a.deb (sha256:1): not found"),
        ("cancelled", "cancelled", "cancelled"),
        ("failed", None, "failed"),
    ],
)
def test_finished_operations(state, error, expected):
    operation = agent_driver.AgentDriver("sc1", "http://sc1")._operation(_view(state, error=error))
    assert operation.done
    assert operation.error == expected


@pytest.mark.parametrize("view", [{}, {"state": "done"}, _view("done", kind="reboot"), None])
def test_a_malformed_answer_is_an_error_naming_the_subcloud(view):
    with pytest.raises(agent_driver.AgentError, match="sc1 .*malformed operation"):
        agent_driver.AgentDriver("sc1", "http://sc1")._operation(view)
