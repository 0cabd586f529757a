"""RPC plumbing over oslo.messaging: the in-process transport and RabbitMQ."""

import queue
import uuid

import oslo_messaging
import pytest

from dcmanager.common import context as dc_context
from dcmanager.common import rpc
from tests import services

TOPIC = "test-rpc"


class EchoEndpoint:
    target = oslo_messaging.Target(version="1.1")

    def __init__(self) -> None:
        self.remembered: queue.Queue = queue.Queue()

    def echo(self, ctxt, value):
        return {
            "value": value,
            "context": type(ctxt).__name__,
            "user": ctxt.user_id,
            "project": ctxt.project_id,
            "roles": ctxt.roles,
        }

    def remember(self, ctxt, value):
        self.remembered.put((ctxt.user_id, value))


class EchoClient(rpc.RPCClient):
    """Test topic client.

    1.0 - echo
    1.1 - remember
    """

    TOPIC = TOPIC
    RPC_API_VERSION = "1.1"

    def echo(self, ctxt, value):
        return self.call(ctxt, "echo", "1.0", {"value": value})

    def remember(self, ctxt, value):
        self.cast(ctxt, "remember", "1.1", {"value": value})


class OldEchoClient(EchoClient):
    """A client capped below the version that introduced ``remember``."""

    RPC_API_VERSION = "1.0"


@pytest.fixture(params=["in-process", "rabbit"])
def transport(request, conf):
    if request.param == "in-process":
        rpc.default_to_in_process(conf)
    else:
        conf.set_override("transport_url", services.require_rabbitmq())
        # Queues of its own, whatever else lives on the broker.
        conf.set_override("control_exchange", f"dcmanager-test-{uuid.uuid4().hex[:8]}")
        rpc.get_transport(conf)  # registers the driver's options
        conf.set_override("amqp_auto_delete", True, group="oslo_messaging_rabbit")
    yield request.param
    rpc.cleanup()
    conf.clear_override("transport_url")
    if request.param == "rabbit":
        conf.clear_override("control_exchange")
        conf.clear_override("amqp_auto_delete", group="oslo_messaging_rabbit")
    conf.set_default("transport_url", None)


@pytest.fixture
def endpoint(conf, transport):
    endpoint = EchoEndpoint()
    server = rpc.get_server(conf, TOPIC, "test", [endpoint])
    server.start()
    yield endpoint
    server.stop()
    server.wait()


def _context() -> dc_context.RequestContext:
    return dc_context.RequestContext(
        user_id="alice", project_id="admin-project", roles=["admin", "reader"]
    )


def test_call_carries_arguments_and_context(conf, endpoint):
    result = EchoClient(conf, timeout=30).echo(_context(), {"subclouds": [1, 2]})

    assert result == {
        "value": {"subclouds": [1, 2]},
        "context": "RequestContext",
        "user": "alice",
        "project": "admin-project",
        "roles": ["admin", "reader"],
    }


def test_cast_is_delivered(conf, endpoint):
    EchoClient(conf, timeout=30).remember(_context(), "sc7")

    assert endpoint.remembered.get(timeout=30) == ("alice", "sc7")


def test_client_refuses_calls_newer_than_its_cap(conf, endpoint):
    with pytest.raises(oslo_messaging.RPCVersionCapError):
        OldEchoClient(conf, timeout=30).remember(_context(), "sc7")
    assert endpoint.remembered.empty()


def test_transport_is_described_without_credentials(conf, transport):
    description = rpc.describe_transport(conf)

    if transport == "in-process":
        assert description == "in-process"
        assert rpc.is_in_process(conf)
    else:
        assert description.startswith("rabbit://127.0.0.1:5672/")
        assert "guest" not in description
        assert not rpc.is_in_process(conf)
