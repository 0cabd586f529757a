"""A stand-in for a StarlingX site's own services, which cannot run here: sysinv
(``GET /v1/isystems``, ``/v1/ihosts``), fm (``GET /v1/alarms``) and USM (``GET
/v1/deploy``), answering with their JSON shapes, on 127.0.0.1, plus a registry's
``GET /v2/`` for the agent's health probe.

One server plays every service; tests move the site's state (its mode, active
controller, alarms, deployments) and make a resource fail, and read which requests came
with which token.
"""

import dataclasses
import http.server
import json
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any


def alarm(alarm_id: str, mgmt_affecting: bool, suppressed: bool = False) -> dict[str, Any]:
    """An alarm as fm lists it (``mgmt_affecting`` is fm's ``str(bool)``)."""
    return {
        "uuid": str(uuid.uuid4()),
        "alarm_id": alarm_id,
        "entity_instance_id": "host=controller-0",
        "severity": "major",
        "reason_text": f"alarm {alarm_id}",
        "timestamp": "2026-01-01T00:00:00.000000",
        "suppression_status": "suppressed" if suppressed else "unsuppressed",
        "mgmt_affecting": str(mgmt_affecting),
        "degrade_affecting": "False",
    }


@dataclasses.dataclass
class Site:
    """What the stand-in answers; change it between calls."""

    system_mode: str = "simplex"
    software_version: str = "25.09"
    active: str = "controller-0"
    alarms: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    deploys: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fail: dict[str, int] = dataclasses.field(default_factory=dict)
    """Resource (``isystems``, ``ihosts``, ``alarms``, ``deploy``, ``registry``) → the
    status it answers instead."""
    registry_status: int = 401

    def hosts(self) -> list[dict[str, Any]]:
        names = (
            ["controller-0"] if self.system_mode == "simplex" else ["controller-0", "controller-1"]
        )
        return [
            {
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                "hostname": name,
                "personality": "controller",
                "subfunctions": "controller,worker",
                "administrative": "unlocked",
                "operational": "enabled",
                "availability": "available",
                "capabilities": {
                    "Personality": "Controller-Active"
                    if name == self.active
                    else "Controller-Standby",
                    "stor_function": "monitor",
                },
            }
            for name in names
        ]

    def system(self) -> dict[str, Any]:
        return {
            "uuid": "5af5f7e5-1eea-4e76-b539-ac552e132e47",
            "name": "site",
            "system_type": "All-in-one",
            "system_mode": self.system_mode,
            "software_version": self.software_version,
            "region_name": "RegionOne",
            "distributed_cloud_role": "subcloud",
            "capabilities": {"sdn_enabled": False, "https_enabled": False},
        }


class StandIn:
    """The server; ``with StandIn() as standin: standin.url ...``."""

    def __init__(self, site: Site | None = None, token_valid: Callable[[str], bool] | None = None):
        """
        :param token_valid: when given, a service request without a token it accepts
            gets 401, as keystonemiddleware answers (the registry probe needs none).
        """
        self.site = site or Site()
        self.token_valid = token_valid
        self.requests: list[tuple[str, dict[str, list[str]], str | None]] = []
        """(path, query, X-Auth-Token) of every request, in order."""
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "StandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _, _ in self.requests]

    def _answer(self, path: str, query: dict[str, list[str]], token: str | None):
        with self._lock:
            self.requests.append((path, query, token))
        site = self.site
        if path == "/v2/":
            status = site.fail.get("registry", site.registry_status)
            return status, {"errors": []} if status == 401 else {}
        resource = path.removeprefix("/v1/").rstrip("/")
        if resource not in ("isystems", "ihosts", "alarms", "deploy"):
            return 404, {"error_message": f"no {path}"}
        if self.token_valid is not None and not (token and self.token_valid(token)):
            return 401, {"error": {"message": "The request you have made requires authentication."}}
        with self._lock:
            if resource in site.fail:
                return site.fail[resource], {"error_message": "failed on purpose"}
            if resource == "isystems":
                return 200, {"isystems": [site.system()]}
            if resource == "ihosts":
                return 200, {"ihosts": site.hosts()}
            if resource == "alarms":
                include = query.get("include_suppress", ["False"])[0] == "True"
                alarms = [
                    a for a in site.alarms if include or a["suppression_status"] == "unsuppressed"
                ]
                return 200, {"alarms": alarms, "next": ""}
            return 200, site.deploys

    def _handler(self):
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                parsed = urllib.parse.urlsplit(self.path)
                status, body = standin._answer(
                    parsed.path,
                    urllib.parse.parse_qs(parsed.query),
                    self.headers.get("X-Auth-Token"),
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        return Handler
