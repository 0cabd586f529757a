"""The built-in API server: eventlet's WSGI server on a green thread pool.

Used by ``dcmanager-api`` and ``dcmanager-all`` (the process must be monkey-patched);
deployments that prefer uwsgi or gunicorn use :mod:`dcmanager.api.wsgi` instead.
"""

import logging
import socket

import eventlet
import eventlet.wsgi
from oslo_config import cfg

from dcmanager.common import exception

LOG = logging.getLogger(__name__)


def listen(conf: cfg.ConfigOpts) -> socket.socket:
    """Bind ``[api] bind_host``/``bind_port``.

    :raises ListenError: the address cannot be bound (in use, not local, ...).
    """
    host, port = conf.api.bind_host, conf.api.bind_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        # No SO_REUSEPORT: a second server on a port in use must fail, not share it.
        return eventlet.listen((host, port), family=family, reuse_port=False)
    except OSError as exc:
        raise exception.ListenError(host=host, port=port, reason=exc.strerror or exc) from exc


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


# A client that goes away while a response is sent (an agent killed in the middle of a
# download, a CLI interrupted): normal, and worth one line rather than a traceback.
_HANGUPS = ("ConnectionResetError", "BrokenPipeError")


class _HangupFilter(logging.Filter):
    """Turns eventlet's traceback for a client that hung up into one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Traceback"):
            last = message.rstrip().rsplit("\n", 1)[-1]
            if last.startswith(_HANGUPS):
                record.msg, record.args = "The client closed the connection early (%s)", (last,)
        return True


def serve(sock: socket.socket, app, conf: cfg.ConfigOpts) -> None:
    """Serve ``app`` on ``sock`` until KeyboardInterrupt or SystemExit, then return."""
    access_log = logging.getLogger("dcmanager.api.access")
    if not any(isinstance(f, _HangupFilter) for f in access_log.filters):
        access_log.addFilter(_HangupFilter())
    eventlet.wsgi.server(
        sock,
        app,
        custom_pool=eventlet.GreenPool(conf.api.max_connections),
        log=access_log,
        log_output=True,
        socket_timeout=conf.api.client_socket_timeout,
    )
