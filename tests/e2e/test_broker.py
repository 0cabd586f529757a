"""What dcmanager leaves on, and sends through, a RabbitMQ broker: a node of the test's
own (:mod:`tests.private_services`), so that its queues can be listed and its messages
traced without touching the machine's broker."""

import base64
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator

import kombu
import webtest

from dcmanager.api import app as api_app
from dcmanager.common import rpc
from dcmanager.manager import service as manager_service
from dcmanager.orchestrator import service as orchestrator_service
from dcmanager.orchestrator import worker
from tests import databases
from tests.e2e import deployment as e2e
from tests.e2e.test_roles import strategy_and_standalone_prestage
from tests.functional import strategy_helpers as sh

PASSWORD = base64.b64encode(b"Li69nux*").decode()


def test_restarts_leave_no_queue_behind_with_the_default_configuration(conf, db, private_rabbitmq):
    exchange = f"dcmanager-test-{uuid.uuid4().hex[:8]}"
    conf.set_override("transport_url", private_rabbitmq.url)
    conf.set_override("control_exchange", exchange)
    conf.set_override("host", "sc-controller-0")
    try:
        for _ in range(3):
            roles = [
                worker.WorkerService(conf),
                manager_service.ManagerService(conf),
                orchestrator_service.OrchestratorService(conf),
            ]
            for role in roles:
                role.start()
            for role in roles:
                role.stop()
            rpc.cleanup()
    finally:
        conf.clear_override("transport_url")
        conf.clear_override("control_exchange")
        conf.clear_override("host")

    # oslo.messaging keeps a topic's queue and each server's (amqp_auto_delete is off by
    # default): one server per host and role, whatever the number of starts.
    assert sorted(q for q in private_rabbitmq.queues() if q.startswith(exchange)) == [
        f"{exchange}-manager",
        f"{exchange}-manager.sc-controller-0:manager",
        f"{exchange}-orchestrator",
        f"{exchange}-orchestrator-worker",
        f"{exchange}-orchestrator-worker.sc-controller-0:worker",
        f"{exchange}-orchestrator.sc-controller-0:orchestrator",
    ]


@contextlib.contextmanager
def _traced(node) -> Iterator[list[bytes]]:
    """Copies of every message published on ``node`` meanwhile (RabbitMQ's firehose
    tracer, switched on for the block): a list filled when the block ends."""
    bodies: list[bytes] = []
    with kombu.Connection(node.url.replace("rabbit://", "amqp://", 1)) as connection:
        queue = kombu.Queue(
            f"dcmanager-test-trace-{uuid.uuid4().hex[:8]}",
            exchange=kombu.Exchange("amq.rabbitmq.trace", type="topic", no_declare=True),
            routing_key="publish.#",
            exclusive=True,
        )(connection.default_channel)
        queue.declare()
        node.ctl("trace_on")
        try:
            yield bodies
        finally:
            node.ctl("trace_off")
        while (message := queue.get(no_ack=True)) is not None:
            bodies.append(message.body)


def test_password_in_no_rabbitmq_message(tmp_path, services, private_rabbitmq):
    with databases.temporary_database("sqlite", tmp_path) as url:
        deployment = e2e.Deployment(tmp_path, services, url, private_rabbitmq.url)
        deployment.start_all(workers=2)
        with _traced(private_rabbitmq) as bodies:
            strategy_and_standalone_prestage(deployment)
        deployment.stop_all(secrets=("Li69nux", PASSWORD))

    # The capture saw the traffic: the casts that start steps, among others.
    assert any(b"run_steps" in body for body in bodies), len(bodies)
    for body in bodies:
        assert b"Li69nux" not in body and PASSWORD.encode() not in body, body


def test_an_api_request_answers_while_the_broker_is_away(conf, db, private_rabbitmq, caplog):
    """Applying a strategy commits, then casts a hint to the orchestrator: with the
    broker stopped the cast gives up after its bounded retries and the request answers;
    the orchestrator's scan finds the applied strategy in the database by itself."""
    conf.set_override("transport_url", private_rabbitmq.url)
    conf.set_override("control_exchange", f"dcmanager-test-{uuid.uuid4().hex[:8]}")
    api = webtest.TestApp(api_app.setup_app(conf))
    sh.register(api, "sc1")
    sh.audit_once(conf)
    sh.create(api)

    private_rabbitmq.stop_app()
    try:
        with caplog.at_level(logging.WARNING, logger=rpc.__name__):
            started = time.monotonic()
            applied = sh.apply(api)
            took = time.monotonic() - started
    finally:
        private_rabbitmq.start_app()

    assert applied["state"] == "applying"
    assert api.get(sh.STRATEGY).json["state"] == "applying"
    assert "strategy_changed to orchestrator not sent" in caplog.text
    print(f"apply answered in {took:.1f} s with the broker stopped")
    assert took < 20
