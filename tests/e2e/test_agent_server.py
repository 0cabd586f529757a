"""The agent's HTTP server (cheroot) as a client meets it: connections kept alive,
oversized headers refused before the application, TLS as configured."""

import http.client

import pytest

from tests.e2e import site as e2e_site


@pytest.fixture
def agent(tmp_path, services):
    site = e2e_site.Site(tmp_path, services, None)
    site.start()
    (instance,) = site.add_agents(1, extra="max_connections = 4\n")
    yield instance
    site.stop()


def test_a_connection_serves_several_requests(agent):
    connection = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    sockets = []
    try:
        for _ in range(3):
            connection.request("GET", "/", headers={"X-Auth-Token": e2e_site.AGENT_TOKEN})
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection", "").lower() != "close"
            sockets.append(connection.sock)
    finally:
        connection.close()
    # One TCP connection all along: the client never had to open another.
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3


def test_oversized_headers_are_refused_before_the_application(agent):
    connection = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    try:
        connection.request("GET", "/", headers={"X-Padding": "x" * (70 * 1024)})
        response = connection.getresponse()
        assert response.status in (413, 431), response.status
    finally:
        connection.close()
    assert "Traceback" not in agent.service.log
