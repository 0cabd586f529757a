"""Subclouds reached through their ``dcmanager-agent``: endpoints ``http(s)://host:port``.

Workers call the agent with a keystoneauth1 session (``[subcloud_agent]`` options):
one short request per start or poll; the transfers run in the agent. A start tells
the agent where to fetch from (``[prestage] repository_url`` and ``registry_url``) and
its bandwidth cap, with the sysadmin password, which the agent checks against its own
hash and never stores.
"""

import threading
import urllib.parse
from typing import Any

import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session

from dcmanager.common import exception
from dcmanager.common import states
from dcmanager.conf import CONF
from dcmanager.conf import subcloud_agent as agent_conf
from dcmanager.drivers import base

MIB = 1024**2


class AgentRefused(exception.DCManagerException):
    msg_fmt = "The agent of subcloud %(name)s refused the %(kind)s: %(reason)s"


class PasswordRefused(AgentRefused):
    """The agent refused the sysadmin password: trying again cannot help."""

    failure_kind = states.FailureKind.PASSWORD


class AgentError(exception.DCManagerException):
    msg_fmt = "The agent of subcloud %(name)s answered %(status)s: %(reason)s"


_session_lock = threading.Lock()
_session: ks_session.Session | None = None


def session() -> ks_session.Session:
    """The process's session to agents (made once: it keeps its token and connections)."""
    global _session
    with _session_lock:
        if _session is None:
            group = agent_conf.GROUP.name
            auth = ks_loading.load_auth_from_conf_options(CONF, group)
            _session = ks_loading.load_session_from_conf_options(CONF, group, auth=auth)
        return _session


def reset_session() -> None:
    """Forget the session (after the ``[subcloud_agent]`` options changed)."""
    global _session
    with _session_lock:
        _session = None


class AgentDriver(base.SubcloudDriver):
    blocking_io = True

    def _url(self, path: str) -> str:
        """``path`` under the endpoint: its scheme, host, port and path (credentials and
        query in the endpoint are not the agent's business; ``[subcloud_agent]`` says
        how to authenticate)."""
        parts = urllib.parse.urlsplit(self.endpoint)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        netloc = f"{host}:{parts.port}" if parts.port else host
        return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}{path}"

    def _call(
        self, method: str, path: str, body: dict | None = None, timeout: float | None = None
    ) -> tuple[int, Any]:
        try:
            response = session().request(
                self._url(path),
                method,
                json=body,
                raise_exc=False,
                log=False,
                timeout=timeout or CONF.subcloud_agent.request_timeout,
                headers={"Accept": "application/json"},
            )
        except (
            ks_exc.ConnectFailure,
            ks_exc.ConnectionError,
            ks_exc.RequestTimeout,
            requests.ConnectionError,
            requests.Timeout,
        ) as exc:
            raise base.SubcloudUnreachable(name=self.name, reason=type(exc).__name__) from None
        except ks_exc.ClientException as exc:
            # Getting a token failed (Keystone away or the credentials wrong).
            raise base.SubcloudUnreachable(
                name=self.name, reason=f"no token for the agent ({exc})"
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 500:
            raise base.SubcloudUnreachable(
                name=self.name, reason=f"the agent answered {response.status_code}"
            )
        return response.status_code, data

    @staticmethod
    def _reason(data: Any) -> str:
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return data["error"]
        return "no reason given"

    def _auth_error(self, status: int, data: Any) -> None:
        if status in (401, 403):
            raise AgentError(
                name=self.name,
                status=status,
                reason=f"{self._reason(data)} (check the [subcloud_agent] credentials)",
            )

    def get_system_info(self, timeout: float | None = None) -> base.SystemInfo:
        status, data = self._call("GET", "/v1/info", timeout=timeout)
        if status != 200 or not isinstance(data, dict):
            # For the audit, an agent that refuses us is as good as silent.
            raise base.SubcloudUnreachable(
                name=self.name, reason=f"the agent answered {status}: {self._reason(data)}"
            )
        return base.SystemInfo.from_dict(data)

    def start(
        self, kind: base.OperationKind, request: base.PrestageRequest | base.AppRequest, key: str
    ) -> base.Operation:
        prestage = CONF.prestage
        if not prestage.repository_url:
            raise exception.ConfigInvalid(
                reason="[prestage] repository_url is not set: agents cannot fetch the release"
            )
        if isinstance(request, base.AppRequest):
            # The agent fetches the application's tarball from the release store.
            body = {
                "id": key,
                "kind": str(kind),
                "app": request.to_dict(),
                "repository_url": prestage.repository_url,
            }
            return self._start(kind, body)
        per_subcloud = prestage.max_bandwidth_per_subcloud
        try:
            password = request.sysadmin_password.decode()
        except UnicodeDecodeError:
            raise AgentRefused(
                name=self.name,
                kind=f"{kind} operation",
                reason="the sysadmin password is not UTF-8",
            ) from None
        body = {
            "id": key,
            "kind": str(kind),
            "release": request.release,
            "repository_url": prestage.repository_url,
            "registry_url": prestage.registry_url,
            "max_bandwidth": per_subcloud * MIB if per_subcloud else None,
            "sysadmin_password": password,
        }
        if request.images:
            body["images"] = list(request.images)
        if kind == base.OperationKind.PACKAGES and request.for_install:
            body["for_install"] = True
        return self._start(kind, body)

    def _start(self, kind: base.OperationKind, body: dict) -> base.Operation:
        status, data = self._call("POST", "/v1/operations", body)
        if status == 403 and "password" in self._reason(data):
            raise PasswordRefused(
                name=self.name, kind=f"{kind} operation", reason=self._reason(data)
            )
        self._auth_error(status, data)
        if status not in (200, 201):
            raise AgentRefused(name=self.name, kind=f"{kind} operation", reason=self._reason(data))
        if body.get("for_install") and not (isinstance(data, dict) and data.get("for_install")):
            # An agent older than prestages for install would put the release where a
            # software deployment reads it, and say it succeeded.
            raise AgentRefused(
                name=self.name,
                kind=f"{kind} operation",
                reason="the agent does not know prestages for install (upgrade dcmanager-agent)",
            )
        return self._operation(data)

    def poll(self, handle: dict[str, str]) -> base.Operation:
        status, data = self._call("GET", f"/v1/operations/{urllib.parse.quote(handle['id'])}")
        self._auth_error(status, data)
        if status == 404:
            return base.Operation(
                kind=base.OperationKind(handle["kind"]),
                id=handle["id"],
                done=True,
                error="the agent no longer knows the operation (its state directory was reset?)",
            )
        if status != 200:
            raise AgentError(name=self.name, status=status, reason=self._reason(data))
        return self._operation(data)

    def cancel(self, handle: dict[str, str]) -> base.Operation:
        """``DELETE /v1/operations/{id}``: the agent stops the operation's transfers
        at their next chunk and answers once it ended."""
        path = f"/v1/operations/{urllib.parse.quote(handle['id'])}"
        status, data = self._call("DELETE", path)
        self._auth_error(status, data)
        if status == 404:
            return base.Operation(
                kind=base.OperationKind(handle["kind"]), id=handle["id"], done=True
            )
        if status != 200:
            raise AgentError(name=self.name, status=status, reason=self._reason(data))
        return self._operation(data)

    def _operation(self, data: Any) -> base.Operation:
        try:
            state = data["state"]
            progress = data.get("progress") or {}
            return base.Operation(
                kind=base.OperationKind(data["kind"]),
                id=data["id"],
                done=state != "running",
                error=(data.get("error") or state) if state in ("failed", "cancelled") else None,
                result=data.get("result") or {},
                progress=base.Progress(
                    **{
                        k: int(progress.get(k, 0))
                        for k in ("bytes_done", "bytes_total", "artifacts_done", "artifacts_total")
                    }
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentError(
                name=self.name, status=200, reason=f"a malformed operation ({exc})"
            ) from None
