"""The API reference (``api-ref/openapi.yaml``) against the real, running API.

Every call below goes over HTTP to the application served by ``live_api``. Each request
is checked against the document (it must accept the requests meant to be valid and
reject those meant to be invalid) and each response must match the document exactly:
status, headers and body schema (response objects forbid undocumented fields).

Coverage is checked statically from the scenario tables of this module, which the
validation tests prove are truthful (each call asserts that the document matches it to
the operation it claims to exercise):

* every (method, path template) of the document is exercised, and nothing else;
* every status each operation documents is produced, except those that cannot happen
  in this setting (see ``UNREACHABLE_STATUSES``);
* every method a path does not document answers 405.

Scenarios that run strategies start the engine (the ``roles`` fixture: audit, worker,
manager, orchestrator), whose audit brings simulated subclouds online; the others set
a subcloud's state (or its applications' records) directly in the database where
they need it. No response may ever contain the prestage password.

Where the API contradicts its contract, the cases that show it are listed in
``KNOWN_BUGS`` and expected to fail (strictly, so that a fix is noticed).
"""

import base64
import dataclasses
import hashlib
import json
import pathlib
import re
import time
from collections.abc import Iterable
from typing import Any

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.contrib.requests import RequestsOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from dcmanager.db import api as db_api
from dcmanager.db import session as db_session
from dcmanager.db.sqlalchemy import models
from dcmanager.drivers import simulator
from tests import apps as test_apps
from tests.functional import strategy_helpers as sh

DOC_PATH = pathlib.Path(__file__).resolve().parents[2] / "api-ref" / "openapi.yaml"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Methods sent to every documented path that does not list them; each must answer 405.
# (HEAD is left out: its answer has no body to check.)
PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# Above the default [oslo_middleware] max_request_body_size of 112 KiB.
OVERSIZED_PADDING = "x" * 200_000

S = "/v1.0/subclouds"
BULK_REQUIRED = "subclouds required: a list of 1 to 5000 subclouds to register"
S1 = "/v1.0/subclouds/{subcloud}"
SD = "/v1.0/subclouds/{subcloud}/detail"
G = "/v1.0/subcloud-groups"
G1 = "/v1.0/subcloud-groups/{group}"
GS = "/v1.0/subcloud-groups/{group}/subclouds"
SP = "/v1.0/subclouds/{subcloud}/prestage"
SAPPS = "/v1.0/subclouds/{subcloud}/apps"
SAPP1 = "/v1.0/subclouds/{subcloud}/apps/{name}"
ST = "/v1.0/sw-update-strategy"
SA = "/v1.0/sw-update-strategy/actions"
SS = "/v1.0/sw-update-strategy/steps"
SS1 = "/v1.0/sw-update-strategy/steps/{cloud_name}"
SSUM = "/v1.0/sw-update-strategy/summary"
R = "/v1.0/releases"
R1 = "/v1.0/releases/{version}"
A = "/v1.0/apps"
A1 = "/v1.0/apps/{name}"
AV = "/v1.0/apps/{name}/versions/{version}"
APP_TYPE = "application/octet-stream"
TARBALL_V1 = test_apps.app_tarball(version="1.0.0")
APP_EXISTS = "Application demo already has version 1.0.0"
B1 = "/v1.0/blobs/{digest}"
BLOB_TYPE = "application/octet-stream"
BLOB = b"package bytes"
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
OTHER_DIGEST = "sha256:" + hashlib.sha256(b"other bytes").hexdigest()
# Values of the path variables when a path is probed with a method it does not have.
PROBE_PARAMS = {
    "subcloud": "sc1",
    "cloud_name": "sc1",
    "version": "25.09",
    "digest": BLOB_DIGEST,
    "name": "rabbitmq",
}

# How long a call waits for the engine to bring about what it expects.
WAIT = 30.0
POLL_INTERVAL = 0.05
# The prestage password, as sent (base64) and as it is: no response may contain either.
PASSWORD = sh.PASSWORD
SECRETS = (PASSWORD, base64.b64decode(PASSWORD).decode())


class _Absent:
    """In an expected body: the key must not be there."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


@dataclasses.dataclass(frozen=True)
class Raw:
    """A request body sent as these exact bytes (as JSON content unless told)."""

    data: bytes
    content_type: str = "application/json"


@dataclasses.dataclass
class Call:
    """One HTTP call and what must come of it.

    :ivar template: the document's path template this call exercises.
    :ivar params: values of the template's variables.
    :ivar query: query string appended to the path (``"?type=prestage"``).
    :ivar body: JSON value to send, :class:`Raw` bytes, or None for no body.
    :ivar status: the expected status.
    :ivar message: the expected error message, if any.
    :ivar doc_accepts: whether the document accepts the request (True/False), or None
        when the request validator cannot decide it (see where it is used).
    :ivar expect: expected response body; dicts are matched partially (only the given
        keys; a key given as :data:`ABSENT` must be missing), lists element by element,
        strings have ``{base}`` replaced by the base URL.
    :ivar accept: the request's Accept header.
    :ivar headers: more request headers (``Range``).
    :ivar wait: when set, repeat the call (at most this many seconds) until the
        response has the expected status, message and body: for what the engine does
        in the background.
    """

    method: str
    template: str
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    body: Any = None
    status: int = 200
    message: str | None = None
    doc_accepts: bool | None = True
    expect: Any = None
    accept: str = "application/json"
    query: str = ""
    wait: float = 0.0
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def operation(self) -> tuple[str, str]:
        return self.method, self.template


@dataclasses.dataclass(frozen=True)
class StartEngine:
    """In a scenario: it needs the engine (``roles``), started before its first call."""


ENGINE = StartEngine()


@dataclasses.dataclass(frozen=True)
class SetSubcloud:
    """In a scenario: change a subcloud's columns directly in the database, for a
    scenario without the engine (no audit brings subclouds online)."""

    name: str
    values: dict[str, Any]


def set_online(name: str) -> SetSubcloud:
    return SetSubcloud(name, {"availability_status": "online"})


# The statuses of a version that has no Helm release at the site.
NOT_INSTALLED = ("uploading", "uploaded", "upload-failed")
# The statuses of a version with an operation on it under way.
BUSY = ("uploading", "applying", "updating", "recovering", "removing")


def site_ledger(name: str = "demo") -> list[dict[str, Any]]:
    """The Helm releases of a version that :class:`PutSiteApp` gives a site."""
    return [
        {
            "release": f"{name}-api",
            "namespace": name,
            "chart": f"{name}-api",
            "chart_version": "0.1.0",
            "revision": 1,
        }
    ]


@dataclasses.dataclass(frozen=True)
class PutSiteApp:
    """In a scenario: give a subcloud a record of an application's version directly in
    the database, as an operation would have left it (no engine runs to get there). A
    version that was applied has one Helm release, at revision 1."""

    subcloud: str
    version: str
    status: str
    name: str = "demo"

    def put(self) -> None:
        subcloud_id = db_api.subcloud_get(self.subcloud).id
        with db_session.writer() as db:
            db.add(
                models.SubcloudApp(
                    subcloud_id=subcloud_id,
                    name=self.name,
                    version=self.version,
                    status=self.status,
                    releases=[] if self.status in NOT_INSTALLED else site_ledger(self.name),
                    phases={},
                )
            )


def new_subcloud(name: str, **fields: Any) -> Call:
    return Call(
        "POST",
        S,
        body={"name": name, "endpoint": f"simulated://{name}", **fields},
        expect={"name": name},
    )


def managed_subcloud(name: str, options: str = "", **fields: Any) -> list[Call]:
    """Register a simulated subcloud (with the simulator's ``options``) and manage it."""
    endpoint = f"simulated://{name}" + (f"?{options}" if options else "")
    return [
        Call("POST", S, body={"name": name, "endpoint": endpoint, **fields}, expect={"name": name}),
        Call(
            "PATCH",
            S1,
            {"subcloud": name},
            body={"management-state": "managed"},
            expect={"management-state": "managed"},
        ),
    ]


def online(name: str, **expect: Any) -> Call:
    """Wait until the engine's audit has found the subcloud online."""
    return Call(
        "GET", S1, {"subcloud": name}, expect={"availability-status": "online", **expect}, wait=WAIT
    )


def prestage(**fields: Any) -> dict[str, Any]:
    """The body of a prestage strategy."""
    return {"type": "prestage", "sysadmin_password": PASSWORD, **fields}


def app_update(**fields: Any) -> dict[str, Any]:
    """The body of an app-update strategy of the application demo."""
    return {"type": "app-update", "app": "demo", **fields}


def strategy_gone() -> Call:
    """Wait until the orchestrator has removed a deleted strategy."""
    return Call("GET", ST, status=404, message=STRATEGY_NOT_FOUND, wait=WAIT)


def new_group(name: str, **fields: Any) -> Call:
    return Call("POST", G, body={"name": name, **fields}, expect={"name": name})


def upload_app(version: str, name: str = "demo", **metadata: Any) -> Call:
    if (name, version, metadata) == ("demo", "1.0.0", {}):
        data = TARBALL_V1
    else:
        data = test_apps.app_tarball(name=name, version=version, metadata=metadata or None)
    return Call(
        "POST", A, body=Raw(data, APP_TYPE), status=201, expect={"name": name, "version": version}
    )


def at(subcloud: str, name: str = "demo") -> dict[str, str]:
    """The path variables of an application at a subcloud."""
    return {"subcloud": subcloud, "name": name}


def operate(subcloud: str, body: Any, name: str = "demo", **kw: Any) -> Call:
    """An operation on the application at the subcloud, started (202) unless told."""
    kw.setdefault("status", 202)
    return Call("POST", SAPP1, at(subcloud, name), body=body, **kw)


def refused(subcloud: str, body: Any, status: int, message: str, name: str = "demo") -> Call:
    """A valid operation that the catalog or the site's records refuse."""
    return operate(subcloud, body, name, status=status, message=message)


def applied_at(subcloud: str, version: str) -> list[Call]:
    """Apply the version of demo at the subcloud, and wait until the engine has."""
    return [
        operate(subcloud, {"action": "apply", "version": version}),
        Call(
            "GET",
            SAPP1,
            at(subcloud),
            expect={"version": version, "status": "applied", "operation": None},
            wait=WAIT,
        ),
    ]


def site_app(version: str | None, status: str, name: str = "demo", **fields: Any) -> dict:
    """An application at a subcloud as the API shows it (``fields`` as rendered:
    ``target-version``...). An operation started here stays in its first state, as no
    engine runs."""
    return {
        "name": name,
        "version": version,
        "status": status,
        "progress": None,
        "target-version": None,
        "operation": "app-precheck" if status in BUSY else None,
        "releases": [] if status in NOT_INSTALLED else site_ledger(name),
        "phases": {},
        "inactive": [],
        **fields,
    }


def not_acceptable(
    method: str, template: str, params: dict | None = None, body: Any = None, query: str = ""
):
    """The call made by a client that does not accept JSON: 406, before anything else."""
    return Call(
        method,
        template,
        params or {},
        body=body,
        query=query,
        status=406,
        message="This API only responds with application/json",
        accept="text/html",
    )


def bad(method: str, template: str, body: Any, message: str, **kw: Any) -> Call:
    """A call the server refuses with 400 ``message``; the document rejects it too
    unless ``doc_accepts`` says otherwise."""
    kw.setdefault("doc_accepts", False)
    return Call(method, template, body=body, status=400, message=message, **kw)


DEFAULT_GROUP = {
    "id": 1,
    "name": "Default",
    "description": "Default Subcloud Group",
    "update_apply_type": "parallel",
    "max_parallel_subclouds": 2,
    "updated-at": None,
}
NEW_SUBCLOUD_STATE = {
    "management-state": "unmanaged",
    "availability-status": "offline",
    "deploy-status": "complete",
    "backup-status": None,
    "prestage-status": None,
    "prestage-versions": None,
    "error-description": None,
    "updated-at": None,
}
SUBCLOUD_NOT_FOUND = "Subcloud not found"
GROUP_NOT_FOUND = "Subcloud Group not found"
INVALID_ENDPOINT = (
    "Invalid endpoint: must be a URL of at most 1024 characters with a scheme and a host "
    "or name, such as https://host:port or simulated://name"
)
STRATEGY_NOT_FOUND = "Strategy not found"
STEP_NOT_FOUND = "Strategy step not found"
NO_STEPS = "Strategy has no steps to apply"
RELEASE_FORMAT = "Specified release format is not supported. Version format must be MM.mm."
PASSWORD_REQUIRED = "subcloud sysadmin_password required"
PASSWORD_NOT_BASE64 = (
    "Failed to decode subcloud sysadmin_password, verify the password is base64 encoded"
)
INSTALL_OR_DEPLOY = "for_install and for_sw_deploy are mutually exclusive"
# Steps and strategies the API shows before anything ran.
UNSTARTED_STEP = {
    "stage": 1,
    "state": "initial",
    "details": None,
    "progress": None,
    "started-at": None,
    "finished-at": None,
    "updated-at": None,
}
DEFAULT_EXTRA_ARGS = {
    "force": False,
    "prestage-software-version": "25.09",
    "for_install": False,
    "for_sw_deploy": False,
}
# A step's progress at the end of a simulated prestage (the images transfer).
IMAGES_DONE = {
    "bytes_done": simulator.IMAGES_BYTES,
    "bytes_total": simulator.IMAGES_BYTES,
    "artifacts_done": simulator.IMAGES_COUNT,
    "artifacts_total": simulator.IMAGES_COUNT,
}


# Releases 24.09 and 25.09 are in the store from the start (the db fixture).
SEEDED_RELEASES = {"releases": [{"version": "25.09"}, {"version": "24.09"}]}
RELEASE = {
    "version": "26.03",
    "files": [{"path": "Packages/a.deb", "size": len(BLOB), "digest": BLOB_DIGEST}],
    "images": ["registry.local:9001/starlingx/stx-platform:25.09"],
}
RELEASE_DETAIL = {
    "version": "26.03",
    "file-count": 1,
    "bytes": len(BLOB),
    "image-count": 1,
    "files": RELEASE["files"],
    "images": RELEASE["images"],
}
RELEASE_EXISTS = "Release 26.03 already exists; delete it first to upload it again"
BAD_VERSION = "Invalid release version: expected MM.mm, e.g. 25.09"
MISSING_BLOB = (
    f"1 files are not in the store with the size given: Packages/a.deb ({BLOB_DIGEST}). "
    "Upload their blobs first (PUT /v1.0/blobs/<digest>)."
)


H = "/v1.0/helm_charts"
H1 = "/v1.0/helm_charts/{name}"
RABBITMQ = {"name": "rabbitmq"}
OPENSTACK_NS = "?namespace=openstack"
HELM_CHARTS = [
    {"name": name, "namespaces": ["openstack"]}
    for name in ("ceilometer", "cinder", "glance", "gnocchi", "heat", "horizon")
] + [
    {"name": "ingress", "namespaces": ["kube-system", "openstack"]},
    *(
        {"name": name, "namespaces": ["openstack"]}
        for name in (
            "keystone",
            "libvirt",
            "mariadb",
            "memcached",
            "neutron",
            "nova",
            "openvswitch",
            "rabbitmq",
        )
    ),
    {"name": "rbd-provisioner", "namespaces": ["kube-system"]},
]
# The seed's example: system overrides for a simplex site, then pod.replicas=2.
RABBITMQ_SIMPLEX = {
    "name": "rabbitmq",
    "namespace": "openstack",
    "system_overrides": "pod:\n  replicas: {server: 1}\n",
    "user_overrides": "",
    "combined_overrides": "pod:\n  replicas:\n    server: 1\n",
}
REPLICAS_2 = "pod:\n  replicas: 2\n"
RABBITMQ_REPLICAS_2 = {
    **RABBITMQ_SIMPLEX,
    "user_overrides": REPLICAS_2,
    "combined_overrides": REPLICAS_2,
}
NO_CHART = "Helm chart nope not found"
# An application's chart: demo's (tests.apps), in the namespace demo.
DEMO_API = {"name": "demo-api"}
APP_CHART = "?app=demo"
SITE_NEEDS_APP = "A subcloud's own overrides are of an application's chart: name it with ?app="
APP_REPLICAS = {"flag": "reset", "values": {"set": ["replicas=2", "image.tag=1.0.0"]}}
SITE_TAG = {"flag": "reuse", "values": {"set": ["image.tag=1.0.1"]}}
NO_NS = "Helm chart rabbitmq has no overrides in namespace kube-system (its namespaces: openstack)"
NS_REQUIRED = "The namespace is required: ?namespace=<one of openstack>"


def helm_bad(body: Any, message: str, **kw: Any) -> Call:
    """A PATCH of the rabbitmq overrides the server refuses with 400 ``message``."""
    return bad("PATCH", H1, body, message, params=RABBITMQ, query=OPENSTACK_NS, **kw)


def not_a_digest(ref: str) -> str:
    return f"'{ref}' is not a digest: expected sha256: and 64 lowercase hex digits"


def type_not_found(strategy_type: str) -> str:
    return f"Strategy of type '{strategy_type}' not found"


def invalid_bool(value: str, field: str) -> str:
    return f"Invalid value '{value}' for {field} - must be True/False or 'true'/'false'"


def state_conflict(state: str, action: str) -> str:
    return f"Strategy in state {state} cannot be {action}"


def not_at(subcloud: str, name: str = "demo") -> str:
    return f"Application {name} not found at subcloud {subcloud}"


def busy(subcloud: str, status: str) -> str:
    return f"Application demo at subcloud {subcloud} is already {status}"


def cannot_update(subcloud: str, reason: str, name: str = "demo") -> str:
    return f"Application {name} at subcloud {subcloud} cannot be updated: {reason}"


def other_version(subcloud: str, current: str, version: str) -> str:
    return (
        f"Application demo is at version {current} at subcloud {subcloud}, not {version}: "
        "use update to change its version"
    )


def upload_it_first(problem: str) -> str:
    """An app-update strategy's refusal of an application or version not in the catalog."""
    return f"{problem}: upload it first (dcmanager app upload)"


def not_stored(release: str) -> str:
    return (
        f"Release {release} is not in the release store: upload it first (dcmanager release upload)"
    )


INVALID_APPS = "Invalid apps: a list of at most 20 NAME, NAME@VERSION or NAME@latest"
NO_LATEST_BETA = upload_it_first(
    "Application beta has no SemVer release (not pre-release) version to be latest"
)


def invalid_app(item: str) -> str:
    """A prestage's refusal of an item of ``apps`` that is not NAME[@VERSION]."""
    return f"Invalid app '{item}': NAME, NAME@VERSION or NAME@latest"


def named_twice(name: str) -> str:
    return f"Application {name} is named more than once in apps"


def with_apps(*apps: tuple[str, str]) -> dict[str, Any]:
    """A prestage strategy's extra-args (the defaults) with these application versions."""
    return {**DEFAULT_EXTRA_ARGS, "apps": [{"app": app, "version": v} for app, v in apps]}


def images_done(extra: int) -> dict[str, int]:
    """A step's progress at the end of a simulated prestage that also carried ``extra``
    application images."""
    count = simulator.IMAGES_COUNT + extra
    return {**IMAGES_DONE, "artifacts_done": count, "artifacts_total": count}


def images_noted(negation: str, version: str = "1.1.0") -> str:
    """What an app-update step's precheck notes of the update's images at the site."""
    return f"app-update-precheck: the images of demo {version} were{negation} prestaged here"


def not_prestaged(subcloud: str, version: str = "1.1.0") -> str:
    """Why an app-update with require-prestaged leaves a site out."""
    return (
        f"The images of demo {version} are not prestaged at subcloud {subcloud}: "
        f"prestage them first (--app demo@{version})"
    )


def update_skipped(cloud: str, reason: str) -> str:
    return f"Application update skipped '{cloud}': {reason}"


def not_for_app_update(field: str) -> str:
    return f"{field} does not apply to an app-update strategy"


INVALID_ACTION = "Invalid action {}: it must be one of apply, update, remove"
ACTIONS = "must be one of apply, pause, resume, abort, retry-failed"  # a strategy's
INVALID_APP_VERSION = "Invalid version: a version is a text of 1 to 64 characters"
NO_UPDATE_VERSION = "An update needs the version to update to (or 'latest')"
APP_IN_USE = (
    "Application demo version 1.0.0 is in use at 1 subcloud(s) (held there, not "
    "inactive): it cannot be deleted"
)
APP_TARGETED = (
    "Application demo version 2.0.0 is the target of the current app-update strategy: it "
    "cannot be deleted before the strategy ends"
)


# Per documented operation: the calls that exercise it (with the calls that set up the
# state it needs, which exercise other operations along the way). Each scenario runs
# against a fresh database.
SCENARIOS: dict[tuple[str, str], list[Call]] = {
    ("GET", "/"): [
        Call(
            "GET",
            "/",
            expect={
                "versions": [
                    {
                        "id": "v1.0",
                        "status": "CURRENT",
                        "links": [{"rel": "self", "href": "{base}/v1.0/"}],
                    }
                ]
            },
        ),
        not_acceptable("GET", "/"),
    ],
    ("GET", "/v1.0"): [
        Call(
            "GET",
            "/v1.0",
            expect={
                "links": [
                    {"rel": "subclouds", "href": "{base}/v1.0/subclouds"},
                    {"rel": "subcloud-groups", "href": "{base}/v1.0/subcloud-groups"},
                    {"rel": "sw-update-strategy", "href": "{base}/v1.0/sw-update-strategy"},
                    {"rel": "releases", "href": "{base}/v1.0/releases"},
                    {"rel": "helm_charts", "href": "{base}/v1.0/helm_charts"},
                    {"rel": "apps", "href": "{base}/v1.0/apps"},
                ]
            },
        ),
        not_acceptable("GET", "/v1.0"),
    ],
    ("GET", S): [
        Call("GET", S, expect={"subclouds": []}),
        new_subcloud("sc-b"),
        new_subcloud("sc-a", group_id=1),
        Call("GET", S, expect={"subclouds": [{"id": 1, "name": "sc-b"}, {"name": "sc-a"}]}),
        Call("GET", S, query="?limit=1", expect={"subclouds": [{"name": "sc-b"}]}),
        Call("GET", S, query="?limit=1&marker=1", expect={"subclouds": [{"name": "sc-a"}]}),
        Call("GET", S, query="?marker=2", expect={"subclouds": []}),
        Call(
            "GET",
            S,
            query="?changed-since=1970-01-01T00:00:00Z&limit=1",
            expect={"subclouds": [{"name": "sc-b"}]},
        ),
        Call("GET", S, query="?changed-since=2999-01-01T00:00:00Z", expect={"subclouds": []}),
        Call(
            "GET",
            S,
            query="?changed-since=yesterday",
            status=400,
            message="Invalid changed-since 'yesterday': must be an ISO 8601 time "
            "(e.g. 2026-12-24T22:00:00Z)",
        ),
        Call(
            "GET",
            S,
            query="?limit=0",
            status=400,
            message="Invalid limit '0': must be an integer from 1 to 10000",
            doc_accepts=False,
        ),
        Call(
            "GET",
            S,
            query="?marker=x",
            status=400,
            message="Invalid marker 'x': must be a subcloud id",
            doc_accepts=False,
        ),
        not_acceptable("GET", S),
    ],
    ("POST", f"{S}/bulk"): [
        not_acceptable(
            "POST", f"{S}/bulk", body={"subclouds": [{"name": "a", "endpoint": "simulated://a"}]}
        ),
        new_subcloud("taken"),
        bad("POST", f"{S}/bulk", {"subclouds": []}, BULK_REQUIRED),
        bad(
            "POST",
            f"{S}/bulk",
            {"subclouds": [{"name": "a", "endpoint": "simulated://a"}, {"name": "b"}]},
            "subclouds[1]: endpoint required",
        ),
        Call(
            "POST",
            f"{S}/bulk",
            body={
                "subclouds": [
                    {"name": "a", "endpoint": "simulated://a"},
                    {"name": "taken", "endpoint": "simulated://t"},
                ]
            },
            status=409,
            message="1 of these subclouds exist already (by name or region-name): taken: "
            "nothing was registered",
        ),
        Call(
            "POST",
            f"{S}/bulk",
            body={
                "manage": True,
                "subclouds": [
                    {"name": "a", "endpoint": "simulated://a"},
                    {"name": "b", "endpoint": "simulated://b", "group": "Default"},
                ],
            },
            expect={
                "subclouds": [
                    {"name": "a", "management-state": "managed"},
                    {"name": "b", "management-state": "managed", "group_id": 1},
                ]
            },
        ),
        Call("GET", S, expect={"subclouds": [{"name": "taken"}, {"name": "a"}, {"name": "b"}]}),
    ],
    ("POST", S): [
        new_group("edge"),
        not_acceptable("POST", S, body={"name": "sc0", "endpoint": "simulated://sc0"}),
        Call("GET", S, expect={"subclouds": []}),
        Call(
            "POST",
            S,
            body={
                "name": "sc1",
                "endpoint": "https://admin:secret@sc1.example.com:6385/path",
                "description": "first",
                "location": "Ottawa",
                "group": "edge",
                "software-version": "24.09",
                "region-name": "region-one",
                # Unknown to the call: ignored, so it cannot bypass the initial state.
                "management-state": "managed",
                "availability-status": "online",
            },
            expect={
                "id": 1,
                "name": "sc1",
                "description": "first",
                "location": "Ottawa",
                "software-version": "24.09",
                "region-name": "region-one",
                "group_id": 2,
                "endpoint": "https://admin:***@sc1.example.com:6385/path",
                **NEW_SUBCLOUD_STATE,
            },
        ),
        Call(
            "POST",
            S,
            body={"name": "sc2.lab", "endpoint": "simulated://sc2", "group_id": "2"},
            expect={
                "name": "sc2.lab",
                "description": None,
                "location": None,
                "software-version": None,
                "group_id": 2,
                "endpoint": "simulated://sc2",
                **NEW_SUBCLOUD_STATE,
            },
        ),
        new_subcloud("sc3", group=1, description=""),
        new_subcloud("sc4", group="2"),
        Call(
            "POST",
            S,
            body={"name": "sc1", "endpoint": "simulated://other"},
            status=409,
            message="Subcloud with name sc1 already exists",
        ),
        Call(
            "POST",
            S,
            body={"name": "sc9", "endpoint": "simulated://sc9", "region-name": "region-one"},
            status=409,
            message="Subcloud with region-name region-one already exists",
        ),
        bad("POST", S, Raw(b""), "Body required"),
        bad("POST", S, Raw(b"{not json"), "Request body is malformed."),
        bad("POST", S, Raw(b'["name", "endpoint"]'), "Request body is malformed."),
        bad("POST", S, {}, "name required"),
        bad("POST", S, {"name": "sc9"}, "endpoint required"),
        bad(
            "POST",
            S,
            {"name": "123", "endpoint": "simulated://x"},
            "Invalid subcloud name '123': use up to 255 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit, and not only digits",
        ),
        bad("POST", S, {"name": "sc9", "endpoint": "no-scheme-here"}, INVALID_ENDPOINT),
        bad("POST", S, {"name": "sc9", "endpoint": " simulated://sc9"}, INVALID_ENDPOINT),
        bad("POST", S, {"name": "sc9", "endpoint": "https://sc 9:6385"}, INVALID_ENDPOINT),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "software-version": "2409"},
            "Invalid software-version '2409'. Version format must be MM.mm.",
        ),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "region-name": "  "},
            "Invalid region-name: must be a non-empty string of at most 255 characters, "
            "without surrounding spaces",
        ),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "location": "x" * 256},
            "Invalid location: must be a string of at most 255 characters",
        ),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "location": "a\x00b"},
            "Invalid location: must be a string of at most 255 characters",
        ),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "description": None},
            "Invalid description: must be a string of at most 255 characters",
        ),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "group_id": 1, "group": "edge"},
            "group_id and group are mutually exclusive",
        ),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "group_id": 1.5},
            "Invalid group_id",
        ),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "group": True},
            "Invalid group",
        ),
        # Whether a group exists is beyond a schema: the document accepts these.
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "group_id": "77"},
            "Invalid group_id: subcloud group '77' does not exist",
            doc_accepts=True,
        ),
        bad(
            "POST",
            S,
            {"name": "sc9", "endpoint": "simulated://sc9", "group": "nowhere"},
            "Invalid group: subcloud group 'nowhere' does not exist",
            doc_accepts=True,
        ),
        Call(
            "POST",
            S,
            body={"name": "sc9", "endpoint": "simulated://sc9", "padding": OVERSIZED_PADDING},
            status=413,
            message="Request is too large.",
        ),
        Call(
            "GET", S, expect={"subclouds": [{"name": n} for n in ("sc1", "sc2.lab", "sc3", "sc4")]}
        ),
    ],
    ("GET", S1): [
        new_subcloud("sc1", location="Lab 2"),
        Call("GET", S1, {"subcloud": "1"}, expect={"id": 1, "name": "sc1", "location": "Lab 2"}),
        Call("GET", S1, {"subcloud": "sc1"}, expect={"id": 1, "name": "sc1"}),
        Call("GET", S1, {"subcloud": "2"}, status=404, message=SUBCLOUD_NOT_FOUND),
        Call("GET", S1, {"subcloud": "nosuch"}, status=404, message=SUBCLOUD_NOT_FOUND),
        Call("GET", S1, {"subcloud": "9" * 30}, status=404, message=SUBCLOUD_NOT_FOUND),
        not_acceptable("GET", S1, {"subcloud": "sc1"}),
    ],
    ("GET", SD): [
        new_subcloud("sc1", **{"management-subnet": "192.168.101.0/24"}),
        Call(
            "GET",
            SD,
            {"subcloud": "sc1"},
            expect={
                "name": "sc1",
                "management-subnet": "192.168.101.0/24",
                "oam_floating_ip": "unavailable",
                "deploy_config_sync_status": "unknown",
            },
        ),
        Call("GET", SD, {"subcloud": "2"}, status=404, message=SUBCLOUD_NOT_FOUND),
        not_acceptable("GET", SD, {"subcloud": "sc1"}),
    ],
    ("PATCH", S1): [
        new_subcloud("sc1"),
        new_group("edge"),
        Call(
            "PATCH",
            S1,
            {"subcloud": "sc1"},
            body={"management-state": "managed"},
            expect={"management-state": "managed", "availability-status": "offline"},
        ),
        Call(
            "PATCH",
            S1,
            {"subcloud": "1"},
            body={
                "description": "renamed site",
                "location": "",
                "endpoint": "https://ops:pw@10.0.0.9:6385",
                "group": "edge",
                # Cannot be changed here: ignored.
                "name": "other",
                "region-name": "other",
            },
            expect={
                "name": "sc1",
                "description": "renamed site",
                "location": "",
                "endpoint": "https://ops:***@10.0.0.9:6385",
                "group_id": 2,
                "management-state": "managed",
            },
        ),
        Call(
            "PATCH",
            S1,
            {"subcloud": "sc1"},
            body={"management-state": "unmanaged", "group_id": " +1 "},
            expect={"management-state": "unmanaged", "group_id": 1},
        ),
        bad("PATCH", S1, Raw(b""), "Body required", params={"subcloud": "sc1"}),
        bad("PATCH", S1, Raw(b"null"), "Request body is malformed.", params={"subcloud": "sc1"}),
        bad("PATCH", S1, {}, "nothing to update", params={"subcloud": "sc1"}),
        bad("PATCH", S1, {"name": "x"}, "nothing to update", params={"subcloud": "sc1"}),
        bad(
            "PATCH",
            S1,
            {"management-state": "Managed"},
            "Invalid management-state 'Managed': must be 'managed' or 'unmanaged'",
            params={"subcloud": "sc1"},
        ),
        bad("PATCH", S1, {"endpoint": "a:b"}, INVALID_ENDPOINT, params={"subcloud": "sc1"}),
        bad(
            "PATCH",
            S1,
            {"group_id": 99},
            "Invalid group_id: subcloud group '99' does not exist",
            params={"subcloud": "sc1"},
            doc_accepts=True,
        ),
        Call(
            "PATCH",
            S1,
            {"subcloud": "nosuch"},
            body={"description": "x"},
            status=404,
            message=SUBCLOUD_NOT_FOUND,
        ),
        Call(
            "PATCH",
            S1,
            {"subcloud": "sc1"},
            body={"description": "x", "padding": OVERSIZED_PADDING},
            status=413,
            message="Request is too large.",
        ),
        not_acceptable("PATCH", S1, {"subcloud": "sc1"}, body={"description": "406"}),
        Call("GET", S1, {"subcloud": "sc1"}, expect={"description": "renamed site"}),
    ],
    ("DELETE", S1): [
        new_subcloud("sc1"),
        new_subcloud("sc2"),
        not_acceptable("DELETE", S1, {"subcloud": "sc2"}),
        Call("GET", S1, {"subcloud": "sc2"}, expect={"name": "sc2"}),
        Call("PATCH", S1, {"subcloud": "sc1"}, body={"management-state": "managed"}),
        Call(
            "DELETE",
            S1,
            {"subcloud": "sc1"},
            status=409,
            message="Cannot delete subcloud sc1: it is managed. Unmanage it first.",
        ),
        Call("GET", S1, {"subcloud": "sc1"}, expect={"name": "sc1"}),
        Call("PATCH", S1, {"subcloud": "sc1"}, body={"management-state": "unmanaged"}),
        Call("DELETE", S1, {"subcloud": "sc1"}, expect={"name": "sc1"}),
        Call("DELETE", S1, {"subcloud": "2"}, expect={"name": "sc2"}),
        Call("DELETE", S1, {"subcloud": "sc1"}, status=404, message=SUBCLOUD_NOT_FOUND),
        Call("GET", S1, {"subcloud": "sc1"}, status=404, message=SUBCLOUD_NOT_FOUND),
        Call("GET", S, expect={"subclouds": []}),
    ],
    ("GET", G): [
        Call("GET", G, expect={"subcloud_groups": [DEFAULT_GROUP]}),
        new_group("edge"),
        Call(
            "GET", G, expect={"subcloud_groups": [{"name": "Default"}, {"id": 2, "name": "edge"}]}
        ),
        not_acceptable("GET", G),
    ],
    ("POST", G): [
        not_acceptable("POST", G, body={"name": "east"}),
        Call(
            "POST",
            G,
            body={
                "name": "east",
                "description": "East coast",
                "update_apply_type": "serial",
                "max_parallel_subclouds": "50",
                "unknown": "ignored",
            },
            expect={
                "id": 2,
                "name": "east",
                "description": "East coast",
                "update_apply_type": "serial",
                "max_parallel_subclouds": 50,
                "updated-at": None,
            },
        ),
        Call(
            "POST",
            G,
            body={"name": "west"},
            expect={
                "name": "west",
                "description": "No description provided",
                "update_apply_type": "parallel",
                "max_parallel_subclouds": 2,
            },
        ),
        new_group("north", max_parallel_subclouds=5000),
        new_group("south", max_parallel_subclouds=" 0001 "),
        bad("POST", G, Raw(b""), "Body required"),
        bad("POST", G, Raw(b"name=x"), "Request body is malformed."),
        bad("POST", G, {}, "Invalid group name"),
        bad("POST", G, {"name": "default"}, "Invalid group name"),
        bad("POST", G, {"name": "DEFAULT"}, "Invalid group name"),
        bad("POST", G, {"name": "2024"}, "Invalid group name"),
        bad("POST", G, {"name": "a.b"}, "Invalid group name"),
        bad("POST", G, {"name": "   "}, "Invalid group name"),
        bad("POST", G, {"name": "g" * 256}, "Invalid group name"),
        bad("POST", G, {"name": "g1", "description": ""}, "Invalid group description"),
        bad("POST", G, {"name": "g1", "description": "d" * 255}, "Invalid group description"),
        bad("POST", G, {"name": "g1", "description": "a\x00b"}, "Invalid group description"),
        bad(
            "POST",
            G,
            {"name": "g1", "update_apply_type": "Parallel"},
            "Invalid group update_apply_type",
        ),
        bad(
            "POST",
            G,
            {"name": "g1", "max_parallel_subclouds": 0},
            "Invalid group max_parallel_subclouds",
        ),
        bad(
            "POST",
            G,
            {"name": "g1", "max_parallel_subclouds": "5001"},
            "Invalid group max_parallel_subclouds",
        ),
        bad(
            "POST",
            G,
            {"name": "g1", "max_parallel_subclouds": 2.0},
            "Invalid group max_parallel_subclouds",
        ),
        bad(
            "POST",
            G,
            {"name": "g1", "max_parallel_subclouds": True},
            "Invalid group max_parallel_subclouds",
        ),
        bad(
            "POST",
            G,
            {"name": "east"},
            "A subcloud group with this name already exists",
            doc_accepts=True,
        ),
        Call(
            "POST",
            G,
            body={"name": "g1", "padding": OVERSIZED_PADDING},
            status=413,
            message="Request is too large.",
        ),
        Call(
            "GET",
            G,
            expect={
                "subcloud_groups": [
                    {"name": n} for n in ("Default", "east", "west", "north", "south")
                ]
            },
        ),
    ],
    ("GET", G1): [
        Call("GET", G1, {"group": "1"}, expect=DEFAULT_GROUP),
        Call("GET", G1, {"group": "Default"}, expect=DEFAULT_GROUP),
        new_group("2nd-floor"),
        Call("GET", G1, {"group": "2nd-floor"}, expect={"id": 2}),
        Call("GET", G1, {"group": "2"}, expect={"name": "2nd-floor"}),
        Call("GET", G1, {"group": "3"}, status=404, message=GROUP_NOT_FOUND),
        Call("GET", G1, {"group": "default"}, status=404, message=GROUP_NOT_FOUND),
        not_acceptable("GET", G1, {"group": "1"}),
    ],
    ("PATCH", G1): [
        new_group("east"),
        new_group("west"),
        Call(
            "PATCH",
            G1,
            {"group": "east"},
            body={"update_apply_type": "serial", "max_parallel_subclouds": "1"},
            expect={"name": "east", "update_apply_type": "serial", "max_parallel_subclouds": 1},
        ),
        Call(
            "PATCH",
            G1,
            {"group": "2"},
            body={"name": "east-coast", "description": "Renamed"},
            expect={"id": 2, "name": "east-coast", "description": "Renamed"},
        ),
        Call("GET", G1, {"group": "east-coast"}, expect={"id": 2}),
        Call("GET", G1, {"group": "east"}, status=404, message=GROUP_NOT_FOUND),
        # Default: everything but the name can change; its own name is accepted.
        Call(
            "PATCH",
            G1,
            {"group": "Default"},
            body={"name": "Default", "max_parallel_subclouds": 10},
            expect={"id": 1, "name": "Default", "max_parallel_subclouds": 10},
        ),
        bad(
            "PATCH",
            G1,
            {"name": "Other"},
            "Default group name cannot be changed",
            params={"group": "1"},
            doc_accepts=True,
        ),
        bad(
            "PATCH",
            G1,
            {"name": "Default"},
            "nothing to update",
            params={"group": "1"},
            doc_accepts=True,
        ),
        bad(
            "PATCH",
            G1,
            {"name": "default"},
            "Invalid group name",
            params={"group": "west"},
            doc_accepts=True,
        ),
        bad(
            "PATCH",
            G1,
            {"name": "west"},
            "A subcloud group with this name already exists",
            params={"group": "east-coast"},
            doc_accepts=True,
        ),
        bad("PATCH", G1, Raw(b""), "Body required", params={"group": "west"}),
        bad("PATCH", G1, Raw(b"[]"), "Request body is malformed.", params={"group": "west"}),
        bad("PATCH", G1, {}, "nothing to update", params={"group": "west"}),
        bad("PATCH", G1, {"colour": "red"}, "nothing to update", params={"group": "west"}),
        bad("PATCH", G1, {"name": "(west)"}, "Invalid group name", params={"group": "west"}),
        bad(
            "PATCH",
            G1,
            {"description": " "},
            "Invalid group description",
            params={"group": "west"},
        ),
        bad(
            "PATCH",
            G1,
            {"update_apply_type": "both"},
            "Invalid group update_apply_type",
            params={"group": "west"},
        ),
        bad(
            "PATCH",
            G1,
            {"max_parallel_subclouds": "two"},
            "Invalid group max_parallel_subclouds",
            params={"group": "west"},
        ),
        Call(
            "PATCH",
            G1,
            {"group": "nosuch"},
            body={"description": "x"},
            status=404,
            message=GROUP_NOT_FOUND,
        ),
        Call(
            "PATCH",
            G1,
            {"group": "west"},
            body={"description": "x", "padding": OVERSIZED_PADDING},
            status=413,
            message="Request is too large.",
        ),
        not_acceptable("PATCH", G1, {"group": "west"}, body={"description": "406"}),
        Call("GET", G1, {"group": "west"}, expect={"description": "No description provided"}),
    ],
    ("DELETE", G1): [
        Call(
            "DELETE",
            G1,
            {"group": "1"},
            status=400,
            message="Default Subcloud Group may not be deleted",
        ),
        Call(
            "DELETE",
            G1,
            {"group": "Default"},
            status=400,
            message="Default Subcloud Group may not be deleted",
        ),
        new_group("east"),
        new_group("west"),
        new_subcloud("sc1", group="east"),
        not_acceptable("DELETE", G1, {"group": "west"}),
        Call("GET", G1, {"group": "west"}, expect={"id": 3}),
        Call("DELETE", G1, {"group": "east"}, status=409, message="Subcloud Group not empty"),
        Call("PATCH", S1, {"subcloud": "sc1"}, body={"group_id": 1}, expect={"group_id": 1}),
        Call("DELETE", G1, {"group": "east"}, expect={"name": "east"}),
        Call("DELETE", G1, {"group": "3"}),
        Call("DELETE", G1, {"group": "east"}, status=404, message=GROUP_NOT_FOUND),
        Call("GET", G, expect={"subcloud_groups": [{"name": "Default"}]}),
    ],
    ("GET", GS): [
        Call("GET", GS, {"group": "1"}, expect={"subclouds": []}),
        new_group("east"),
        new_subcloud("sc1", group="east"),
        new_subcloud("sc2"),
        new_subcloud("sc3", group_id=2),
        Call(
            "GET",
            GS,
            {"group": "east"},
            expect={"subclouds": [{"name": "sc1", "group_id": 2}, {"name": "sc3"}]},
        ),
        Call("GET", GS, {"group": "Default"}, expect={"subclouds": [{"name": "sc2"}]}),
        Call("GET", GS, {"group": "9"}, status=404, message=GROUP_NOT_FOUND),
        Call("GET", GS, {"group": "nosuch"}, status=404, message=GROUP_NOT_FOUND),
        not_acceptable("GET", GS, {"group": "east"}),
    ],
    ("PATCH", SP): [
        ENGINE,
        Call(
            "PATCH",
            SP,
            {"subcloud": "nosuch"},
            body={"sysadmin_password": PASSWORD},
            status=404,
            message=SUBCLOUD_NOT_FOUND,
        ),
        *managed_subcloud("sc1", "delay=0.3"),
        *managed_subcloud("sc2", "delay=0.2"),
        new_subcloud("sc3"),
        *managed_subcloud("sc4", "offline=true"),
        *managed_subcloud("sc5", "deploy_status=bootstrapping"),
        online("sc1"),
        online("sc2"),
        online("sc3"),
        online("sc5", **{"deploy-status": "bootstrapping"}),
        # The body, rule by rule in the order they are checked.
        bad("PATCH", SP, Raw(b""), "Body required", params={"subcloud": "sc1"}),
        bad("PATCH", SP, Raw(b"[]"), "Request body is malformed.", params={"subcloud": "sc1"}),
        bad(
            "PATCH",
            SP,
            {"force": "maybe", "release": "24.9"},
            invalid_bool("maybe", "force"),
            params={"subcloud": "sc1"},
        ),
        bad("PATCH", SP, {"release": "24.9"}, RELEASE_FORMAT, params={"subcloud": "sc1"}),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "release": 24.09},
            RELEASE_FORMAT,
            params={"subcloud": "sc1"},
        ),
        bad("PATCH", SP, {}, PASSWORD_REQUIRED, params={"subcloud": "sc1"}),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": "", "release": None},
            PASSWORD_REQUIRED,
            params={"subcloud": "sc1"},
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": "Li69nux*"},
            PASSWORD_NOT_BASE64,
            params={"subcloud": "sc1"},
        ),
        bad(
            "PATCH", SP, {"sysadmin_password": 42}, PASSWORD_NOT_BASE64, params={"subcloud": "sc1"}
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "for_install": "sure", "for_sw_deploy": True},
            invalid_bool("sure", "for_install"),
            params={"subcloud": "sc1"},
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "for_sw_deploy": 1},
            invalid_bool("1", "for_sw_deploy"),
            params={"subcloud": "sc1"},
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "for_install": "TRUE", "for_sw_deploy": True},
            INSTALL_OR_DEPLOY,
            params={"subcloud": "sc1"},
        ),
        # Eligibility, beyond a schema.
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD},
            "Prestage skipped 'sc3': Subcloud is not managed.",
            params={"subcloud": "sc3"},
            doc_accepts=True,
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD},
            "Prestage skipped 'sc4': Subcloud is offline.",
            params={"subcloud": "sc4"},
            doc_accepts=True,
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD},
            "Prestage skipped 'sc5': Subcloud deploy status is bootstrapping, not complete.",
            params={"subcloud": "5"},
            doc_accepts=True,
        ),
        not_acceptable("PATCH", SP, {"subcloud": "sc1"}, body={"sysadmin_password": PASSWORD}),
        Call(
            "PATCH",
            SP,
            {"subcloud": "sc1"},
            body={"sysadmin_password": PASSWORD, "padding": OVERSIZED_PADDING},
            status=413,
            message="Request is too large.",
        ),
        Call("GET", S1, {"subcloud": "sc1"}, expect={"prestage-status": None}),
        Call(
            "PATCH",
            SP,
            {"subcloud": "sc1"},
            body={
                "sysadmin_password": PASSWORD,
                "release": "24.09",
                "force": "True",
                "for_install": False,
                "unknown": "ignored",
            },
            expect={"name": "sc1", "prestage-status": "prestaging", "error-description": None},
        ),
        Call(
            "PATCH",
            SP,
            {"subcloud": "1"},
            body={"sysadmin_password": PASSWORD},
            status=409,
            message="Subcloud sc1 is already prestaging",
        ),
        Call(
            "GET",
            S1,
            {"subcloud": "sc1"},
            expect={"prestage-status": "complete", "prestage-versions": "24.09"},
            wait=WAIT,
        ),
        # A subcloud with an unfinished step in the strategy is the strategy's.
        Call("POST", ST, body=prestage(cloud_name="sc2"), expect={"state": "initial"}),
        Call(
            "PATCH",
            SP,
            {"subcloud": "sc2"},
            body={"sysadmin_password": PASSWORD},
            status=409,
            message="Subcloud sc2 is part of the current strategy",
        ),
        Call("POST", SA, body={"action": "apply"}, expect={"state": "applying"}),
        Call("GET", ST, expect={"state": "complete"}, wait=WAIT),
        Call(
            "PATCH",
            SP,
            {"subcloud": "sc2"},
            body={"sysadmin_password": PASSWORD, "for_sw_deploy": "true", "release": "24.09"},
            expect={"prestage-status": "prestaging", "prestage-versions": "25.09"},
        ),
        Call(
            "GET",
            S1,
            {"subcloud": "sc2"},
            expect={"prestage-status": "complete", "prestage-versions": "24.09,25.09"},
            wait=WAIT,
        ),
        # Applications' images: apps after the release is found in the store, the
        # whole value then each item in turn; all before the subcloud's eligibility.
        upload_app("1.0.0"),
        upload_app("2.0.0-rc.1", name="beta"),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "release": "23.09", "apps": [""]},
            not_stored("23.09"),
            params={"subcloud": "sc1"},
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "apps": 1},
            INVALID_APPS,
            params={"subcloud": "sc1"},
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "apps": ["demo", None]},
            INVALID_APPS,
            params={"subcloud": "sc1"},
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "apps": ["demo@1.0.0", "  "]},
            invalid_app("  "),
            params={"subcloud": "sc1"},
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "apps": ["demo@1.0.0", "demo"]},
            named_twice("demo"),
            params={"subcloud": "sc1"},
            doc_accepts=True,
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "apps": ["demo", "beta"]},
            NO_LATEST_BETA,
            params={"subcloud": "sc1"},
            doc_accepts=True,
        ),
        bad(
            "PATCH",
            SP,
            {"sysadmin_password": PASSWORD, "apps": "nope"},
            upload_it_first("Application nope not found"),
            params={"subcloud": "sc3"},
            doc_accepts=True,
        ),
        Call(
            "PATCH",
            SP,
            {"subcloud": "sc1"},
            body={"sysadmin_password": PASSWORD, "apps": ["demo", "beta@2.0.0-rc.1"]},
            expect={"prestage-status": "prestaging", "prestage-versions": "24.09"},
        ),
        Call(
            "PATCH",
            SP,
            {"subcloud": "sc2"},
            body={"sysadmin_password": PASSWORD, "release": "24.09", "apps": None},
            expect={"prestage-status": "prestaging"},
        ),
        Call(
            "GET",
            S1,
            {"subcloud": "sc1"},
            expect={
                "prestage-status": "complete",
                "prestage-versions": "24.09,25.09",
                "error-description": None,
            },
            wait=WAIT,
        ),
        Call("GET", S1, {"subcloud": "sc2"}, expect={"prestage-status": "complete"}, wait=WAIT),
    ],
    ("GET", SAPPS): [
        new_subcloud("sc1"),
        Call("GET", SAPPS, {"subcloud": "sc1"}, expect={"apps": []}),
        upload_app("1.0.0"),
        operate("sc1", {"action": "apply"}),
        PutSiteApp("sc1", "2.0.0", "applied", name="other"),
        PutSiteApp("sc1", "1.0.0", "inactive", name="other"),
        Call(
            "GET",
            SAPPS,
            {"subcloud": "1"},
            expect={
                "apps": [
                    site_app("1.0.0", "uploading"),
                    site_app(
                        "2.0.0",
                        "applied",
                        name="other",
                        inactive=[{"version": "1.0.0", "releases": site_ledger("other")}],
                    ),
                ]
            },
        ),
        Call("GET", SAPPS, {"subcloud": "nosuch"}, status=404, message=SUBCLOUD_NOT_FOUND),
        not_acceptable("GET", SAPPS, {"subcloud": "sc1"}),
    ],
    ("GET", SAPP1): [
        new_subcloud("sc1"),
        Call("GET", SAPP1, at("sc1"), status=404, message=not_at("sc1")),
        PutSiteApp("sc1", "1.0.0", "inactive"),
        PutSiteApp("sc1", "1.1.0", "applied"),
        Call(
            "GET",
            SAPP1,
            at("1"),
            expect=site_app(
                "1.1.0", "applied", inactive=[{"version": "1.0.0", "releases": site_ledger()}]
            ),
        ),
        # Only versions an update left behind: no version, and no time.
        PutSiteApp("sc1", "0.9.0", "inactive", name="old"),
        Call(
            "GET",
            SAPP1,
            at("sc1", "old"),
            expect={
                "name": "old",
                "version": None,
                "status": "inactive",
                "operation": None,
                "releases": [],
                "inactive": [{"version": "0.9.0", "releases": site_ledger("old")}],
                "updated-at": None,
            },
        ),
        Call("GET", SAPP1, at("sc1", "nope"), status=404, message=not_at("sc1", "nope")),
        Call("GET", SAPP1, at("nosuch"), status=404, message=SUBCLOUD_NOT_FOUND),
        not_acceptable("GET", SAPP1, at("sc1")),
    ],
    ("POST", SAPP1): [
        new_subcloud("sc1"),
        upload_app("1.0.0"),
        upload_app("1.1.0"),
        upload_app("2.0.0-rc.1"),
        not_acceptable("POST", SAPP1, at("sc1"), body={"action": "apply"}),
        Call("GET", SAPPS, {"subcloud": "sc1"}, expect={"apps": []}),
        # The request.
        bad("POST", SAPP1, Raw(b""), "Body required", params=at("sc1")),
        bad("POST", SAPP1, Raw(b"[]"), "Request body is malformed.", params=at("sc1")),
        bad("POST", SAPP1, {}, INVALID_ACTION.format("None"), params=at("sc1")),
        bad(
            "POST",
            SAPP1,
            {"action": "upgrade"},
            INVALID_ACTION.format("'upgrade'"),
            params=at("sc1"),
        ),
        bad(
            "POST",
            SAPP1,
            {"action": ["apply"]},
            INVALID_ACTION.format("['apply']"),
            params=at("sc1"),
        ),
        bad(
            "POST",
            SAPP1,
            {"action": "apply", "values": {}, "force": True},
            "Unknown field force, values: an operation has action, version, include_prerelease",
            params=at("sc1"),
        ),
        bad(
            "POST", SAPP1, {"action": "apply", "version": 1}, INVALID_APP_VERSION, params=at("sc1")
        ),
        bad(
            "POST",
            SAPP1,
            {"action": "apply", "version": " "},
            INVALID_APP_VERSION,
            params=at("sc1"),
        ),
        bad(
            "POST",
            SAPP1,
            {"action": "apply", "version": "1" * 65},
            INVALID_APP_VERSION,
            params=at("sc1"),
        ),
        bad("POST", SAPP1, {"action": "update"}, NO_UPDATE_VERSION, params=at("sc1")),
        bad(
            "POST",
            SAPP1,
            {"action": "update", "version": None},
            NO_UPDATE_VERSION,
            params=at("sc1"),
        ),
        bad(
            "POST",
            SAPP1,
            {"action": "remove", "version": "1.0.0"},
            "A removal takes no version: it removes what the site runs",
            params=at("sc1"),
        ),
        bad(
            "POST",
            SAPP1,
            {"action": "apply", "include_prerelease": "maybe"},
            invalid_bool("maybe", "include_prerelease"),
            params=at("sc1"),
        ),
        bad(
            "POST",
            SAPP1,
            {"action": "apply", "include_prerelease": None},
            invalid_bool("None", "include_prerelease"),
            params=at("sc1"),
        ),
        Call(
            "POST",
            SAPP1,
            at("sc1"),
            body={"action": "apply", "padding": OVERSIZED_PADDING},
            status=413,
            message="Request is too large.",
            doc_accepts=False,
        ),
        # The subcloud is looked up before the body is read.
        refused("nosuch", {"action": "apply"}, 404, SUBCLOUD_NOT_FOUND),
        operate(
            "nosuch",
            {"action": "upgrade"},
            status=404,
            message=SUBCLOUD_NOT_FOUND,
            doc_accepts=False,
        ),
        # The catalog.
        refused("sc1", {"action": "apply"}, 404, "Application nope not found", name="nope"),
        refused(
            "sc1",
            {"action": "update", "version": "1.0.0"},
            404,
            "Application nope not found",
            name="nope",
        ),
        refused(
            "sc1",
            {"action": "apply", "version": "9.9.9"},
            404,
            "Application demo has no version 9.9.9",
        ),
        refused(
            "sc1", {"action": "apply", "version": "1.0"}, 404, "Application demo has no version 1.0"
        ),
        upload_app("2.0.0-rc.1", name="beta"),
        refused(
            "sc1",
            {"action": "apply"},
            404,
            "Application beta has no SemVer release (not pre-release) version to be latest",
            name="beta",
        ),
        # The site's records.
        refused("sc1", {"action": "update", "version": "1.1.0"}, 404, not_at("sc1")),
        refused("sc1", {"action": "remove"}, 404, not_at("sc1")),
        Call("GET", SAPPS, {"subcloud": "sc1"}, expect={"apps": []}),
        # A version the site does not hold is uploaded first.
        operate(
            "sc1", {"action": "apply", "version": "1.0.0"}, expect=site_app("1.0.0", "uploading")
        ),
        Call("GET", SAPP1, at("sc1"), expect=site_app("1.0.0", "uploading")),
        refused("sc1", {"action": "apply"}, 409, busy("sc1", "uploading")),
        refused("sc1", {"action": "update", "version": "latest"}, 409, busy("sc1", "uploading")),
        refused("sc1", {"action": "remove"}, 409, busy("sc1", "uploading")),
        operate(
            "1",
            {"action": "apply", "include_prerelease": "TRUE"},
            name="beta",
            expect=site_app("2.0.0-rc.1", "uploading", name="beta"),
        ),
        # Applied: an update must change the version, to a newer one.
        new_subcloud("sc2"),
        PutSiteApp("sc2", "1.1.0", "applied"),
        refused(
            "sc2",
            {"action": "update", "version": "1.1.0"},
            400,
            cannot_update("sc2", "it is at version 1.1.0 already"),
        ),
        refused(
            "sc2",
            {"action": "update", "version": "latest"},
            400,
            cannot_update("sc2", "it is at version 1.1.0 already"),
        ),
        refused(
            "sc2",
            {"action": "update", "version": "1.0.0"},
            400,
            cannot_update(
                "sc2",
                "version 1.0.0 is not newer than 1.1.0 (an update may go back only to the "
                "version the site ran before, none)",
            ),
        ),
        refused(
            "sc2",
            {"action": "apply", "version": "1.0.0"},
            409,
            other_version("sc2", "1.1.0", "1.0.0"),
        ),
        operate(
            "sc2",
            {"action": "update", "version": "latest", "include_prerelease": True},
            expect=site_app(
                "1.1.0",
                "updating",
                progress="updating to 2.0.0-rc.1",
                **{"target-version": "2.0.0-rc.1"},
            ),
        ),
        refused("sc2", {"action": "remove"}, 409, busy("sc2", "updating")),
        upload_app("1.0.0", name="legacy", upgradable=False),
        upload_app("1.1.0", name="legacy"),
        PutSiteApp("sc2", "1.0.0", "applied", name="legacy"),
        refused(
            "sc2",
            {"action": "update", "version": "1.1.0"},
            400,
            cannot_update(
                "sc2", "its version 1.0.0 is not upgradable (upgradable: false)", name="legacy"
            ),
            name="legacy",
        ),
        operate(
            "sc2",
            {"action": "remove", "version": None},
            name="legacy",
            expect=site_app("1.0.0", "removing", name="legacy"),
        ),
        # Uploaded: apply it (without a version, the one the site holds), not remove it.
        new_subcloud("sc3"),
        PutSiteApp("sc3", "1.0.0", "uploaded"),
        refused(
            "sc3",
            {"action": "remove"},
            409,
            "Application demo at subcloud sc3 is uploaded: remove needs it applied or "
            "apply-failed or remove-failed",
        ),
        refused(
            "sc3",
            {"action": "update", "version": "1.1.0"},
            409,
            "Application demo at subcloud sc3 is uploaded: update needs it applied",
        ),
        refused(
            "sc3",
            {"action": "apply", "version": "1.1.0"},
            409,
            other_version("sc3", "1.0.0", "1.1.0"),
        ),
        operate("sc3", {"action": "apply"}, expect=site_app("1.0.0", "applying", releases=[])),
        # Back to the version the site ran before: no downgrade.
        new_subcloud("sc4"),
        PutSiteApp("sc4", "1.0.0", "inactive"),
        PutSiteApp("sc4", "1.1.0", "applied"),
        Call(
            "GET",
            SAPP1,
            at("sc4"),
            expect={"version": "1.1.0", "inactive": [{"version": "1.0.0"}]},
        ),
        operate(
            "sc4",
            {"action": "update", "version": "1.0.0"},
            expect=site_app(
                "1.1.0",
                "updating",
                progress="updating to 1.0.0",
                **{"target-version": "1.0.0"},
            ),
        ),
        # A subcloud the current strategy holds.
        *managed_subcloud("sc5"),
        set_online("sc5"),
        Call("POST", ST, body=prestage(cloud_name="sc5"), expect={"state": "initial"}),
        refused("sc5", {"action": "apply"}, 409, "Subcloud sc5 is part of the current strategy"),
        Call("GET", SAPPS, {"subcloud": "sc5"}, expect={"apps": []}),
    ],
    ("DELETE", SAPP1): [
        new_subcloud("sc1"),
        upload_app("1.0.0"),
        Call("DELETE", SAPP1, at("nosuch"), status=404, message=SUBCLOUD_NOT_FOUND),
        Call("DELETE", SAPP1, at("sc1"), status=404, message=not_at("sc1")),
        PutSiteApp("sc1", "1.0.0", "applied"),
        Call(
            "DELETE",
            SAPP1,
            at("sc1"),
            status=409,
            message="Application demo at subcloud sc1 is applied: delete needs it remove-failed "
            "or upload-failed or uploaded",
        ),
        new_subcloud("sc2"),
        operate("sc2", {"action": "apply"}),
        Call("DELETE", SAPP1, at("sc2"), status=409, message=busy("sc2", "uploading")),
        new_subcloud("sc3"),
        PutSiteApp("sc3", "1.0.0", "inactive"),
        PutSiteApp("sc3", "1.1.0", "remove-failed"),
        not_acceptable("DELETE", SAPP1, at("sc3")),
        Call("GET", SAPP1, at("sc3"), expect={"version": "1.1.0", "status": "remove-failed"}),
        Call("DELETE", SAPP1, at("3"), status=204),
        Call("GET", SAPPS, {"subcloud": "sc3"}, expect={"apps": []}),
        Call("DELETE", SAPP1, at("sc3"), status=404, message=not_at("sc3")),
        Call("GET", SAPP1, at("sc1"), expect={"status": "applied"}),
    ],
    ("GET", ST): [
        ENGINE,
        Call("GET", ST, status=404, message=STRATEGY_NOT_FOUND),
        Call("GET", ST, query="?type=prestage", status=404, message=type_not_found("prestage")),
        *managed_subcloud("sc1"),
        online("sc1"),
        Call(
            "POST",
            ST,
            body=prestage(
                **{
                    "subcloud-apply-type": "serial",
                    "max-parallel-subclouds": 7,
                    "stop-on-failure": "TRUE",
                    "force": True,
                    "for_install": "true",
                    "release": "24.09",
                }
            ),
        ),
        Call(
            "GET",
            ST,
            expect={
                "id": 1,
                "type": "prestage",
                "subcloud-apply-type": "serial",
                "max-parallel-subclouds": 1,
                "stop-on-failure": True,
                "state": "initial",
                "updated-at": None,
                "extra-args": {
                    "force": True,
                    "prestage-software-version": "24.09",
                    "for_install": True,
                    "for_sw_deploy": False,
                },
            },
        ),
        Call("GET", ST, query="?type=prestage", expect={"id": 1, "type": "prestage"}),
        Call("GET", ST, query="?type=patch", status=404, message=type_not_found("patch")),
        Call("GET", ST, query="?type=app-update", status=404, message=type_not_found("app-update")),
        not_acceptable("GET", ST),
        # An app-update strategy: its own extra-args.
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        upload_app("1.1.0"),
        PutSiteApp("sc1", "1.0.0", "applied"),
        Call("POST", ST, body=app_update(**{"subcloud-apply-type": "serial"})),
        Call(
            "GET",
            ST,
            expect={
                "id": 2,
                "type": "app-update",
                "subcloud-apply-type": "serial",
                "max-parallel-subclouds": 1,
                "stop-on-failure": False,
                "state": "initial",
                "updated-at": None,
                "extra-args": {"app": "demo", "version": "1.1.0"},
            },
        ),
        Call("GET", ST, query="?type=app-update", expect={"id": 2, "type": "app-update"}),
        Call("GET", ST, query="?type=prestage", status=404, message=type_not_found("prestage")),
    ],
    ("POST", ST): [
        ENGINE,
        not_acceptable("POST", ST, body=prestage()),
        Call("GET", ST, status=404, message=STRATEGY_NOT_FOUND),
        # No subcloud at all.
        Call("POST", ST, body=prestage(), status=422, message=NO_STEPS),
        new_group("edge", update_apply_type="serial", max_parallel_subclouds=10),
        *managed_subcloud("sc1"),
        *managed_subcloud("sc2"),
        *managed_subcloud("sc3", "offline=true"),
        new_subcloud("sc4", group="edge"),
        online("sc1"),
        online("sc2"),
        online("sc4"),
        # Only ineligible subclouds in scope.
        Call("POST", ST, body=prestage(group="edge"), status=422, message=NO_STEPS),
        bad("POST", ST, Raw(b""), "Body required"),
        bad("POST", ST, Raw(b"{type: prestage}"), "Request body is malformed."),
        bad("POST", ST, Raw(b'"prestage"'), "Request body is malformed."),
        # Each rule in turn: the body also breaks the rules checked after it.
        bad(
            "POST",
            ST,
            {"force": "yes", "subcloud-apply-type": "both", "type": "patch"},
            invalid_bool("yes", "force"),
        ),
        bad(
            "POST",
            ST,
            {"subcloud-apply-type": "Serial", "cloud_name": "sc1", "group": "edge"},
            "subcloud-apply-type invalid",
        ),
        bad(
            "POST",
            ST,
            {"cloud_name": "sc1", "subcloud_group": "edge", "max-parallel-subclouds": "many"},
            "cloud_name and subcloud_group are mutually exclusive",
        ),
        bad(
            "POST",
            ST,
            prestage(cloud_name="sc1", group=1),
            "cloud_name and subcloud_group are mutually exclusive",
        ),
        bad(
            "POST",
            ST,
            {"group": "nowhere", "max-parallel-subclouds": "many"},
            "Invalid group_id",
        ),
        bad("POST", ST, prestage(subcloud_group=77), "Invalid group_id", doc_accepts=True),
        bad("POST", ST, prestage(group="nowhere"), "Invalid group_id", doc_accepts=True),
        bad("POST", ST, prestage(group=True), "Invalid group_id"),
        bad(
            "POST",
            ST,
            {"max-parallel-subclouds": "many", "type": "patch"},
            "max-parallel-subclouds invalid value. Value: many",
        ),
        bad(
            "POST",
            ST,
            prestage(**{"max-parallel-subclouds": 2.5}),
            "max-parallel-subclouds invalid value. Value: 2.5",
        ),
        bad(
            "POST",
            ST,
            prestage(**{"max-parallel-subclouds": 0}),
            "Invalid max-parallel-subclouds value: 0. For prestage strategy, "
            "the value must be between 1 and 5000.",
        ),
        bad(
            "POST",
            ST,
            prestage(**{"max-parallel-subclouds": "5001"}),
            "Invalid max-parallel-subclouds value: 5001. For prestage strategy, "
            "the value must be between 1 and 5000.",
        ),
        bad("POST", ST, {"sysadmin_password": "Li69nux*"}, "type required"),
        bad("POST", ST, prestage(type=""), "type required"),
        bad("POST", ST, {"type": "patch", "release": "24.9"}, "type invalid"),
        bad("POST", ST, {"type": "prestage", "release": "2409"}, RELEASE_FORMAT),
        bad("POST", ST, {"type": "prestage", "release": "24.09"}, PASSWORD_REQUIRED),
        bad("POST", ST, prestage(sysadmin_password=None), PASSWORD_REQUIRED),
        bad("POST", ST, prestage(sysadmin_password="TGk2OW51eCo"), PASSWORD_NOT_BASE64),
        bad(
            "POST",
            ST,
            prestage(for_install=True, for_sw_deploy="true", **{"stop-on-failure": "no"}),
            INSTALL_OR_DEPLOY,
        ),
        bad("POST", ST, prestage(for_sw_deploy="yes"), invalid_bool("yes", "for_sw_deploy")),
        bad(
            "POST",
            ST,
            prestage(cloud_name="nosuch", **{"stop-on-failure": None}),
            invalid_bool("None", "stop-on-failure"),
        ),
        bad(
            "POST",
            ST,
            prestage(cloud_name="nosuch"),
            "Subcloud nosuch does not exist",
            doc_accepts=True,
        ),
        bad(
            "POST",
            ST,
            prestage(cloud_name="sc3"),
            "Prestage skipped 'sc3': Subcloud is offline.",
            doc_accepts=True,
        ),
        bad(
            "POST",
            ST,
            prestage(cloud_name="sc4"),
            "Prestage skipped 'sc4': Subcloud is not managed.",
            doc_accepts=True,
        ),
        Call(
            "POST",
            ST,
            body=prestage(**{"max-parallel-subclouds": "3", "padding": OVERSIZED_PADDING}),
            status=413,
            message="Request is too large.",
        ),
        Call("GET", ST, status=404, message=STRATEGY_NOT_FOUND),
        # A plan preview stores nothing.
        Call(
            "POST",
            ST,
            query="?dry_run=true",
            body={"type": "prestage", "release": "24.09"},
            # The document requires the password of every prestage: a schema cannot
            # say that a preview (a query parameter) needs none.
            doc_accepts=None,
            expect={
                "dry-run": True,
                "type": "prestage",
                "steps": [
                    {"cloud": "sc1", "state": "initial", "details": None},
                    {"cloud": "sc2", "state": "initial", "details": None},
                    {"cloud": "sc3", "state": "skipped", "details": "Subcloud is offline."},
                    {"cloud": "sc4", "state": "skipped", "details": "Subcloud is not managed."},
                ],
                "totals": {"in-scope": 4, "to-run": 2, "skipped": 2},
            },
        ),
        Call("GET", ST, status=404, message=STRATEGY_NOT_FOUND),
        # Every subcloud; the ineligible ones are skipped.
        Call(
            "POST",
            ST,
            body=prestage(
                **{
                    "max-parallel-subclouds": " 3 ",
                    "stop-on-failure": "False",
                    "force": "true",
                    "release": "24.09",
                    "cloud_name": None,
                    "group": None,
                    "unknown": "ignored",
                }
            ),
            expect={
                "type": "prestage",
                "subcloud-apply-type": "parallel",
                "max-parallel-subclouds": 3,
                "stop-on-failure": False,
                "state": "initial",
                "updated-at": None,
                "extra-args": {
                    **DEFAULT_EXTRA_ARGS,
                    "force": True,
                    "prestage-software-version": "24.09",
                },
            },
        ),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {"cloud": "sc1", **UNSTARTED_STEP},
                    {"cloud": "sc2", **UNSTARTED_STEP},
                    {"cloud": "sc3", "state": "skipped", "details": "Subcloud is offline."},
                    {"cloud": "sc4", "state": "skipped", "details": "Subcloud is not managed."},
                ]
            },
        ),
        # One strategy at a time, whatever it covers.
        Call(
            "POST",
            ST,
            body=prestage(cloud_name="sc1"),
            status=409,
            message="Strategy of type: 'prestage' already exists",
        ),
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        # A group: its apply type and maximum are the defaults.
        Call("PATCH", S1, {"subcloud": "sc2"}, body={"group": "edge"}),
        Call(
            "POST",
            ST,
            body=prestage(subcloud_group="edge"),
            expect={
                "subcloud-apply-type": "serial",
                "max-parallel-subclouds": 1,
                "extra-args": DEFAULT_EXTRA_ARGS,
            },
        ),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {"cloud": "sc2", **UNSTARTED_STEP},
                    {"cloud": "sc4", "state": "skipped", "details": "Subcloud is not managed."},
                ]
            },
        ),
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        # ... which the request overrides.
        Call(
            "POST",
            ST,
            body=prestage(
                group="edge", **{"subcloud-apply-type": "parallel", "max-parallel-subclouds": "50"}
            ),
            expect={"subcloud-apply-type": "parallel", "max-parallel-subclouds": 50},
        ),
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        Call(
            "POST",
            ST,
            body=prestage(group="1", **{"max-parallel-subclouds": None}),
            expect={"subcloud-apply-type": "parallel", "max-parallel-subclouds": 2},
        ),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {"cloud": "sc1", "state": "initial"},
                    {"cloud": "sc3", "state": "skipped"},
                ]
            },
        ),
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        # One subcloud.
        Call(
            "POST",
            ST,
            body=prestage(cloud_name="sc1", **{"subcloud-apply-type": "serial"}),
            expect={"subcloud-apply-type": "serial", "max-parallel-subclouds": 1},
        ),
        Call("GET", SS, expect={"strategy-steps": [{"cloud": "sc1", **UNSTARTED_STEP}]}),
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        # An app-update: its own arguments, rule by rule in the order they are checked
        # (each body also breaks the rules checked after it); no prestage argument.
        bad(
            "POST",
            ST,
            app_update(app=None, release="24.09", sysadmin_password=PASSWORD),
            not_for_app_update("release"),
        ),
        bad(
            "POST",
            ST,
            app_update(release=None, sysadmin_password=PASSWORD, for_install=True),
            not_for_app_update("sysadmin_password"),
        ),
        bad(
            "POST",
            ST,
            app_update(for_install=False, for_sw_deploy="true", force=True),
            not_for_app_update("for_sw_deploy"),
        ),
        bad("POST", ST, app_update(force="TRUE", app=""), not_for_app_update("force")),
        bad(
            "POST",
            ST,
            {"type": "app-update", "force": False, "for_sw_deploy": None, "version": 7},
            "app required",
        ),
        bad("POST", ST, app_update(app="", version=7), "app required"),
        bad(
            "POST",
            ST,
            app_update(app=["demo"], version=7),
            "Invalid app '['demo']': must be an application's name",
        ),
        bad(
            "POST",
            ST,
            app_update(app="d" * 64),
            f"Invalid app '{'d' * 64}': must be an application's name",
        ),
        bad(
            "POST",
            ST,
            app_update(version=2.0, include_prerelease="yes"),
            "Invalid version '2.0': must be a version or 'latest'",
        ),
        bad(
            "POST",
            ST,
            app_update(version="2.0.0\x00"),
            "Invalid version '2.0.0\x00': must be a version or 'latest'",
        ),
        bad(
            "POST",
            ST,
            app_update(
                include_prerelease="yes", **{"require-prestaged": "no", "stop-on-failure": "no"}
            ),
            invalid_bool("yes", "include_prerelease"),
        ),
        bad(
            "POST",
            ST,
            app_update(include_prerelease=None),
            invalid_bool("None", "include_prerelease"),
        ),
        bad(
            "POST",
            ST,
            app_update(**{"require-prestaged": "no", "stop-on-failure": "no"}),
            invalid_bool("no", "require-prestaged"),
        ),
        bad(
            "POST",
            ST,
            app_update(include_prerelease="TRUE", **{"require-prestaged": 1}),
            invalid_bool("1", "require-prestaged"),
        ),
        # The catalog, before stop-on-failure and the subcloud.
        bad(
            "POST",
            ST,
            app_update(**{"stop-on-failure": "no"}),
            upload_it_first("Application demo not found"),
        ),
        bad(
            "POST",
            ST,
            app_update(cloud_name="nosuch"),
            upload_it_first("Application demo not found"),
            doc_accepts=True,
        ),
        upload_app("1.0.0"),
        bad(
            "POST",
            ST,
            app_update(version="2.0.0"),
            upload_it_first("Application demo has no version 2.0.0"),
            doc_accepts=True,
        ),
        upload_app("2.0.0-rc.1", name="beta"),
        bad(
            "POST",
            ST,
            app_update(app="beta", version=""),
            upload_it_first(
                "Application beta has no SemVer release (not pre-release) version to be latest"
            ),
            doc_accepts=True,
        ),
        # The sites: sc1 and sc2 lack the application, sc3 is offline, sc4 unmanaged.
        bad(
            "POST",
            ST,
            app_update(app="beta", include_prerelease="TRUE", cloud_name="sc1"),
            update_skipped("sc1", "Application beta not found at subcloud sc1"),
            doc_accepts=True,
        ),
        bad(
            "POST",
            ST,
            app_update(cloud_name="sc3"),
            update_skipped("sc3", "Subcloud is offline."),
            doc_accepts=True,
        ),
        Call("POST", ST, body=app_update(), status=422, message=NO_STEPS),
        *applied_at("sc1", "1.0.0"),
        bad(
            "POST",
            ST,
            app_update(cloud_name="sc1", version="latest"),
            update_skipped(
                "sc1",
                "Application demo at subcloud sc1 cannot be updated: it is at version "
                "1.0.0 already",
            ),
            doc_accepts=True,
        ),
        Call("POST", ST, body=app_update(group="edge"), status=422, message=NO_STEPS),
        # latest is the highest release (not a pre-release), resolved now.
        upload_app("2.0.0"),
        upload_app("3.0.0-rc.1"),
        # No prestage has put the images of 2.0.0 on sc1, the only site to update.
        Call(
            "POST",
            ST,
            body=app_update(**{"require-prestaged": "TRUE"}),
            status=422,
            message=NO_STEPS,
        ),
        Call(
            "POST",
            ST,
            body=app_update(
                version=None,
                include_prerelease="false",
                release=None,
                force=False,
                for_install=False,
                **{"max-parallel-subclouds": "4", "stop-on-failure": "TRUE", "unknown": "ignored"},
            ),
            expect={
                "type": "app-update",
                "subcloud-apply-type": "parallel",
                "max-parallel-subclouds": 4,
                "stop-on-failure": True,
                "state": "initial",
                "updated-at": None,
                "extra-args": {"app": "demo", "version": "2.0.0"},
            },
        ),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {"cloud": "sc1", **UNSTARTED_STEP},
                    {"cloud": "sc2", "state": "skipped", "details": not_at("sc2")},
                    {"cloud": "sc3", "state": "skipped", "details": "Subcloud is offline."},
                    {"cloud": "sc4", "state": "skipped", "details": "Subcloud is not managed."},
                ]
            },
        ),
        Call(
            "POST",
            ST,
            body=prestage(),
            status=409,
            message="Strategy of type: 'app-update' already exists",
        ),
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        # A prestage's apps: after the release is found in the store, before
        # stop-on-failure and the subcloud; the whole value, then each item in turn
        # (its form, a repeat, the catalog).
        bad("POST", ST, prestage(release="23.09", apps=7), not_stored("23.09")),
        bad("POST", ST, prestage(apps=7, **{"stop-on-failure": "no"}), INVALID_APPS),
        bad("POST", ST, prestage(apps={"demo": "2.0.0"}), INVALID_APPS),
        bad("POST", ST, prestage(apps=["@2.0.0", 2]), INVALID_APPS),
        bad("POST", ST, prestage(apps=[f"app{i}" for i in range(21)]), INVALID_APPS),
        bad("POST", ST, prestage(apps=["demo", "@2.0.0"]), invalid_app("@2.0.0")),
        bad("POST", ST, prestage(apps=" @latest"), invalid_app(" @latest")),
        bad("POST", ST, prestage(apps=[""]), invalid_app("")),
        bad("POST", ST, prestage(apps=["d" * 64]), invalid_app("d" * 64)),
        bad("POST", ST, prestage(apps=["demo@" + "1" * 65]), invalid_app("demo@" + "1" * 65)),
        bad("POST", ST, prestage(apps=["demo@2.0.0\x00"]), invalid_app("demo@2.0.0\x00")),
        bad(
            "POST",
            ST,
            prestage(apps=["nope", "@2.0.0"]),
            upload_it_first("Application nope not found"),
        ),
        bad(
            "POST",
            ST,
            prestage(apps=["demo", "nope", "demo@2.0.0"]),
            upload_it_first("Application nope not found"),
            doc_accepts=True,
        ),
        bad(
            "POST",
            ST,
            prestage(apps=["demo@latest", "demo@2.0.0", "nope"]),
            named_twice("demo"),
            doc_accepts=True,
        ),
        bad(
            "POST",
            ST,
            prestage(apps=["demo@9.9.9"], cloud_name="nosuch", **{"stop-on-failure": "no"}),
            upload_it_first("Application demo has no version 9.9.9"),
        ),
        # latest is never a pre-release; an exact version may be one.
        bad(
            "POST", ST, prestage(apps=["beta"], cloud_name="sc3"), NO_LATEST_BETA, doc_accepts=True
        ),
        bad("POST", ST, prestage(apps="beta@latest"), NO_LATEST_BETA, doc_accepts=True),
        # Resolved now, in the order given; the step prestages their images with the
        # release's, each once (both versions' chart runs the same image).
        Call(
            "POST",
            ST,
            body=prestage(apps=["beta@2.0.0-rc.1", "demo@"]),
            expect={
                "type": "prestage",
                "extra-args": with_apps(("beta", "2.0.0-rc.1"), ("demo", "2.0.0")),
            },
        ),
        Call(
            "GET", ST, expect={"extra-args": with_apps(("beta", "2.0.0-rc.1"), ("demo", "2.0.0"))}
        ),
        Call("POST", SA, body={"action": "apply"}, expect={"state": "applying"}),
        Call("GET", ST, expect={"state": "complete"}, wait=WAIT),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {"cloud": "sc1", "state": "complete", "progress": images_done(1)},
                    {"cloud": "sc2", "state": "complete", "progress": images_done(1)},
                    {"cloud": "sc3", "state": "skipped"},
                    {"cloud": "sc4", "state": "skipped"},
                ]
            },
        ),
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        # A version deleted from the catalog after create fails the images step.
        Call(
            "POST",
            ST,
            body=prestage(cloud_name="sc2", apps=["demo@3.0.0-rc.1"]),
            expect={"extra-args": with_apps(("demo", "3.0.0-rc.1"))},
        ),
        Call("DELETE", AV, {"name": "demo", "version": "3.0.0-rc.1"}, status=204),
        Call("POST", SA, body={"action": "apply"}, expect={"state": "applying"}),
        Call("GET", ST, expect={"state": "failed"}, wait=WAIT),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {
                        "cloud": "sc2",
                        "state": "failed",
                        "details": "prestaging-images: Application demo version 3.0.0-rc.1 "
                        "was deleted meanwhile",
                    }
                ]
            },
        ),
    ],
    ("DELETE", ST): [
        ENGINE,
        Call("DELETE", ST, status=404, message=STRATEGY_NOT_FOUND),
        Call("DELETE", ST, query="?type=prestage", status=404, message=type_not_found("prestage")),
        *managed_subcloud("sc1", "delay=0.3"),
        online("sc1"),
        # From initial.
        Call("POST", ST, body=prestage(), expect={"state": "initial"}),
        not_acceptable("DELETE", ST),
        Call("GET", ST, expect={"state": "initial"}),
        Call("DELETE", ST, query="?type=patch", status=404, message=type_not_found("patch")),
        Call("DELETE", ST, expect={"state": "deleting", "extra-args": DEFAULT_EXTRA_ARGS}),
        strategy_gone(),
        Call("GET", SS, status=404, message=STRATEGY_NOT_FOUND),
        # Not while it runs; once it has ended.
        Call("POST", ST, body=prestage(), expect={"state": "initial"}),
        Call("POST", SA, body={"action": "apply"}, expect={"state": "applying"}),
        Call("DELETE", ST, status=409, message=state_conflict("applying", "deleted")),
        Call("GET", ST, expect={"state": "complete"}, wait=WAIT),
        Call("DELETE", ST, query="?type=prestage", expect={"state": "deleting"}),
        strategy_gone(),
        # An app-update strategy, by its type.
        upload_app("1.1.0"),
        PutSiteApp("sc1", "1.0.0", "applied"),
        Call("POST", ST, body=app_update(), expect={"state": "initial"}),
        Call("DELETE", ST, query="?type=prestage", status=404, message=type_not_found("prestage")),
        Call("GET", ST, expect={"state": "initial"}),
        Call(
            "DELETE",
            ST,
            query="?type=app-update",
            expect={
                "type": "app-update",
                "state": "deleting",
                "extra-args": {"app": "demo", "version": "1.1.0"},
            },
        ),
        strategy_gone(),
    ],
    ("POST", SA): [
        ENGINE,
        Call("POST", SA, body={"action": "apply"}, status=404, message=STRATEGY_NOT_FOUND),
        Call(
            "POST",
            SA,
            query="?type=prestage",
            body={"action": "abort"},
            status=404,
            message=type_not_found("prestage"),
        ),
        # The body is checked before the strategy is looked up.
        bad("POST", SA, Raw(b""), "Body required"),
        bad("POST", SA, Raw(b"apply"), "Request body is malformed."),
        bad("POST", SA, {}, "action required"),
        bad("POST", SA, {"action": ""}, "action required"),
        bad("POST", SA, {"action": None}, "action required"),
        bad("POST", SA, {"action": "start"}, f"Invalid action 'start': {ACTIONS}"),
        bad("POST", SA, {"action": "Apply"}, f"Invalid action 'Apply': {ACTIONS}"),
        *managed_subcloud("sc1", "delay=60"),
        *managed_subcloud("sc2"),
        online("sc1"),
        online("sc2"),
        Call("POST", ST, body=prestage(**{"max-parallel-subclouds": 1})),
        Call(
            "POST",
            SA,
            body={"action": "abort"},
            status=409,
            message=state_conflict("initial", "aborted"),
        ),
        not_acceptable("POST", SA, body={"action": "apply"}),
        Call(
            "POST",
            SA,
            body={"action": "apply", "padding": OVERSIZED_PADDING},
            status=413,
            message="Request is too large.",
        ),
        Call(
            "POST",
            SA,
            query="?type=patch",
            body={"action": "apply"},
            status=404,
            message=type_not_found("patch"),
        ),
        Call("GET", ST, expect={"state": "initial"}),
        Call(
            "POST",
            SA,
            query="?type=prestage",
            body={"action": "apply", "unknown": "ignored"},
            expect={"state": "applying", "max-parallel-subclouds": 1},
        ),
        Call(
            "POST",
            SA,
            body={"action": "apply"},
            status=409,
            message=state_conflict("applying", "applied"),
        ),
        # Once sc1 runs its (minute-long) precheck, one at a time so sc2 waits, abort:
        # sc1 stops there, sc2 never starts.
        Call(
            "GET",
            SS,
            query="?state=prestage-precheck",
            expect={"strategy-steps": [{"cloud": "sc1"}]},
            wait=WAIT,
        ),
        Call("POST", SA, body={"action": "abort"}, expect={"state": "abort requested"}),
        Call("GET", ST, expect={"state": "aborted"}, wait=WAIT),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {"cloud": "sc1", "state": "aborted", "details": "prestage-precheck: aborted"},
                    {
                        "cloud": "sc2",
                        "state": "aborted",
                        "details": "Not started: the strategy was aborted.",
                        "started-at": None,
                    },
                ]
            },
        ),
        Call(
            "POST",
            SA,
            body={"action": "apply"},
            status=409,
            message=state_conflict("aborted", "applied"),
        ),
        Call(
            "POST",
            SA,
            body={"action": "abort"},
            status=409,
            message=state_conflict("aborted", "aborted"),
        ),
        Call(
            "POST",
            SA,
            query="?type=app-update",
            body={"action": "apply"},
            status=404,
            message=type_not_found("app-update"),
        ),
        # sc1 answers at once again, for what follows.
        Call(
            "PATCH",
            S1,
            {"subcloud": "sc1"},
            body={"endpoint": "simulated://sc1?delay=0.3"},
            expect={"endpoint": "simulated://sc1?delay=0.3"},
        ),
        # An app-update strategy, applied by its type: each site ends at the version.
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        upload_app("1.0.0"),
        upload_app("1.1.0"),
        *applied_at("sc1", "1.0.0"),
        *applied_at("sc2", "1.0.0"),
        # sc1 gets the images of 1.1.0 ahead of time; the precheck says which site has.
        Call(
            "PATCH",
            SP,
            {"subcloud": "sc1"},
            body={"sysadmin_password": PASSWORD, "apps": ["demo@1.1.0"]},
            expect={"prestage-status": "prestaging"},
        ),
        Call("GET", S1, {"subcloud": "sc1"}, expect={"prestage-status": "complete"}, wait=WAIT),
        # Requiring prestaged images: sc2, where no prestage put those of 1.1.0, is left
        # out (refused when named).
        bad(
            "POST",
            ST,
            app_update(cloud_name="sc2", **{"require-prestaged": True}),
            update_skipped("sc2", not_prestaged("sc2")),
            doc_accepts=True,
        ),
        Call(
            "POST",
            ST,
            body=app_update(**{"require-prestaged": "true"}),
            expect={
                "state": "initial",
                "extra-args": {"app": "demo", "version": "1.1.0", "require-prestaged": True},
            },
        ),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {"cloud": "sc1", **UNSTARTED_STEP},
                    {"cloud": "sc2", "state": "skipped", "details": not_prestaged("sc2")},
                ]
            },
        ),
        Call("DELETE", ST, expect={"state": "deleting"}),
        strategy_gone(),
        Call(
            "POST",
            ST,
            body=app_update(**{"require-prestaged": False}),
            expect={"extra-args": {"version": "1.1.0", "require-prestaged": ABSENT}},
        ),
        Call(
            "POST",
            SA,
            query="?type=prestage",
            body={"action": "apply"},
            status=404,
            message=type_not_found("prestage"),
        ),
        Call(
            "POST",
            SA,
            query="?type=app-update",
            body={"action": "apply"},
            expect={"type": "app-update", "state": "applying"},
        ),
        Call("GET", ST, expect={"state": "complete"}, wait=WAIT),
        Call(
            "GET",
            SS,
            query="?type=app-update",
            expect={
                "strategy-steps": [
                    {"cloud": "sc1", "state": "complete", "details": images_noted("")},
                    {
                        "cloud": "sc2",
                        "state": "complete",
                        "details": images_noted(" not") + ": the update pulls them",
                    },
                ]
            },
        ),
        Call(
            "GET",
            SAPP1,
            at("sc2"),
            expect={"version": "1.1.0", "status": "applied", "inactive": [{"version": "1.0.0"}]},
        ),
    ],
    ("GET", SS): [
        ENGINE,
        Call("GET", SS, status=404, message=STRATEGY_NOT_FOUND),
        Call("GET", SS, query="?type=prestage", status=404, message=type_not_found("prestage")),
        *managed_subcloud("sc1"),
        *managed_subcloud("sc2"),
        *managed_subcloud("sc3", "delay=0.1"),
        new_subcloud("sc4"),
        online("sc1"),
        online("sc2"),
        online("sc3"),
        online("sc4"),
        Call("POST", ST, body=prestage()),
        Call(
            "GET",
            SS,
            expect={
                "strategy-steps": [
                    {"id": 1, "cloud": "sc1", **UNSTARTED_STEP},
                    {"id": 2, "cloud": "sc2", **UNSTARTED_STEP},
                    {"id": 3, "cloud": "sc3", **UNSTARTED_STEP},
                    {
                        "id": 4,
                        "cloud": "sc4",
                        "stage": 1,
                        "state": "skipped",
                        "details": "Subcloud is not managed.",
                        "progress": None,
                        "started-at": None,
                        "updated-at": None,
                    },
                ]
            },
        ),
        Call("GET", SS, query="?limit=2", expect={"strategy-steps": [{"id": 1}, {"id": 2}]}),
        Call(
            "GET", SS, query="?limit=2&marker=2", expect={"strategy-steps": [{"id": 3}, {"id": 4}]}
        ),
        Call("GET", SS, query="?marker=4", expect={"strategy-steps": []}),
        Call("GET", SS, query="?state=skipped", expect={"strategy-steps": [{"cloud": "sc4"}]}),
        Call(
            "GET",
            SS,
            query="?state=initial&limit=1&marker=1&type=prestage",
            expect={"strategy-steps": [{"cloud": "sc2"}]},
        ),
        Call("GET", SS, query="?state=complete", expect={"strategy-steps": []}),
        Call("GET", SS, query="?type=patch", status=404, message=type_not_found("patch")),
        Call("GET", SS, query="?type=app-update", status=404, message=type_not_found("app-update")),
        bad(
            "GET",
            SS,
            None,
            "Invalid limit '0': must be an integer from 1 to 10000",
            query="?limit=0",
        ),
        bad(
            "GET",
            SS,
            None,
            "Invalid limit '10001': must be an integer from 1 to 10000",
            query="?limit=10001",
        ),
        bad(
            "GET",
            SS,
            None,
            "Invalid limit 'all': must be an integer from 1 to 10000",
            query="?limit=all",
        ),
        bad("GET", SS, None, "Invalid marker 'last': must be a step id", query="?marker=last"),
        bad(
            "GET",
            SS,
            None,
            "Invalid state 'running': must be one of initial, prestage-precheck, "
            "prestage-preparing-packages, prestaging-packages, prestaging-images, complete, "
            "failed, aborted, skipped, app-update-precheck, app-uploading, app-applying, "
            "app-rolling-back, app-cleanup, app-recovering",
            query="?state=running",
        ),
        not_acceptable("GET", SS),
        Call("POST", SA, body={"action": "apply"}, expect={"state": "applying"}),
        Call("GET", ST, expect={"state": "complete"}, wait=WAIT),
        Call(
            "GET",
            SS,
            query="?state=complete",
            expect={
                "strategy-steps": [
                    {"cloud": name, "state": "complete", "details": None, "progress": IMAGES_DONE}
                    for name in ("sc1", "sc2", "sc3")
                ]
            },
        ),
    ],
    ("GET", SSUM): [
        Call("GET", SSUM, status=404, message=STRATEGY_NOT_FOUND),
        *managed_subcloud("sc1"),
        set_online("sc1"),
        Call("POST", ST, body=prestage()),
        Call(
            "GET",
            SSUM,
            expect={
                "strategy": {"state": "initial"},
                "step-counts": {"initial": 1},
                "transfers": {"bytes-done": 0, "bytes-total": 0},
            },
        ),
        Call(
            "GET", SSUM, query="?type=app-update", status=404, message=type_not_found("app-update")
        ),
        not_acceptable("GET", SSUM),
    ],
    ("GET", SS1): [
        Call("GET", SS1, {"cloud_name": "sc1"}, status=404, message=STRATEGY_NOT_FOUND),
        *managed_subcloud("sc1"),
        *managed_subcloud("sc2"),
        set_online("sc1"),
        set_online("sc2"),
        Call(
            "GET",
            SS1,
            {"cloud_name": "sc1"},
            query="?type=prestage",
            status=404,
            message=type_not_found("prestage"),
        ),
        Call("POST", ST, body=prestage(cloud_name="sc1")),
        Call("GET", SS1, {"cloud_name": "sc1"}, expect={"id": 1, "cloud": "sc1", **UNSTARTED_STEP}),
        Call("GET", SS1, {"cloud_name": "sc1"}, query="?type=prestage", expect={"id": 1}),
        Call(
            "GET",
            SS1,
            {"cloud_name": "sc1"},
            query="?type=patch",
            status=404,
            message=type_not_found("patch"),
        ),
        Call(
            "GET",
            SS1,
            {"cloud_name": "sc1"},
            query="?type=app-update",
            status=404,
            message=type_not_found("app-update"),
        ),
        Call("GET", SS1, {"cloud_name": "sc2"}, status=404, message=STEP_NOT_FOUND),
        Call("GET", SS1, {"cloud_name": "nosuch"}, status=404, message=STEP_NOT_FOUND),
        not_acceptable("GET", SS1, {"cloud_name": "sc1"}),
    ],
    ("GET", R): [
        Call("GET", R, expect=SEEDED_RELEASES),
        Call("PUT", B1, {"digest": BLOB_DIGEST}, body=Raw(BLOB, BLOB_TYPE), status=201),
        Call("POST", R, body=RELEASE, status=201),
        Call(
            "GET",
            R,
            expect={
                "releases": [{"version": "26.03", "file-count": 1}, *SEEDED_RELEASES["releases"]]
            },
        ),
        not_acceptable("GET", R),
    ],
    ("POST", R): [
        bad("POST", R, {**RELEASE}, MISSING_BLOB, doc_accepts=True),
        Call("PUT", B1, {"digest": BLOB_DIGEST}, body=Raw(BLOB, BLOB_TYPE), status=201),
        bad("POST", R, {**RELEASE, "version": "25.9"}, BAD_VERSION),
        bad(
            "POST",
            R,
            {**RELEASE, "files": [], "images": []},
            "A release needs at least one file or image",
            doc_accepts=True,
        ),
        Call("POST", R, body=RELEASE, status=201, expect=RELEASE_DETAIL),
        Call("POST", R, body=RELEASE, status=409, message=RELEASE_EXISTS),
        not_acceptable("POST", R, body=RELEASE),
    ],
    ("GET", R1): [
        Call("GET", R1, {"version": "26.03"}, status=404, message="Release 26.03 not found"),
        Call("PUT", B1, {"digest": BLOB_DIGEST}, body=Raw(BLOB, BLOB_TYPE), status=201),
        Call("POST", R, body=RELEASE, status=201),
        Call("GET", R1, {"version": "26.03"}, expect=RELEASE_DETAIL),
        not_acceptable("GET", R1, {"version": "26.03"}),
    ],
    ("DELETE", R1): [
        Call("DELETE", R1, {"version": "26.03"}, status=404, message="Release 26.03 not found"),
        Call("PUT", B1, {"digest": BLOB_DIGEST}, body=Raw(BLOB, BLOB_TYPE), status=201),
        Call("POST", R, body=RELEASE, status=201),
        not_acceptable("DELETE", R1, {"version": "26.03"}),
        *managed_subcloud("sc1"),
        set_online("sc1"),
        Call("POST", ST, body=prestage(release="26.03")),
        Call(
            "DELETE",
            R1,
            {"version": "26.03"},
            status=409,
            message="Release 26.03 is being prestaged (by the current strategy or a "
            "standalone prestage); delete it once that has ended",
        ),
        Call("DELETE", ST, expect={"state": "deleting"}),
        Call("DELETE", R1, {"version": "26.03"}, status=204),
        Call("GET", R, expect=SEEDED_RELEASES),
        # Its blob stays until the collector finds it unused past its grace.
        Call("HEAD", B1, {"digest": BLOB_DIGEST}, accept=BLOB_TYPE),
    ],
    ("GET", A): [
        Call("GET", A, expect={"apps": []}),
        upload_app("1.0.0"),
        Call("GET", A, expect={"apps": [{"name": "demo", "latest": "1.0.0"}]}),
        not_acceptable("GET", A),
    ],
    ("POST", A): [
        upload_app("1.0.0"),
        Call("POST", A, body=Raw(TARBALL_V1, APP_TYPE), status=409, message=APP_EXISTS),
        Call("POST", A, body=Raw(b"not a tarball", APP_TYPE), status=400),
        not_acceptable("POST", A, body=Raw(TARBALL_V1, APP_TYPE)),
    ],
    ("GET", A1): [
        Call("GET", A1, {"name": "demo"}, status=404, message="Application demo not found"),
        upload_app("1.0.0"),
        Call("GET", A1, {"name": "demo"}, expect={"name": "demo", "latest": "1.0.0"}),
        not_acceptable("GET", A1, {"name": "demo"}),
    ],
    ("GET", AV): [
        upload_app("1.0.0"),
        Call("GET", AV, {"name": "demo", "version": "latest"}, expect={"version": "1.0.0"}),
        Call(
            "GET",
            AV,
            {"name": "demo", "version": "1.0"},
            status=404,
            message="Application demo has no version 1.0",
        ),
        Call(
            "GET",
            AV,
            {"name": "demo", "version": "latest"},
            query="?include_prerelease=maybe",
            status=400,
            doc_accepts=False,
        ),
        not_acceptable("GET", AV, {"name": "demo", "version": "1.0.0"}),
    ],
    ("DELETE", AV): [
        upload_app("1.0.0"),
        not_acceptable("DELETE", AV, {"name": "demo", "version": "1.0.0"}),
        Call("DELETE", AV, {"name": "demo", "version": "1.0.0"}, status=204),
        Call(
            "DELETE",
            AV,
            {"name": "demo", "version": "1.0.0"},
            status=404,
            message="Application demo not found",
        ),
        # A version a subcloud uses (here, an operation on it under way) stays; one only
        # inactive at the subclouds goes.
        upload_app("1.0.0"),
        upload_app("1.1.0"),
        new_subcloud("sc1"),
        operate("sc1", {"action": "apply", "version": "1.0.0"}),
        new_subcloud("sc2"),
        PutSiteApp("sc2", "1.1.0", "inactive"),
        Call("DELETE", AV, {"name": "demo", "version": "1.0.0"}, status=409, message=APP_IN_USE),
        Call("GET", AV, {"name": "demo", "version": "1.0.0"}, expect={"version": "1.0.0"}),
        Call("DELETE", AV, {"name": "demo", "version": "1.1.0"}, status=204),
        # The version a live app-update strategy updates the sites to stays (one it does
        # not target goes) until the strategy is deleted, though no site holds it yet.
        upload_app("2.0.0"),
        upload_app("2.1.0-rc.1"),
        *managed_subcloud("sc3"),
        set_online("sc3"),
        PutSiteApp("sc3", "1.0.0", "applied"),
        Call("POST", ST, body=app_update(), expect={"extra-args": {"version": "2.0.0"}}),
        Call("DELETE", AV, {"name": "demo", "version": "2.0.0"}, status=409, message=APP_TARGETED),
        Call("GET", AV, {"name": "demo", "version": "2.0.0"}, expect={"version": "2.0.0"}),
        Call("DELETE", AV, {"name": "demo", "version": "2.1.0-rc.1"}, status=204),
        Call("DELETE", ST, expect={"state": "deleting"}),
        Call("DELETE", AV, {"name": "demo", "version": "2.0.0"}, status=204),
    ],
    ("GET", H): [
        Call("GET", H, expect={"charts": HELM_CHARTS}),
        Call("GET", H, query="?app=nope", status=404, message="Application nope not found"),
        Call(
            "GET",
            H,
            query="?app=" + "a" * 64,
            status=400,
            message="Invalid app: an application name",
        ),
        not_acceptable("GET", H),
    ],
    ("GET", H1): [
        Call("GET", H1, RABBITMQ, query=OPENSTACK_NS, expect=RABBITMQ_SIMPLEX),
        Call(
            "GET",
            H1,
            {"name": "ingress"},
            query="?namespace=kube-system",
            expect={
                "name": "ingress",
                "namespace": "kube-system",
                "system_overrides": "deployment: {mode: cluster, type: DaemonSet}\n"
                "network: {host_namespace: true}\n",
                "user_overrides": "",
            },
        ),
        new_subcloud("sc1"),
        Call(
            "GET",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS + "&subcloud=sc1",
            status=409,
            message="The system mode of subcloud sc1 is not known yet: the audit learns it "
            "once the subcloud answers",
        ),
        SetSubcloud("sc1", {"system_mode": "duplex"}),
        Call(
            "GET",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS + "&subcloud=1",
            expect={
                "system_overrides": "pod:\n  replicas: {server: 2}\n",
                "combined_overrides": "pod:\n  replicas:\n    server: 2\n",
            },
        ),
        Call(
            "GET",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS + "&subcloud=sc9",
            status=404,
            message=SUBCLOUD_NOT_FOUND,
        ),
        # An application's chart: with ?subcloud=, that subcloud's own overrides too,
        # combined above the application's.
        upload_app("1.0.0"),
        new_subcloud("sc2"),
        Call("PATCH", H1, DEMO_API, query=APP_CHART, body=APP_REPLICAS),
        Call("PATCH", H1, DEMO_API, query=APP_CHART + "&subcloud=sc2", body=SITE_TAG),
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&namespace=demo&subcloud=sc2",
            expect={
                "name": "demo-api",
                "namespace": "demo",
                "system_overrides": "",
                "user_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
                "subcloud_overrides": "image:\n  tag: 1.0.1\n",
                "combined_overrides": "image:\n  tag: 1.0.1\nreplicas: 2\n",
            },
        ),
        # By id; the subcloud's system mode (not known yet) does not matter here.
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=2",
            expect={"subcloud_overrides": "image:\n  tag: 1.0.1\n"},
        ),
        # A subcloud with none: the application's alone.
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc1",
            expect={
                "subcloud_overrides": "",
                "combined_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
            },
        ),
        # Without ?subcloud= (or empty): no subcloud_overrides.
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=",
            expect={
                "user_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
                "subcloud_overrides": ABSENT,
                "combined_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
            },
        ),
        Call("GET", H1, DEMO_API, query=APP_CHART, expect={"subcloud_overrides": ABSENT}),
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc9",
            status=404,
            message=SUBCLOUD_NOT_FOUND,
        ),
        # The subcloud is looked up before the catalog.
        Call(
            "GET",
            H1,
            DEMO_API,
            query="?app=nope&subcloud=sc9",
            status=404,
            message=SUBCLOUD_NOT_FOUND,
        ),
        Call(
            "GET",
            H1,
            DEMO_API,
            query="?app=nope&subcloud=sc2",
            status=404,
            message="Application nope not found",
        ),
        Call("GET", H1, {"name": "nope"}, query=OPENSTACK_NS, status=404, message=NO_CHART),
        Call("GET", H1, RABBITMQ, query="?namespace=kube-system", status=404, message=NO_NS),
        # The document cannot tell: an application's chart may leave it out.
        Call("GET", H1, RABBITMQ, status=400, message=NS_REQUIRED),
        not_acceptable("GET", H1, RABBITMQ, query=OPENSTACK_NS),
    ],
    ("PATCH", H1): [
        Call(
            "PATCH",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS,
            body={"flag": "reuse", "values": {"files": [], "set": ["pod.replicas=2"]}},
            expect={"name": "rabbitmq", "namespace": "openstack", "user_overrides": REPLICAS_2},
        ),
        Call(
            "PATCH",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS,
            body={"flag": "reuse", "values": {"set_string": ["image.tag=1.0"]}},
            expect={"user_overrides": "image:\n  tag: '1.0'\n" + REPLICAS_2},
        ),
        Call(
            "PATCH",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS,
            body={"flag": "reset", "values": {"files": ["pod:\n  replicas: 2\n"]}},
            expect={"user_overrides": REPLICAS_2},
        ),
        Call("GET", H1, RABBITMQ, query=OPENSTACK_NS, expect=RABBITMQ_REPLICAS_2),
        helm_bad({"flag": "keep"}, "Invalid flag: keep must be either 'reuse' or 'reset'."),
        helm_bad({"values": {}}, "Missing flag: it must be either 'reuse' or 'reset'."),
        helm_bad(
            {"flag": "reuse", "values": {"set": ["a,b=c"]}},
            'Invalid values: set[0] "a,b=c": key "a" has no value (cannot end with ,)',
            doc_accepts=True,
        ),
        helm_bad(
            {"flag": "reuse", "values": {"set": "a=b"}},
            "Invalid values.set: it must be a list of strings",
        ),
        helm_bad(
            {"flag": "reuse", "values": {"sets": ["a=b"]}},
            "Unknown values kind sets: the kinds are files, set, set_string, set_json, "
            "set_file, set_literal (and set_file_contents)",
        ),
        helm_bad(
            {"flag": "reuse", "values": {"set": ["a[65536]=x,b[65536]=x,c[65536]=x"]}},
            "The user overrides would be 1376296 bytes; at most 1048576 are kept",
            doc_accepts=True,
        ),
        helm_bad(Raw(b""), "Body required", doc_accepts=None),
        Call("GET", H1, RABBITMQ, query=OPENSTACK_NS, expect=RABBITMQ_REPLICAS_2),
        Call(
            "PATCH",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS,
            body={"flag": "reset", "values": {"set": ["x=1"]}, "padding": OVERSIZED_PADDING},
            status=413,
        ),
        Call(
            "PATCH",
            H1,
            {"name": "nope"},
            query=OPENSTACK_NS,
            body={"flag": "reset"},
            status=404,
            message=NO_CHART,
        ),
        not_acceptable("PATCH", H1, RABBITMQ, body={"flag": "reset"}, query=OPENSTACK_NS),
        Call(
            "PATCH",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS,
            body={"flag": "reset"},
            expect={"user_overrides": ""},
        ),
        # An application's chart: the application's overrides, and one subcloud's own
        # (reuse starts from the subcloud's), each answered as what it is.
        upload_app("1.0.0"),
        new_subcloud("sc1"),
        Call(
            "PATCH",
            H1,
            DEMO_API,
            query=APP_CHART,
            body=APP_REPLICAS,
            expect={
                "name": "demo-api",
                "namespace": "demo",
                "user_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
                "subcloud_overrides": ABSENT,
            },
        ),
        Call(
            "PATCH",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc1",
            body=SITE_TAG,
            expect={
                "name": "demo-api",
                "namespace": "demo",
                "subcloud_overrides": "image:\n  tag: 1.0.1\n",
                "user_overrides": ABSENT,
            },
        ),
        Call(
            "PATCH",
            H1,
            DEMO_API,
            query=APP_CHART + "&namespace=demo&subcloud=1",
            body={"flag": "reuse", "values": {"set": ["replicas=3"]}},
            expect={"subcloud_overrides": "image:\n  tag: 1.0.1\nreplicas: 3\n"},
        ),
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc1",
            expect={
                "user_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
                "subcloud_overrides": "image:\n  tag: 1.0.1\nreplicas: 3\n",
                "combined_overrides": "image:\n  tag: 1.0.1\nreplicas: 3\n",
            },
        ),
        # In order: the subcloud (with or without ?app=), the body, ?subcloud= without
        # ?app=, then the chart and the namespace.
        Call(
            "PATCH",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc9",
            body={"flag": "keep"},
            status=404,
            message=SUBCLOUD_NOT_FOUND,
            doc_accepts=False,
        ),
        Call(
            "PATCH",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS + "&subcloud=sc9",
            body={"flag": "reset"},
            status=404,
            message=SUBCLOUD_NOT_FOUND,
        ),
        bad(
            "PATCH",
            H1,
            {"flag": "keep"},
            "Invalid flag: keep must be either 'reuse' or 'reset'.",
            params=RABBITMQ,
            query=OPENSTACK_NS + "&subcloud=sc1",
        ),
        bad(
            "PATCH",
            H1,
            {"flag": "reuse", "values": {"set": ["pod.replicas=2"]}},
            SITE_NEEDS_APP,
            params=RABBITMQ,
            query=OPENSTACK_NS + "&subcloud=sc1",
            doc_accepts=True,
        ),
        bad(
            "PATCH",
            H1,
            {"flag": "reset"},
            SITE_NEEDS_APP,
            params={"name": "nope"},
            query="?subcloud=1",
            doc_accepts=True,
        ),
        Call(
            "PATCH",
            H1,
            {"name": "nope"},
            query=APP_CHART + "&subcloud=sc1",
            body={"flag": "reset"},
            status=404,
            message="Helm chart nope of application demo not found",
        ),
        # Nothing was written to the platform chart.
        Call("GET", H1, RABBITMQ, query=OPENSTACK_NS, expect=RABBITMQ_SIMPLEX),
    ],
    ("DELETE", H1): [
        Call(
            "PATCH",
            H1,
            RABBITMQ,
            query=OPENSTACK_NS,
            body={"flag": "reuse", "values": {"set": ["pod.replicas=2"]}},
        ),
        not_acceptable("DELETE", H1, RABBITMQ, query=OPENSTACK_NS),
        # A platform chart has no overrides of one subcloud's: refused, before the
        # namespace is looked at.
        new_subcloud("sc1"),
        bad(
            "DELETE",
            H1,
            None,
            SITE_NEEDS_APP,
            params=RABBITMQ,
            query="?subcloud=sc1",
            doc_accepts=True,
        ),
        bad(
            "DELETE",
            H1,
            None,
            SITE_NEEDS_APP,
            params=RABBITMQ,
            query=OPENSTACK_NS + "&subcloud=1",
            doc_accepts=True,
        ),
        Call("GET", H1, RABBITMQ, query=OPENSTACK_NS, expect=RABBITMQ_REPLICAS_2),
        Call("DELETE", H1, RABBITMQ, query=OPENSTACK_NS, status=204),
        Call("GET", H1, RABBITMQ, query=OPENSTACK_NS, expect=RABBITMQ_SIMPLEX),
        Call("DELETE", H1, RABBITMQ, query=OPENSTACK_NS, status=204),
        Call("DELETE", H1, {"name": "nope"}, query=OPENSTACK_NS, status=404, message=NO_CHART),
        # The document cannot tell: an application's chart may leave it out.
        Call("DELETE", H1, RABBITMQ, status=400, message=NS_REQUIRED),
        # An application's chart: a subcloud's own overrides go, the application's stay.
        upload_app("1.0.0"),
        Call("PATCH", H1, DEMO_API, query=APP_CHART, body=APP_REPLICAS),
        Call("PATCH", H1, DEMO_API, query=APP_CHART + "&subcloud=sc1", body=SITE_TAG),
        Call(
            "DELETE",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc9",
            status=404,
            message=SUBCLOUD_NOT_FOUND,
        ),
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc1",
            expect={"subcloud_overrides": "image:\n  tag: 1.0.1\n"},
        ),
        Call("DELETE", H1, DEMO_API, query=APP_CHART + "&namespace=demo&subcloud=sc1", status=204),
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc1",
            expect={
                "user_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
                "subcloud_overrides": "",
                "combined_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
            },
        ),
        Call("DELETE", H1, DEMO_API, query=APP_CHART + "&subcloud=1", status=204),
        # A subcloud registered again under the name starts without any.
        Call("PATCH", H1, DEMO_API, query=APP_CHART + "&subcloud=sc1", body=SITE_TAG),
        Call("DELETE", S1, {"subcloud": "sc1"}, expect={"name": "sc1"}),
        Call(
            "DELETE",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc1",
            status=404,
            message=SUBCLOUD_NOT_FOUND,
        ),
        new_subcloud("sc1"),
        Call(
            "GET",
            H1,
            DEMO_API,
            query=APP_CHART + "&subcloud=sc1",
            expect={
                "subcloud_overrides": "",
                "user_overrides": "image:\n  tag: 1.0.0\nreplicas: 2\n",
            },
        ),
    ],
    ("GET", B1): [
        Call(
            "GET",
            B1,
            {"digest": BLOB_DIGEST},
            status=404,
            message=f"Blob {BLOB_DIGEST} not found",
            accept=BLOB_TYPE,
        ),
        Call("PUT", B1, {"digest": BLOB_DIGEST}, body=Raw(BLOB, BLOB_TYPE), status=201),
        Call("GET", B1, {"digest": BLOB_DIGEST}, accept=BLOB_TYPE, expect=BLOB),
        Call(
            "GET",
            B1,
            {"digest": BLOB_DIGEST},
            accept=BLOB_TYPE,
            headers={"Range": "bytes=8-"},
            status=206,
            expect=BLOB[8:],
        ),
        Call(
            "GET",
            B1,
            {"digest": BLOB_DIGEST},
            accept=BLOB_TYPE,
            headers={"Range": f"bytes={len(BLOB) + 1}-"},
            status=416,
            message=f"Range bytes={len(BLOB) + 1}- is outside the blob's {len(BLOB)} bytes",
        ),
        Call(
            "GET",
            B1,
            {"digest": "sha256:abc"},
            status=400,
            message=not_a_digest("sha256:abc"),
            accept=BLOB_TYPE,
        ),
        not_acceptable("GET", B1, {"digest": BLOB_DIGEST}),
    ],
    ("HEAD", B1): [
        Call("HEAD", B1, {"digest": BLOB_DIGEST}, status=404, accept=BLOB_TYPE),
        Call("HEAD", B1, {"digest": "sha256:NOT-HEX"}, status=400, accept=BLOB_TYPE),
        Call("PUT", B1, {"digest": BLOB_DIGEST}, body=Raw(BLOB, BLOB_TYPE), status=201),
        Call("HEAD", B1, {"digest": BLOB_DIGEST}, accept=BLOB_TYPE),
    ],
    ("PUT", B1): [
        Call(
            "PUT",
            B1,
            {"digest": BLOB_DIGEST},
            body=Raw(BLOB, BLOB_TYPE),
            status=201,
            expect={"digest": BLOB_DIGEST, "size": len(BLOB)},
        ),
        Call("PUT", B1, {"digest": BLOB_DIGEST}, body=Raw(BLOB, BLOB_TYPE), status=200),
        Call(
            "PUT",
            B1,
            {"digest": OTHER_DIGEST},
            body=Raw(BLOB, BLOB_TYPE),
            status=400,
            message=(
                f"Blob {OTHER_DIGEST} refused: the content's digest is {BLOB_DIGEST}, "
                f"not {OTHER_DIGEST}"
            ),
        ),
        Call(
            "PUT",
            B1,
            {"digest": BLOB_DIGEST},
            body=Raw(b"{}"),
            status=400,
            message="A blob is sent as application/octet-stream",
            doc_accepts=False,
        ),
        not_acceptable("PUT", B1, {"digest": BLOB_DIGEST}, body=Raw(BLOB, BLOB_TYPE)),
    ],
}

# What the scenarios exercise: (method, path template) and (method, template, status).
EXERCISED: frozenset[tuple[str, str]] = frozenset(
    call.operation for calls in SCENARIOS.values() for call in calls if isinstance(call, Call)
)
EXERCISED_STATUSES: frozenset[tuple[str, str, int]] = frozenset(
    (*call.operation, call.status)
    for calls in SCENARIOS.values()
    for call in calls
    if isinstance(call, Call)
)

# Documented statuses the scenarios cannot produce, and why.
UNREACHABLE_STATUSES: dict[int, str] = {
    401: "keystone mode only; live_api serves the API in noauth mode",
    403: "keystone mode only; in noauth mode every caller is an administrator",
    500: "only on an unexpected fault",
}
UNREACHABLE_OPERATION_STATUSES: dict[tuple[str, str, int], str] = {
    ("POST", S, 404): "only when the group is deleted while the subcloud is registered",
    ("POST", R, 413): "only above [prestage] max_manifest_bytes (64 MiB; see test_api_releases)",
    ("POST", A, 413): "only above [apps] max_tarball_bytes (256 MiB; see test_api_apps)",
    ("POST", f"{S}/bulk", 413): (
        "only above [api] max_bulk_bytes (4 MiB; see test_api_subclouds_bulk)"
    ),
    ("PATCH", H1, 409): "only when other updates win the race every time (see test_db_helm)",
}

# Paths the API does not have; each must answer 404 with an error body.
UNKNOWN_PATHS = (
    "/nope",
    "/v2.0",
    "/v1.0/nope",
    "/v1.0/subclouds/sc1/nope",
    "/v1.0/subclouds/sc1/prestage/nope",
    "/v1.0/subclouds/sc1/apps/demo/nope",
    "/v1.0/subcloud-groups/1/nope",
    "/v1.0/subcloud-groups/1/subclouds/sc1",
    "/v1.0/sw-update-strategy/nope",
    "/v1.0/sw-update-strategy/actions/nope",
    "/v1.0/sw-update-strategy/steps/sc1/nope",
)

# Where the API contradicts its contract (reported, not fixed here): the cases that
# show it are expected to fail until the code is fixed.
KNOWN_BUGS: dict[tuple[str, str], str] = {}
# The same for the Allow header of a 405.
KNOWN_ALLOW_BUGS: dict[tuple[str, str], str] = {}


def known_bug(bugs: dict[tuple[str, str], str], method: str, template: str) -> list:
    """The marks of a case that a known bug makes fail."""
    reason = bugs.get((method, template))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def _load_document() -> dict[str, Any]:
    with DOC_PATH.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def _shadowed(method: str, path: str, documented: set[tuple[str, str]]) -> bool:
    """Whether another documented template with ``method`` matches the path (a client
    reading the document would take ``GET /v1.0/subclouds/bulk`` for a subcloud named
    ``bulk``; the server's 405 there is tested in test_api_subclouds_bulk)."""
    for other_method, template in documented:
        if other_method == method and template != path and "{" in template:
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
                return True
    return False


def _undocumented_method_probes() -> list[tuple[str, str]]:
    """(method, template) for each probed method a documented path does not list."""
    document = _load_document()
    documented = documented_operations(document)
    return [
        (method, path)
        for path in document["paths"]
        for method in PROBED_METHODS
        if (method, path) not in documented and not _shadowed(method, path, documented)
    ]


UNDOCUMENTED_METHOD_PROBES = _undocumented_method_probes()


# Fixtures and helpers.


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return _load_document()


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(DOC_PATH))


@pytest.fixture(scope="module")
def error_validator(document) -> OAS30Validator:
    return OAS30Validator(document["components"]["schemas"]["Error"])


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def _prepare(
    base: str,
    method: str,
    path: str,
    body: Any,
    accept: str = "application/json",
    headers: dict[str, str] | None = None,
) -> requests.PreparedRequest:
    headers = {"Accept": accept, **(headers or {})}
    data = None
    if body is not None:
        data = body.data if isinstance(body, Raw) else json.dumps(body).encode()
        headers["Content-Type"] = body.content_type if isinstance(body, Raw) else "application/json"
    return requests.Request(method, base + path, data=data, headers=headers).prepare()


def _matches(actual: Any, expected: Any, base: str, where: str = "body") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in expected.items():
            if value is ABSENT:
                assert key not in actual, f"{where}: {key!r} in {actual!r}"
                continue
            assert key in actual, f"{where}: no {key!r} in {actual!r}"
            _matches(actual[key], value, base, f"{where}[{key!r}]")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        assert len(actual) == len(expected), f"{where}: {actual!r} has not {len(expected)} items"
        for index, (item, value) in enumerate(zip(actual, expected, strict=True)):
            _matches(item, value, base, f"{where}[{index}]")
    elif isinstance(expected, str):
        assert actual == expected.replace("{base}", base), where
    else:
        assert actual == expected and type(actual) is type(expected), f"{where}: {actual!r}"


def _fulfils(response: requests.Response, call: Call, base: str) -> bool:
    """Whether ``response`` is what ``call`` expects (for a call that waits)."""
    if response.status_code != call.status:
        return False
    try:
        body = response.json()
        if call.message is not None:
            assert body["message"] == call.message
        if call.expect is not None:
            _matches(body, call.expect, base)
    except (ValueError, KeyError, TypeError, AssertionError):
        return False
    return True


def exercise(http: requests.Session, openapi: OpenAPI, base: str, call: Call) -> requests.Response:
    """Make ``call`` and check request and response against the document."""
    path = call.template.format(**call.params)
    prepared = _prepare(base, call.method, path + call.query, call.body, call.accept, call.headers)
    response = http.send(prepared, timeout=30)
    deadline = time.monotonic() + call.wait
    while call.wait and not _fulfils(response, call, base) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
        response = http.send(prepared, timeout=30)
    request = RequestsOpenAPIRequest(prepared)

    # The document maps the call to the operation it claims to exercise.
    found = APICallPathFinder(openapi.spec).find(call.method.lower(), base + path)
    assert found.path_result.pattern == call.template
    assert found.path_result.variables == call.params

    request_errors = list(openapi.iter_request_errors(request))
    if call.doc_accepts is True:
        assert not request_errors, f"the document rejects {call}: {request_errors}"
    elif call.doc_accepts is False:
        assert request_errors, f"the document accepts {call}, which the API refuses"

    assert response.status_code == call.status, (
        f"{call.method} {path}{call.query}: {response.status_code} {response.text[:500]}"
    )
    openapi.validate_response(request, RequestsOpenAPIResponse(response))
    for secret in SECRETS:
        assert secret not in response.text, f"{call.method} {path} returned the password"

    if call.status == 204 or call.method == "HEAD":
        assert response.content == b""
        return response
    if response.headers["Content-Type"] == BLOB_TYPE:
        assert response.content == call.expect
        return response
    body = response.json()
    if call.status >= 400:
        assert body["code"] == call.status
    if call.message is not None:
        assert body["message"] == call.message
    if call.expect is not None:
        _matches(body, call.expect, base)
    return response


def run(
    http, openapi, base: str, calls: Iterable[Call | SetSubcloud | PutSiteApp | StartEngine]
) -> list[requests.Response]:
    """Make the calls in order (and the database changes between them); the engine, if
    the calls need it, must be running already."""
    responses = []
    for call in calls:
        if isinstance(call, Call):
            responses.append(exercise(http, openapi, base, call))
        elif isinstance(call, SetSubcloud):
            db_api.subcloud_update(db_api.subcloud_get(call.name).id, dict(call.values))
        elif isinstance(call, PutSiteApp):
            call.put()
    return responses


def check_error_body(error_validator, response: requests.Response, status: int) -> dict:
    """Check an answer the document cannot describe (no such operation) by its parts."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    assert re.fullmatch(r"req-[0-9a-f-]{36}", response.headers["x-openstack-request-id"])
    body = response.json()
    error_validator.validate(body)
    assert body["code"] == status
    return body


# The document itself.


def test_document_is_valid_openapi(document):
    validate_spec(document)
    assert document["openapi"].startswith("3.")
    # openapi-core accepts it too (it checks the document when loading it).
    assert OpenAPI.from_file_path(str(DOC_PATH)).spec is not None


# The fields of a response object that the API leaves out when they do not apply: all
# others are always present.
OPTIONAL_RESPONSE_FIELDS: dict[str, set[str]] = {
    "PrestageExtraArgs": {
        "apps",
        "max-failures",
        "failure-budget",
        "retry",
        "start-after",
        "no-new-steps-after",
    },
    "StepAttempt": {"failure"},
    "SubcloudList": {"next-changed-since"},
    "AppUpdateExtraArgs": {
        "require-prestaged",
        "max-failures",
        "failure-budget",
        "start-after",
        "no-new-steps-after",
    },
    "HelmChartOverrides": {"subcloud_overrides"},
}


def test_response_objects_forbid_undocumented_fields(document):
    """A field the API starts to return without documenting it must fail validation."""
    schemas = document["components"]["schemas"]
    for name in (
        "Error",
        "Link",
        "Version",
        "VersionList",
        "ResourceLinks",
        "Subcloud",
        "SubcloudList",
        "SubcloudGroup",
        "SubcloudGroupList",
        "Strategy",
        "PrestageExtraArgs",
        "PrestagedApp",
        "AppUpdateExtraArgs",
        "StrategyStep",
        "StepAttempt",
        "StepProgress",
        "StrategyStepList",
        "StrategySummary",
        "SiteApp",
        "SiteAppList",
        "SiteAppRelease",
        "SiteAppInactiveVersion",
        "HelmChartOverrides",
        "HelmUserOverrides",
        "HelmSubcloudOverrides",
    ):
        schema = schemas[name]
        optional = OPTIONAL_RESPONSE_FIELDS.get(name, set())
        assert schema.get("additionalProperties") is False, name
        assert optional <= set(schema["properties"]), name
        assert set(schema.get("required", [])) == set(schema["properties"]) - optional, name


# Real calls against the document.


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(operation, id=" ".join(operation), marks=known_bug(KNOWN_BUGS, *operation))
        for operation in SCENARIOS
    ],
)
def test_operation_matches_document(request, live_api, http, openapi, operation):
    calls = SCENARIOS[operation]
    assert operation in {call.operation for call in calls if isinstance(call, Call)}
    if ENGINE in calls:
        request.getfixturevalue("roles")
    run(http, openapi, live_api, calls)


def test_password_is_never_returned(document):
    """No response schema has a place for the password (and every call above checks that
    no response contains it)."""
    schemas = document["components"]["schemas"]
    for name in (
        "Strategy",
        "PrestageExtraArgs",
        "PrestagedApp",
        "AppUpdateExtraArgs",
        "StrategyStep",
        "StepAttempt",
        "StepProgress",
        "Subcloud",
    ):
        assert schemas[name]["additionalProperties"] is False, name
        assert not [key for key in schemas[name]["properties"] if "password" in key], name


@pytest.mark.parametrize(
    ("method", "template"),
    [
        pytest.param(*probe, id=" ".join(probe), marks=known_bug(KNOWN_BUGS, *probe))
        for probe in UNDOCUMENTED_METHOD_PROBES
    ],
)
def test_undocumented_method_answers_405(
    live_api, http, openapi, error_validator, method, template
):
    run(http, openapi, live_api, [new_subcloud("sc1")])
    path = template.format(**PROBE_PARAMS, group="Default")
    with pytest.raises(OperationNotFound):
        APICallPathFinder(openapi.spec).find(method.lower(), live_api + path)
    response = http.send(_prepare(live_api, method, path, None), timeout=30)
    body = check_error_body(error_validator, response, 405)
    assert body["message"] == f"Method {method} is not allowed on {path}"
    # Allow names exactly what the path serves.
    documented = {m for m, p in documented_operations(_load_document()) if p == template}
    allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
    assert documented == allowed


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_path_answers_404(live_api, http, openapi, error_validator, path):
    run(http, openapi, live_api, [new_subcloud("sc1")])
    with pytest.raises(PathNotFound):
        APICallPathFinder(openapi.spec).find("get", live_api + path)
    response = http.send(_prepare(live_api, "GET", path, None), timeout=30)
    body = check_error_body(error_validator, response, 404)
    assert body["message"] == f"The resource could not be found: {path}"


# Coverage of the document by the calls above.


def test_every_documented_operation_is_exercised_and_nothing_else(document):
    documented = documented_operations(document)
    assert documented, "the document has no operations"
    assert set(SCENARIOS) == documented
    assert EXERCISED - documented == set(), "calls the document does not describe"
    assert documented - EXERCISED == set(), "documented operations never called"


def test_every_documented_status_is_produced(document):
    documented = {
        (method.upper(), path, int(status))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for status in operation["responses"]
    }
    assert EXERCISED_STATUSES - documented == set(), "statuses the document does not list"
    missing = {
        entry
        for entry in documented - EXERCISED_STATUSES
        if entry[2] not in UNREACHABLE_STATUSES and entry not in UNREACHABLE_OPERATION_STATUSES
    }
    assert missing == set(), "documented statuses never produced"
    assert set(UNREACHABLE_OPERATION_STATUSES) <= documented


def test_every_path_is_probed_with_its_undocumented_methods(document):
    probed = set(UNDOCUMENTED_METHOD_PROBES)
    documented = documented_operations(document)
    assert probed.isdisjoint(documented)
    assert {path for _, path in probed} == set(document["paths"])
    shadowed = {
        (method, path)
        for path in document["paths"]
        for method in PROBED_METHODS
        if (method, path) not in documented and _shadowed(method, path, documented)
    }
    # The only shadowed ones: a subcloud's methods on /v1.0/subclouds/bulk.
    assert shadowed == {(m, f"{S}/bulk") for m in ("GET", "PATCH", "DELETE")}
    assert probed | shadowed | {op for op in documented if op[0] in PROBED_METHODS} == {
        (method, path) for path in document["paths"] for method in PROBED_METHODS
    }


# Requests that must not pick a resource by other means than the path.


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("PATCH", "", {"ref": "sc1", "description": "changed"}),
        ("DELETE", "", {"ref": "sc1"}),
        ("PATCH", "?ref=sc1", {"description": "changed"}),
        ("DELETE", "?ref=sc1", None),
    ],
    ids=["PATCH body ref", "DELETE body ref", "PATCH query ref", "DELETE query ref"],
)
def test_collection_ignores_a_ref_outside_the_path(
    live_api, http, openapi, error_validator, method, query, body
):
    run(http, openapi, live_api, [new_subcloud("sc1")])
    response = http.send(_prepare(live_api, method, S + query, body), timeout=30)
    check_error_body(error_validator, response, 405)
    run(
        http,
        openapi,
        live_api,
        [Call("GET", S1, {"subcloud": "sc1"}, expect={"description": None})],
    )


def test_non_utf8_body_is_malformed(live_api, http, openapi):
    exercise(
        http,
        openapi,
        live_api,
        bad("POST", S, Raw(b'{"name": "\xff"}'), "Request body is malformed."),
    )


@pytest.mark.parametrize(
    "field",
    [{"name": "sc1\n"}, {"name": "sc1", "software-version": "24.09\n"}],
    ids=["name", "software-version"],
)
def test_trailing_newline_is_refused(live_api, http, openapi, field):
    call = Call(
        "POST",
        S,
        body={"name": "sc1", "endpoint": "simulated://sc1", **field},
        status=400,
        # The document's patterns refuse it (ECMA-262 $), but the validator used here
        # runs them with Python's re, which has the same quirk as the API.
        doc_accepts=None,
    )
    exercise(http, openapi, live_api, call)


def test_a_group_name_is_either_refused_or_usable_as_reference(live_api, http, openapi):
    response = http.send(_prepare(live_api, "POST", G, {"name": "subclouds"}), timeout=30)
    if response.status_code == 400:
        return
    assert response.status_code == 200
    run(
        http,
        openapi,
        live_api,
        [
            Call("GET", G1, {"group": "subclouds"}, expect={"name": "subclouds"}),
            Call("DELETE", G1, {"group": "subclouds"}, expect={"name": "subclouds"}),
        ],
    )


@pytest.mark.parametrize(
    ("method", "template"),
    [
        pytest.param(method, template, marks=known_bug(KNOWN_ALLOW_BUGS, method, template))
        for method, template in [
            ("PUT", S),
            ("POST", S1),
            ("PATCH", GS),
            ("DELETE", G),
            ("POST", "/"),
            ("PUT", "/v1.0"),
            ("GET", SA),
            ("DELETE", SA),
            ("GET", SP),
            ("POST", SP),
            ("PUT", SP),
            ("PUT", ST),
            ("DELETE", SS),
            ("POST", SS1),
            ("OPTIONS", SP),
            ("POST", SAPPS),
            ("PUT", SAPP1),
        ]
    ],
)
def test_405_lists_the_allowed_methods(live_api, http, openapi, document, method, template):
    run(http, openapi, live_api, [new_subcloud("sc1")])
    path = template.format(**PROBE_PARAMS, group="1")
    response = http.send(_prepare(live_api, method, path, None), timeout=30)
    assert response.status_code == 405
    documented = {m for m, p in documented_operations(document) if p == template}
    allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
    assert documented <= allowed <= documented | {"HEAD", "OPTIONS"}
