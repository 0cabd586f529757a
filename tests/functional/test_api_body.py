"""Request bodies at the edge: read only after the policy check, within the route's
limit, as JSON or (where StarlingX's client sends it) multipart/form-data."""

import base64
import http.client
import json
import pathlib
import urllib.parse

import pytest
import yaml

from dcmanager.common import policy
from dcmanager.db import api as db_api
from tests.functional import strategy_helpers as sh

DOC_PATH = pathlib.Path(__file__).resolve().parents[2] / "api-ref" / "openapi.yaml"
PASSWORD = base64.b64encode(b"Li69nux*").decode()
DIGEST = "sha256:" + "ab" * 32
GIGABYTE = 1024**3


def _multipart(fields: dict[str, str], boundary: str = "b0undary") -> tuple[bytes, str]:
    """A form as the reference client's encoder writes it: one part per field."""
    lines = []
    for name, value in fields.items():
        lines += [
            f"--{boundary}",
            f'Content-Disposition: form-data; name="{name}"',
            "",
            value,
        ]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode(), f"multipart/form-data; boundary={boundary}"


def _write_paths() -> list[tuple[str, str]]:
    """Every documented operation that takes a body, with its parameters filled in."""
    document = yaml.safe_load(DOC_PATH.read_text())
    values = {
        "subcloud": "sc1",
        "group": "1",
        "version": "25.09",
        "digest": DIGEST,
        "cloud_name": "sc1",
        "name": "rabbitmq",
    }
    found = []
    for path, operations in document["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch", "delete"):
                found.append((method.upper(), path.format(**values)))
    return found


def _send(api, path: str, body: bytes, content_type: str, **kwargs):
    """A PATCH with this body as it is (webtest would encode a form itself)."""
    return api.request(path, method="PATCH", body=body, content_type=content_type, **kwargs)


@pytest.fixture
def sc1(api):
    api.post_json("/v1.0/subclouds", {"name": "sc1", "endpoint": "simulated://sc1"})
    return api


class TestMultipartForms:
    def test_manage_and_update_as_the_reference_client_sends_them(self, sc1):
        form, content_type = _multipart({"management-state": "managed", "description": "edge"})

        answer = _send(sc1, "/v1.0/subclouds/sc1", form, content_type)

        assert answer.json["management-state"] == "managed"
        assert answer.json["description"] == "edge"

    def test_a_form_gets_the_same_errors_as_json(self, sc1):
        form, content_type = _multipart({"management-state": "sideways"})

        from_form = _send(sc1, "/v1.0/subclouds/sc1", form, content_type, expect_errors=True)
        from_json = sc1.patch_json(
            "/v1.0/subclouds/sc1", {"management-state": "sideways"}, expect_errors=True
        )

        assert from_form.status_int == from_json.status_int == 400
        assert from_form.json["message"] == from_json.json["message"]

    def test_standalone_prestage_as_a_form(self, api, roles):
        sh.add_subclouds(api, ["sc1"], "delay=0")
        form, content_type = _multipart({"sysadmin_password": PASSWORD, "force": "true"})

        answer = _send(api, "/v1.0/subclouds/sc1/prestage", form, content_type)

        assert answer.json["prestage-status"] == "prestaging"
        sh.wait_for(
            lambda: api.get("/v1.0/subclouds/sc1").json["prestage-status"] == "complete",
            what="the standalone prestage",
        )

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"--b0undary\r\nno headers", "Invalid multipart/form-data body"),
            (b"", "Body required"),
            (b"--b0undary--\r\n", "Body required"),
        ],
    )
    def test_broken_forms_are_400(self, sc1, body, message):
        answer = _send(
            sc1,
            "/v1.0/subclouds/sc1",
            body,
            "multipart/form-data; boundary=b0undary",
            expect_errors=True,
        )

        assert answer.status_int == 400
        assert message in answer.json["message"]
        assert db_api.subcloud_get("sc1").management_state == "unmanaged"

    @pytest.mark.parametrize(("method", "path"), _write_paths())
    def test_a_form_without_a_boundary_is_never_a_500(self, sc1, method, path):
        answer = sc1.request(
            path,
            method=method,
            body=b"field=value",
            content_type="multipart/form-data",
            expect_errors=True,
        )

        assert answer.status_int < 500, answer.text


@pytest.fixture
def denying_policy(conf, tmp_path):
    """Every write rule refused, even to the administrator of noauth mode."""
    rules = {
        f"dc_api:{name}:{action}": "!"
        for name, action in [
            ("blobs", "upload"),
            ("subclouds", "create"),
            ("sw_update_strategy", "apply"),
            ("sw_update_strategy", "pause"),
            ("sw_update_strategy", "resume"),
            ("sw_update_strategy", "abort"),
            ("sw_update_strategy", "retry-failed"),
        ]
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(rules))
    conf.set_override("policy_file", str(path), group="oslo_policy")
    policy.reset()
    yield
    conf.clear_override("policy_file", group="oslo_policy")
    policy.reset()


def _headers_only(base_url: str, method: str, path: str, headers: dict[str, str]):
    """Send a request's headers and no body byte; the answer, read at once."""
    url = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest(method, path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class TestAuthorisedBeforeRead:
    @pytest.mark.parametrize(
        ("method", "path", "content_type"),
        [
            ("PUT", f"/v1.0/blobs/{DIGEST}", "application/json"),
            ("PUT", f"/v1.0/blobs/{DIGEST}", "application/octet-stream"),
            ("POST", "/v1.0/subclouds", "application/json"),
        ],
    )
    def test_a_refused_caller_gets_403_before_a_byte_is_read(
        self, denying_policy, live_api, method, path, content_type
    ):
        # The server waits for no body: were it reading, the answer would not come.
        status, answer = _headers_only(
            live_api,
            method,
            path,
            {"Content-Type": content_type, "Content-Length": str(GIGABYTE)}
            if method == "PUT"
            else {"Content-Type": content_type, "Content-Length": "100"},
        )

        assert status == 403
        assert "Policy doesn't allow" in answer["message"]

    def test_an_unknown_action_from_a_caller_who_may_not_act_is_403(self, denying_policy, api):
        answer = api.post_json(
            "/v1.0/sw-update-strategy/actions", {"action": "explode"}, expect_errors=True
        )

        assert answer.status_int == 403

    def test_an_unknown_action_from_an_admin_is_400(self, api):
        answer = api.post_json(
            "/v1.0/sw-update-strategy/actions", {"action": "explode"}, expect_errors=True
        )

        assert answer.status_int == 400
        assert answer.json["message"] == (
            "Invalid action 'explode': must be one of apply, pause, resume, abort, retry-failed"
        )


class TestLimits:
    def test_a_declared_length_over_the_limit_is_413_before_reading(self, live_api):
        status, answer = _headers_only(
            live_api,
            "POST",
            "/v1.0/subclouds",
            {"Content-Type": "application/json", "Content-Length": str(GIGABYTE)},
        )

        assert status == 413
        assert answer["message"] == "Request is too large."

    def test_a_blob_with_another_type_is_refused_and_streamed_nowhere(self, api):
        answer = api.put(
            f"/v1.0/blobs/{DIGEST}",
            b'{"not": "a blob"}',
            content_type="application/json",
            expect_errors=True,
        )

        assert answer.status_int == 400
        assert answer.json["message"] == "A blob is sent as application/octet-stream"

    def test_a_bad_content_length_is_400(self, live_api):
        status, answer = _headers_only(
            live_api,
            "POST",
            "/v1.0/subclouds",
            {"Content-Type": "application/json", "Content-Length": "12abc"},
        )

        assert status == 400
        assert answer["message"] == "Invalid Content-Length '12abc'"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": []}, "type invalid"),
        ({"type": {}}, "type invalid"),
        ({"type": "prestage", "subcloud-apply-type": []}, "subcloud-apply-type invalid"),
        ({"type": "prestage", "subcloud-apply-type": {"a": 1}}, "subcloud-apply-type invalid"),
        ({"type": ["prestage"], "sysadmin_password": PASSWORD}, "type invalid"),
    ],
)
def test_a_list_or_a_map_where_a_choice_is_expected_is_400(api, body, message):
    answer = api.post_json("/v1.0/sw-update-strategy", body, expect_errors=True)

    assert answer.status_int == 400
    assert answer.json["message"] == message


def test_an_action_that_is_a_list_is_400(api):
    answer = api.post_json(
        "/v1.0/sw-update-strategy/actions", {"action": ["apply"]}, expect_errors=True
    )

    assert answer.status_int == 400
    assert answer.json["message"].startswith("Invalid action")
