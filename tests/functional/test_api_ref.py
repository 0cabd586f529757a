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
"""

import dataclasses
import json
import pathlib
import re
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

DOC_PATH = pathlib.Path(__file__).resolve().parents[2] / "api-ref" / "openapi.yaml"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Methods sent to every documented path that does not list them; each must answer 405.
# (HEAD is left out: its answer has no body to check.)
PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# Above the default [oslo_middleware] max_request_body_size of 112 KiB.
OVERSIZED_PADDING = "x" * 200_000

S = "/v1.0/subclouds"
S1 = "/v1.0/subclouds/{subcloud}"
G = "/v1.0/subcloud-groups"
G1 = "/v1.0/subcloud-groups/{group}"
GS = "/v1.0/subcloud-groups/{group}/subclouds"


@dataclasses.dataclass(frozen=True)
class Raw:
    """A request body sent as these exact bytes (as JSON content)."""

    data: bytes


@dataclasses.dataclass
class Call:
    """One HTTP call and what must come of it.

    :ivar template: the document's path template this call exercises.
    :ivar params: values of the template's variables.
    :ivar body: JSON value to send, :class:`Raw` bytes, or None for no body.
    :ivar status: the expected status.
    :ivar message: the expected error message, if any.
    :ivar doc_accepts: whether the document accepts the request (True/False), or None
        when the request validator cannot decide it (see where it is used).
    :ivar expect: expected response body; dicts are matched partially (only the given
        keys), lists element by element, strings have ``{base}`` replaced by the base URL.
    :ivar accept: the request's Accept header.
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

    @property
    def operation(self) -> tuple[str, str]:
        return self.method, self.template


def new_subcloud(name: str, **fields: Any) -> Call:
    return Call(
        "POST",
        S,
        body={"name": name, "endpoint": f"simulated://{name}", **fields},
        expect={"name": name},
    )


def new_group(name: str, **fields: Any) -> Call:
    return Call("POST", G, body={"name": name, **fields}, expect={"name": name})


def not_acceptable(method: str, template: str, params: dict | None = None, body: Any = None):
    """The call made by a client that does not accept JSON: 406, before anything else."""
    return Call(
        method,
        template,
        params or {},
        body=body,
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
        not_acceptable("GET", S),
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
        Call("DELETE", S1, {"subcloud": "sc1"}, status=204),
        Call("DELETE", S1, {"subcloud": "2"}, status=204),
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
        Call("DELETE", G1, {"group": "east"}, status=204),
        Call("DELETE", G1, {"group": "3"}, status=204),
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
}

# What the scenarios exercise: (method, path template) and (method, template, status).
EXERCISED: frozenset[tuple[str, str]] = frozenset(
    call.operation for calls in SCENARIOS.values() for call in calls
)
EXERCISED_STATUSES: frozenset[tuple[str, str, int]] = frozenset(
    (*call.operation, call.status) for calls in SCENARIOS.values() for call in calls
)

# Documented statuses the scenarios cannot produce, and why.
UNREACHABLE_STATUSES: dict[int, str] = {
    401: "keystone mode only; live_api serves the API in noauth mode",
    403: "keystone mode only; in noauth mode every caller is an administrator",
    500: "only on an unexpected fault",
}
UNREACHABLE_OPERATION_STATUSES: dict[tuple[str, str, int], str] = {
    ("POST", S, 404): "only when the group is deleted while the subcloud is registered",
}

# Paths the API does not have; each must answer 404 with an error body.
UNKNOWN_PATHS = (
    "/nope",
    "/v2.0",
    "/v1.0/nope",
    "/v1.0/subclouds/sc1/nope",
    "/v1.0/subclouds/sc1/prestage/nope",
    "/v1.0/subcloud-groups/1/nope",
    "/v1.0/subcloud-groups/1/subclouds/sc1",
)


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


def _undocumented_method_probes() -> list[tuple[str, str]]:
    """(method, template) for each probed method a documented path does not list."""
    document = _load_document()
    documented = documented_operations(document)
    return [
        (method, path)
        for path in document["paths"]
        for method in PROBED_METHODS
        if (method, path) not in documented
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
    base: str, method: str, path: str, body: Any, accept: str = "application/json"
) -> requests.PreparedRequest:
    headers = {"Accept": accept}
    data = None
    if body is not None:
        data = body.data if isinstance(body, Raw) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return requests.Request(method, base + path, data=data, headers=headers).prepare()


def _matches(actual: Any, expected: Any, base: str, where: str = "body") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in expected.items():
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


def exercise(http: requests.Session, openapi: OpenAPI, base: str, call: Call) -> requests.Response:
    """Make ``call`` and check request and response against the document."""
    path = call.template.format(**call.params)
    prepared = _prepare(base, call.method, path, call.body, call.accept)
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
        f"{call.method} {path}: {response.status_code} {response.text[:500]}"
    )
    openapi.validate_response(request, RequestsOpenAPIResponse(response))

    if call.status == 204:
        assert response.content == b""
        return response
    body = response.json()
    if call.status >= 400:
        assert body["code"] == call.status
    if call.message is not None:
        assert body["message"] == call.message
    if call.expect is not None:
        _matches(body, call.expect, base)
    return response


def run(http, openapi, base: str, calls: Iterable[Call]) -> list[requests.Response]:
    return [exercise(http, openapi, base, call) for call in calls]


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
    ):
        schema = schemas[name]
        assert schema.get("additionalProperties") is False, name
        assert set(schema.get("required", [])) == set(schema["properties"]), name


# Real calls against the document.


@pytest.mark.parametrize("operation", list(SCENARIOS), ids=[f"{m} {p}" for m, p in SCENARIOS])
def test_operation_matches_document(live_api, http, openapi, operation):
    calls = SCENARIOS[operation]
    assert operation in {call.operation for call in calls}
    run(http, openapi, live_api, calls)


def test_timestamps_are_utc_and_track_updates(live_api, http, openapi):
    created, patched = run(
        http,
        openapi,
        live_api,
        [new_group("east"), Call("PATCH", G1, {"group": "east"}, body={"description": "d"})],
    )
    assert created.json()["updated-at"] is None
    assert created.json()["created-at"].endswith("+00:00")
    assert patched.json()["updated-at"].endswith("+00:00")
    assert patched.json()["updated-at"] >= patched.json()["created-at"]


@pytest.mark.parametrize(
    ("method", "template"),
    UNDOCUMENTED_METHOD_PROBES,
    ids=[" ".join(p) for p in UNDOCUMENTED_METHOD_PROBES],
)
def test_undocumented_method_answers_405(
    live_api, http, openapi, error_validator, method, template
):
    run(http, openapi, live_api, [new_subcloud("sc1")])
    path = template.format(subcloud="sc1", group="Default")
    with pytest.raises(OperationNotFound):
        APICallPathFinder(openapi.spec).find(method.lower(), live_api + path)
    response = http.send(_prepare(live_api, method, path, None), timeout=30)
    body = check_error_body(error_validator, response, 405)
    assert body["message"] == f"Method {method} is not allowed on {path}"


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
    assert probed | {op for op in documented if op[0] in PROBED_METHODS} == {
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
            Call("DELETE", G1, {"group": "subclouds"}, status=204),
        ],
    )


@pytest.mark.parametrize(
    ("method", "template"),
    [("PUT", S), ("POST", S1), ("PATCH", GS), ("DELETE", G), ("POST", "/"), ("PUT", "/v1.0")],
)
def test_405_lists_the_allowed_methods(live_api, http, openapi, document, method, template):
    run(http, openapi, live_api, [new_subcloud("sc1")])
    path = template.format(subcloud="sc1", group="1")
    response = http.send(_prepare(live_api, method, path, None), timeout=30)
    assert response.status_code == 405
    documented = {m for m, p in documented_operations(document) if p == template}
    allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
    assert documented <= allowed <= documented | {"HEAD", "OPTIONS"}
