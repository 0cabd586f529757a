"""RPC over oslo.messaging: transport, context serializer, and the base of the
per-topic client classes.

``[DEFAULT] transport_url`` picks the transport: ``rabbit://...`` in production. The
embedded ``dcmanager-all``, which runs every role in one process, defaults to
oslo.messaging's in-process driver instead (see :func:`default_to_in_process`).

Every cast is a hint: what it asks for is in the database already, and a scan makes it
good when the cast is lost (the orchestrator dispatches again steps no worker claimed,
the manager picks up standalone steps, workers poll for aborts). So a cast tries to
reach the broker ``[DEFAULT] rpc_cast_retries`` times, then logs and gives up, instead
of oslo.messaging's default of retrying forever, which would hang an API request whose
change was already committed.
"""

import logging
from typing import Any
from typing import ClassVar

import kombu.exceptions
import oslo_messaging
from oslo_config import cfg

from dcmanager.common import context as dc_context

LOG = logging.getLogger(__name__)

IN_PROCESS_TRANSPORT_URL = "fake:/"

_TRANSPORT: oslo_messaging.Transport | None = None


def _register_transport_opts(conf: cfg.ConfigOpts) -> None:
    # oslo.messaging registers [DEFAULT] transport_url (and its siblings) the first time
    # it parses a URL; make sure that happened before the option is read or defaulted.
    oslo_messaging.TransportURL.parse(conf, IN_PROCESS_TRANSPORT_URL)


def default_to_in_process(conf: cfg.ConfigOpts) -> None:
    """Make the in-process transport the default (a configured one still wins)."""
    _register_transport_opts(conf)
    conf.set_default("transport_url", IN_PROCESS_TRANSPORT_URL)


def transport_url(conf: cfg.ConfigOpts) -> str:
    """The transport URL in effect."""
    _register_transport_opts(conf)
    return conf.transport_url


def is_in_process(conf: cfg.ConfigOpts) -> bool:
    return oslo_messaging.TransportURL.parse(conf, transport_url(conf)).transport == "fake"


def describe_transport(conf: cfg.ConfigOpts) -> str:
    """The transport for a log line: driver, hosts and virtual host, no credentials."""
    if is_in_process(conf):
        return "in-process"
    url = oslo_messaging.TransportURL.parse(conf, transport_url(conf))
    hosts = ",".join(
        f"{host.hostname}:{host.port}" if host.port else str(host.hostname) for host in url.hosts
    )
    return f"{url.transport}://{hosts}/{url.virtual_host or ''}"


def get_transport(conf: cfg.ConfigOpts) -> oslo_messaging.Transport:
    """The process-wide RPC transport, created on first use."""
    global _TRANSPORT
    if _TRANSPORT is None:
        _TRANSPORT = oslo_messaging.get_rpc_transport(conf, url=transport_url(conf))
    return _TRANSPORT


def cleanup() -> None:
    """Close the transport (on shutdown, and between tests)."""
    global _TRANSPORT
    if _TRANSPORT is not None:
        _TRANSPORT.cleanup()
        _TRANSPORT = None


class RequestContextSerializer(oslo_messaging.Serializer):
    """Carries the caller's :class:`RequestContext` across RPC.

    Arguments go on the wire as they are, so RPC methods take only primitives
    (ids, names, plain dicts), never model objects.
    """

    def serialize_entity(self, ctxt, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: dc_context.RequestContext) -> dict:
        return ctxt.to_dict()

    def deserialize_context(self, ctxt: dict) -> dc_context.RequestContext:
        return dc_context.RequestContext.from_dict(ctxt)


def topic(conf: cfg.ConfigOpts, name: str) -> str:
    """The topic ``name`` of this deployment: ``[DEFAULT] control_exchange`` and the name
    (``dcmanager-orchestrator`` by default).

    RabbitMQ queues are named after topics, whatever the exchange: without the prefix,
    two deployments sharing a broker would share queues and take each other's
    messages.
    """
    _register_transport_opts(conf)
    return f"{conf.control_exchange}-{name}"


def get_server(
    conf: cfg.ConfigOpts, topic_name: str, role: str, endpoints: list[object]
) -> oslo_messaging.MessageHandlingServer:
    """An RPC server for topic ``topic_name``; its endpoints declare their ``target``
    version.

    The server is named after this host and ``role``, not after the process: its queue
    (``<topic>.<host>:<role>``, kept by the broker after the process ends unless
    ``amqp_auto_delete`` is set) is the same at every start, so restarts leave none
    behind. Nothing is ever sent to one server by name: casts go to the topic or to
    every server. oslo.messaging dispatches on threads, which are green threads once
    eventlet has patched the process.
    """
    return oslo_messaging.get_rpc_server(
        get_transport(conf),
        oslo_messaging.Target(topic=topic(conf, topic_name), server=f"{conf.host}:{role}"),
        endpoints,
        serializer=RequestContextSerializer(),
        access_policy=oslo_messaging.DefaultRPCAccessPolicy,
    )


class RPCClient:
    """Base of the one client class per topic.

    A subclass sets ``TOPIC`` and ``RPC_API_VERSION`` (with the version history in
    its docstring) and has one method per remote call, each passing the version that
    introduced it, so a newer client fails loudly against an older server instead of
    calling something that is not there.
    """

    TOPIC: ClassVar[str]
    RPC_API_VERSION: ClassVar[str]

    def __init__(self, conf: cfg.ConfigOpts, timeout: float | None = None) -> None:
        target = oslo_messaging.Target(topic=topic(conf, self.TOPIC), version=self.RPC_API_VERSION)
        self._client = oslo_messaging.get_rpc_client(
            get_transport(conf),
            target,
            version_cap=self.RPC_API_VERSION,
            serializer=RequestContextSerializer(),
            timeout=timeout,
        )
        self._cast_retries = conf.rpc_cast_retries

    def call(
        self,
        ctxt: dc_context.RequestContext,
        method: str,
        version: str,
        args: dict[str, Any] | None = None,
    ) -> Any:
        """Call ``method(**args)`` on one server of the topic and wait for its result."""
        return self._client.prepare(version=version).call(ctxt, method, **(args or {}))

    def cast(
        self,
        ctxt: dc_context.RequestContext,
        method: str,
        version: str,
        args: dict[str, Any] | None = None,
        fanout: bool = False,
    ) -> None:
        """Send ``method(**args)`` without waiting: to one server of the topic, or every
        server (``fanout``). A cast the broker cannot take is logged and dropped (see
        the module's docstring)."""
        client = self._client.prepare(version=version, fanout=fanout, retry=self._cast_retries)
        try:
            client.cast(ctxt, method, **(args or {}))
        except (oslo_messaging.MessageDeliveryFailure, kombu.exceptions.KombuError, OSError) as exc:
            LOG.warning(
                "%s to %s not sent (%s); a scan will make up for it", method, self.TOPIC, exc
            )
