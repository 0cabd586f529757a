"""A StarlingX site's facts from its own REST services, through keystoneauth1.

- sysinv (catalog type ``platform``): ``GET /v1/isystems`` gives system_mode and
  software_version, ``GET /v1/ihosts`` whether controller-0 is the active controller;
- fm (``faultmanagement``): ``GET /v1/alarms`` the management-affecting alarms;
- USM (``usm``): ``GET /v1/deploy`` the software deployment under way, if any.

The answers are read as StarlingX writes them: ``{"isystems": [{"system_mode",
"software_version", ...}]}``; ``{"ihosts": [{"hostname", "personality",
"capabilities": {"Personality": "Controller-Active"}, ...}]}``; ``{"alarms": [{...,
"mgmt_affecting": "True"}]}`` (suppressed alarms included, as sysinv's own health
query counts them); and a list of deployments, empty when none is under way.

This module knows the wire; :mod:`dcmanager.agent.platform` checks the values and
decides what a failure means.
"""

import concurrent.futures
import dataclasses
from collections.abc import Callable
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from dcmanager.agent import conf as agent_conf

CONTROLLER_0 = "controller-0"
ACTIVE = "Controller-Active"
DEPLOY_COMPLETED = "completed"
"""USM's last deploy state: the deployment is done, only its record is left."""
NO_DEPLOYMENT = "complete"
"""deploy_status when no software deployment is under way (the controller's word)."""
DEPLOYING_PREFIX = "software-deploy-"
"""deploy_status while one is: ``software-deploy-<USM deploy state>``."""


class ServiceError(Exception):
    """A service could not be asked, or answered nothing usable; the message says
    which and why, for the operator."""


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    service_type: str
    """Its type in the Keystone catalog."""
    label: str
    """How the operator knows it."""
    facts: tuple[str, ...]


SERVICES = {
    "sysinv": Service(
        "sysinv",
        "platform",
        "the site's inventory (sysinv)",
        ("system_mode", "software_version", "controller0_active"),
    ),
    "fm": Service("fm", "faultmanagement", "the site's fault manager (fm)", ("management_alarms",)),
    "usm": Service("usm", "usm", "the site's software manager (USM)", ("deploy_status",)),
}


def system_facts(data: Any) -> dict[str, Any]:
    """system_mode and software_version from ``GET /v1/isystems``."""
    systems = data.get("isystems") if isinstance(data, dict) else None
    if not isinstance(systems, list) or not systems or not isinstance(systems[0], dict):
        raise ServiceError("lists no system")
    system = systems[0]
    return {
        "system_mode": system.get("system_mode"),
        "software_version": system.get("software_version"),
    }


def controller0_active(data: Any) -> bool:
    """Whether controller-0 is the active controller, from ``GET /v1/ihosts``."""
    hosts = data.get("ihosts") if isinstance(data, dict) else None
    if not isinstance(hosts, list):
        raise ServiceError("lists no hosts")
    for host in hosts:
        if (
            isinstance(host, dict)
            and host.get("hostname") == CONTROLLER_0
            and host.get("personality") == "controller"
        ):
            capabilities = host.get("capabilities")
            return isinstance(capabilities, dict) and capabilities.get("Personality") == ACTIVE
    raise ServiceError(f"lists no {CONTROLLER_0}")


def management_alarms(data: Any) -> int:
    """How many raised alarms affect management, from ``GET /v1/alarms``."""
    alarms = data.get("alarms") if isinstance(data, dict) else None
    if not isinstance(alarms, list):
        raise ServiceError("lists no alarms")
    return sum(1 for alarm in alarms if isinstance(alarm, dict) and _is_true(alarm))


def _is_true(alarm: dict[str, Any]) -> bool:
    # fm writes str(bool): "True" or "False".
    return str(alarm.get("mgmt_affecting")) == "True"


def deploy_status(data: Any) -> str:
    """``complete``, or the software deployment under way, from ``GET /v1/deploy``."""
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ServiceError("answered no list of deployments")
    states = [item.get("state") for item in data]
    if any(not isinstance(state, str) or not state for state in states):
        raise ServiceError("answered a deployment without a state")
    under_way = [state for state in states if state != DEPLOY_COMPLETED]
    return DEPLOYING_PREFIX + under_way[0] if under_way else NO_DEPLOYMENT


class Client:
    """Asks the site's services (one keystoneauth session, whose token is reused until
    it expires)."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        group_name = agent_conf.PLATFORM_GROUP.name
        group = conf[group_name]
        auth = ks_loading.load_auth_from_conf_options(conf, group_name)
        self.session: ks_session.Session = ks_loading.load_session_from_conf_options(
            conf, group_name, auth=auth
        )
        self.services = [SERVICES[name] for name in dict.fromkeys(group.starlingx_services)]
        self._authenticated = auth is not None
        self._overrides = {
            "sysinv": group.sysinv_url,
            "fm": group.fm_url,
            "usm": group.usm_url,
        }
        self._interface = group.interface
        self._region = group.region_name
        self._timeout = group.request_timeout

    def read(self) -> tuple[dict[str, Any], list[str]]:
        """The facts the listed services gave, and why each that failed did (all asked
        at the same time)."""
        asks: dict[str, Callable[[], dict[str, Any]]] = {
            "sysinv": self._sysinv,
            "fm": lambda: {"management_alarms": management_alarms(self._get("fm", "alarms"))},
            "usm": lambda: {"deploy_status": deploy_status(self._get("usm", "deploy"))},
        }
        found: dict[str, Any] = {}
        problems: list[str] = []
        if not self.services:
            return found, problems
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=len(self.services), thread_name_prefix="platform"
        ) as pool:
            futures = {service: pool.submit(asks[service.name]) for service in self.services}
        for service, future in futures.items():
            try:
                found.update(future.result())
            except ServiceError as exc:
                problems.append(f"{service.label}: {exc}")
        return found, problems

    def _sysinv(self) -> dict[str, Any]:
        return {
            **system_facts(self._get("sysinv", "isystems")),
            "controller0_active": controller0_active(self._get("sysinv", "ihosts")),
        }

    def endpoint(self, service: Service) -> str:
        """The service's root URL, without its ``/v1``.

        :raises ServiceError: not configured, or not in the catalog.
        """
        url = self._overrides[service.name]
        if not url:
            if not self._authenticated:
                raise ServiceError(
                    f"set [platform] {service.name}_url, or [platform] auth_type to find "
                    f"it in the site's Keystone catalog"
                )
            try:
                url = self.session.get_endpoint(
                    service_type=service.service_type,
                    interface=self._interface,
                    region_name=self._region,
                )
            except ks_exc.ClientException as exc:
                raise ServiceError(
                    f"looking it up in the site's Keystone: {_failure(exc)}"
                ) from None
            if not url:
                raise ServiceError(
                    f"no {self._interface} endpoint of type {service.service_type} in the "
                    "site's Keystone catalog"
                )
        url = url.rstrip("/")
        return url.removesuffix("/v1")

    def _get(self, name: str, resource: str) -> Any:
        url = f"{self.endpoint(SERVICES[name])}/v1/{resource}"
        params = {"include_suppress": "True"} if resource == "alarms" else None
        try:
            response = self.session.get(
                url, params=params, timeout=self._timeout, raise_exc=False, log=False
            )
        except ks_exc.ClientException as exc:
            raise ServiceError(f"{url}: {_failure(exc)}") from None
        if response.status_code != 200:
            raise ServiceError(f"{url} answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise ServiceError(f"{url} answered something that is not JSON") from None


def _failure(exc: ks_exc.ClientException) -> str:
    """What went wrong, in the operator's words (never the credentials)."""
    if isinstance(exc, ks_exc.EndpointNotFound):
        return "not in its catalog"
    if isinstance(exc, ks_exc.HttpError):
        return f"Keystone answered {exc.http_status} (check the [platform] credentials)"
    if isinstance(exc, ks_exc.ConnectionError):
        return f"unreachable ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"
