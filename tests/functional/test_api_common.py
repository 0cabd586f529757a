"""Conventions every API call follows: versions and links, 404/405 for unknown paths
and methods, request bodies (empty, malformed, not an object, too large), the JSON
error shape, the request id header, and authentication in keystone mode."""

import datetime
import json
import re
from http import HTTPStatus

import pytest
import webtest
from keystonemiddleware import opts as keystone_opts

from dcmanager.api import app as api_app
from dcmanager.api import body
from dcmanager.common import exception
from dcmanager.db import api as db_api

REQUEST_ID_RE = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SUBCLOUD = {"name": "sc1", "endpoint": "simulated://sc1"}
# The smallest body limit the size tests run with; a valid request fits well inside.
BODY_LIMIT = 512


def assert_error(resp: webtest.TestResponse, status: int, message: str) -> None:
    """``resp`` is the JSON error ``{"code", "title", "message"}`` for ``status``."""
    assert resp.status_int == status, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json == {"code": status, "title": HTTPStatus(status).phrase, "message": message}
    assert REQUEST_ID_RE.match(resp.headers["x-openstack-request-id"])


def snapshot(api: webtest.TestApp) -> dict:
    """Everything a user can list, to compare before and after a rejected request."""
    groups = api.get("/v1.0/subcloud-groups").json
    return {
        "subclouds": api.get("/v1.0/subclouds").json,
        "groups": groups,
        "members": {
            group["id"]: api.get(f"/v1.0/subcloud-groups/{group['id']}/subclouds").json
            for group in groups["subcloud_groups"]
        },
    }


def request(api: webtest.TestApp, method: str, path: str, body: bytes = b"", **kwargs):
    return api.request(
        path,
        method=method,
        body=body,
        content_type="application/json",
        expect_errors=True,
        **kwargs,
    )


@pytest.fixture
def populated(api):
    """A group ``edge`` (id 2) holding managed ``sc1``; ``sc2`` in Default; an empty
    group ``spare``."""
    api.post_json("/v1.0/subcloud-groups", {"name": "edge"})
    api.post_json("/v1.0/subcloud-groups", {"name": "spare"})
    api.post_json("/v1.0/subclouds", {**SUBCLOUD, "group": "edge"})
    api.patch_json("/v1.0/subclouds/sc1", {"management-state": "managed"})
    api.post_json("/v1.0/subclouds", {"name": "sc2", "endpoint": "simulated://sc2"})
    return api


def _small_limit_app(conf) -> webtest.TestApp:
    body.register_opts(conf)
    conf.set_override("max_request_body_size", BODY_LIMIT, group="oslo_middleware")
    return webtest.TestApp(api_app.setup_app(conf))


@pytest.fixture
def small_api(db, conf):
    """The real app with ``[oslo_middleware] max_request_body_size`` = BODY_LIMIT."""
    return _small_limit_app(conf)


def _padded(body: dict, size: int) -> bytes:
    """``body`` as JSON of exactly ``size`` bytes, padded with an ignored key."""
    base = len(json.dumps({**body, "pad": ""}).encode())
    padded = json.dumps({**body, "pad": "x" * (size - base)}).encode()
    assert len(padded) == size
    return padded


class TestVersions:
    def test_root_lists_the_current_version(self, api):
        resp = api.get("/")

        assert resp.content_type == "application/json"
        [version] = resp.json["versions"]
        assert version == {
            "id": "v1.0",
            "status": "CURRENT",
            "updated": version["updated"],
            "links": [{"rel": "self", "href": "http://localhost/v1.0/"}],
        }
        datetime.date.fromisoformat(version["updated"])

    def test_self_link_follows_the_request_host_and_scheme(self, api):
        resp = api.get(
            "/", headers={"Host": "dc.example.com:8119"}, extra_environ={"wsgi.url_scheme": "https"}
        )

        [version] = resp.json["versions"]
        assert version["links"] == [{"rel": "self", "href": "https://dc.example.com:8119/v1.0/"}]

    def test_self_link_leads_to_the_version(self, api):
        href = api.get("/").json["versions"][0]["links"][0]["href"]

        resp = api.get(href.removeprefix("http://localhost"))

        assert resp.status_int == 200
        assert {link["rel"] for link in resp.json["links"]} == {
            "subclouds",
            "subcloud-groups",
            "sw-update-strategy",
            "releases",
            "helm_charts",
            "apps",
        }

    @pytest.mark.parametrize("path", ["/v1.0", "/v1.0/"])
    def test_v1_links_its_resources(self, api, path):
        resp = api.get(path)

        assert resp.content_type == "application/json"
        assert resp.json == {
            "links": [
                {"rel": "subclouds", "href": "http://localhost/v1.0/subclouds"},
                {"rel": "subcloud-groups", "href": "http://localhost/v1.0/subcloud-groups"},
                {"rel": "sw-update-strategy", "href": "http://localhost/v1.0/sw-update-strategy"},
                {"rel": "releases", "href": "http://localhost/v1.0/releases"},
                {"rel": "helm_charts", "href": "http://localhost/v1.0/helm_charts"},
                {"rel": "apps", "href": "http://localhost/v1.0/apps"},
            ]
        }

    @pytest.mark.parametrize(
        ("rel", "key"),
        [
            ("subclouds", "subclouds"),
            ("subcloud-groups", "subcloud_groups"),
            ("releases", "releases"),
            ("helm_charts", "charts"),
            ("apps", "apps"),
        ],
    )
    def test_each_v1_link_leads_to_its_collection(self, api, rel, key):
        links = {link["rel"]: link["href"] for link in api.get("/v1.0").json["links"]}

        resp = api.get(links[rel].removeprefix("http://localhost"))

        assert resp.status_int == 200
        assert list(resp.json) == [key]


class TestRequestId:
    @pytest.mark.parametrize(
        ("method", "path", "body", "status"),
        [
            ("GET", "/", b"", 200),
            ("GET", "/v1.0", b"", 200),
            ("GET", "/v1.0/subclouds", b"", 200),
            ("POST", "/v1.0/subcloud-groups", b'{"name": "g"}', 200),
            ("POST", "/v1.0/subcloud-groups", b"{", 400),
            ("GET", "/v1.0/subclouds/nope", b"", 404),
            ("GET", "/v1.0/nope", b"", 404),
            ("PUT", "/v1.0/subclouds", b"{}", 405),
            ("DELETE", "/v1.0/subcloud-groups/Default", b"", 400),
        ],
    )
    def test_every_response_carries_a_request_id(self, api, method, path, body, status):
        resp = request(api, method, path, body)

        assert resp.status_int == status
        assert REQUEST_ID_RE.match(resp.headers["x-openstack-request-id"])

    def test_each_request_gets_its_own_id(self, api):
        ids = {api.get("/v1.0/subclouds").headers["x-openstack-request-id"] for _ in range(3)}

        assert len(ids) == 3

    def test_oversized_body_rejected_by_middleware_carries_a_request_id(self, small_api):
        resp = request(small_api, "POST", "/v1.0/subcloud-groups", b"x" * (BODY_LIMIT + 1))

        assert_error(resp, 413, "Request is too large.")


class TestUnknownPaths:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/nope"),
            ("GET", "/v1"),
            ("GET", "/v2.0/subclouds"),
            ("GET", "/v1.0/nope"),
            ("GET", "/v1.0/subcloud"),
            ("GET", "/v1.0/subclouds/sc1/nope"),
            ("GET", "/v1.0/subclouds/sc1/nope/deeper"),
            ("GET", "/v1.0/subcloud-groups/edge/nope"),
            ("GET", "/v1.0/subcloud-groups/edge/subclouds/sc1"),
            ("POST", "/v1.0/nope"),
            ("POST", "/v1.0/subclouds/sc1/nope"),
            ("POST", "/v1.0/subcloud-groups/edge/nope"),
            ("PATCH", "/v1.0/subclouds/sc1/nope"),
            ("PATCH", "/v1.0/subcloud-groups/edge/nope"),
            ("DELETE", "/v1.0/subclouds/sc1/nope"),
            ("DELETE", "/v1.0/subcloud-groups/edge/nope"),
        ],
    )
    def test_unknown_path_is_404_and_changes_nothing(self, populated, method, path):
        before = snapshot(populated)

        resp = request(populated, method, path, b'{"management-state": "unmanaged"}')

        assert_error(resp, 404, f"The resource could not be found: {path}")
        assert snapshot(populated) == before


class TestWrongMethod:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/"),
            ("PUT", "/"),
            ("PATCH", "/"),
            ("DELETE", "/"),
            ("POST", "/v1.0"),
            ("PUT", "/v1.0"),
            ("DELETE", "/v1.0"),
            ("PUT", "/v1.0/subclouds"),
            ("PATCH", "/v1.0/subclouds"),
            ("DELETE", "/v1.0/subclouds"),
            ("PUT", "/v1.0/subclouds/sc1"),
            ("POST", "/v1.0/subclouds/sc1"),
            ("PUT", "/v1.0/subcloud-groups"),
            ("PATCH", "/v1.0/subcloud-groups"),
            ("DELETE", "/v1.0/subcloud-groups"),
            ("PUT", "/v1.0/subcloud-groups/edge"),
            ("POST", "/v1.0/subcloud-groups/edge"),
            ("POST", "/v1.0/subcloud-groups/edge/subclouds"),
            ("PUT", "/v1.0/subcloud-groups/edge/subclouds"),
            ("PATCH", "/v1.0/subcloud-groups/edge/subclouds"),
            ("DELETE", "/v1.0/subcloud-groups/edge/subclouds"),
            ("OPTIONS", "/v1.0/subclouds"),
        ],
    )
    def test_wrong_method_is_405_and_changes_nothing(self, populated, method, path):
        before = snapshot(populated)
        # A body that would change things if the request were routed to a handler.
        body = b'{"name": "sc9", "endpoint": "simulated://sc9", "management-state": "unmanaged"}'

        resp = request(populated, method, path, body)

        assert_error(resp, 405, f"Method {method} is not allowed on {path}")
        assert snapshot(populated) == before

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("DELETE", "/v1.0/subclouds?ref=sc2", b""),
            ("PATCH", "/v1.0/subclouds?ref=sc2", b'{"description": "changed"}'),
            ("PATCH", "/v1.0/subclouds", b'{"ref": "sc2", "description": "changed"}'),
            ("DELETE", "/v1.0/subcloud-groups?ref=spare", b""),
            ("PATCH", "/v1.0/subcloud-groups?ref=spare", b'{"description": "changed"}'),
            ("PATCH", "/v1.0/subcloud-groups", b'{"ref": "spare", "description": "changed"}'),
        ],
    )
    def test_a_ref_in_the_query_or_body_does_not_pick_an_item(self, populated, method, path, body):
        before = snapshot(populated)

        resp = request(populated, method, path, body)

        assert_error(resp, 405, f"Method {method} is not allowed on {path.partition('?')[0]}")
        assert snapshot(populated) == before


WRITES = [
    ("POST", "/v1.0/subclouds"),
    ("POST", "/v1.0/subcloud-groups"),
    ("PATCH", "/v1.0/subclouds/sc1"),
    ("PATCH", "/v1.0/subcloud-groups/edge"),
]


class TestRequestBodies:
    @pytest.mark.parametrize(("method", "path"), WRITES)
    @pytest.mark.parametrize("body", [b"", b"   ", b"\r\n\t "], ids=["empty", "spaces", "blank"])
    def test_empty_body_is_required(self, populated, method, path, body):
        before = snapshot(populated)

        resp = request(populated, method, path, body)

        assert_error(resp, 400, "Body required")
        assert snapshot(populated) == before

    @pytest.mark.parametrize(("method", "path"), WRITES)
    @pytest.mark.parametrize(
        "body",
        [
            b"{",
            b'{"name": "g"',
            b'{"name": "g",}',
            b"{'name': 'g'}",
            b"name=g&endpoint=simulated://g",
            b"not json",
            b"\xff\xfe\x00{",
            b'{"name": "caf\xe9"}',
            '{"name": "g", "endpoint": "simulated://g"}'.encode("utf-16"),
        ],
        ids=[
            "unclosed",
            "truncated",
            "trailing-comma",
            "single-quotes",
            "form",
            "text",
            "binary",
            "latin-1",
            "utf-16",
        ],
    )
    def test_malformed_body_is_rejected(self, populated, method, path, body):
        before = snapshot(populated)

        resp = request(populated, method, path, body)

        assert_error(resp, 400, "Request body is malformed.")
        assert snapshot(populated) == before

    @pytest.mark.parametrize(("method", "path"), WRITES)
    @pytest.mark.parametrize(
        "body",
        [b"[]", b'[{"name": "g", "endpoint": "simulated://g"}]', b"null", b"42", b'"g"', b"true"],
        ids=["empty-list", "list-of-object", "null", "number", "string", "bool"],
    )
    def test_body_that_is_not_an_object_is_rejected(self, populated, method, path, body):
        before = snapshot(populated)

        resp = request(populated, method, path, body)

        assert_error(resp, 400, "Request body is malformed.")
        assert snapshot(populated) == before

    def test_body_is_json_whatever_the_content_type_says(self, api):
        resp = api.post(
            "/v1.0/subcloud-groups", b'{"name": "g"}', content_type="text/plain; charset=utf-8"
        )

        assert resp.json["name"] == "g"


class TestOversizedBody:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", "/v1.0/subcloud-groups", {"name": "big"}),
            ("POST", "/v1.0/subclouds", {"name": "big", "endpoint": "simulated://big"}),
            ("PATCH", "/v1.0/subclouds/sc1", {"management-state": "unmanaged"}),
            ("PATCH", "/v1.0/subcloud-groups/edge", {"name": "renamed"}),
        ],
    )
    def test_body_over_the_limit_is_413_and_changes_nothing(
        self, conf, populated, method, path, body
    ):
        small_api = _small_limit_app(conf)
        before = snapshot(small_api)

        # Valid JSON that would succeed if the limit were not enforced.
        resp = request(small_api, method, path, _padded(body, BODY_LIMIT + 1))

        assert_error(resp, 413, "Request is too large.")
        assert snapshot(small_api) == before

    def test_body_of_exactly_the_limit_is_accepted(self, small_api):
        resp = request(
            small_api, "POST", "/v1.0/subcloud-groups", _padded({"name": "g"}, BODY_LIMIT)
        )

        assert resp.status_int == 200
        assert resp.json["name"] == "g"
        assert "pad" not in resp.json

    def test_413_is_our_json_even_when_the_client_accepts_json(self, small_api):
        resp = request(
            small_api,
            "POST",
            "/v1.0/subcloud-groups",
            _padded({"name": "g"}, BODY_LIMIT + 1),
            headers={"Accept": "application/json"},
        )

        assert_error(resp, 413, "Request is too large.")
        assert snapshot(small_api)["groups"]["subcloud_groups"][1:] == []

    def test_body_without_content_length_is_cut_at_the_limit(self, small_api):
        req = webtest.TestRequest.blank(
            "/v1.0/subcloud-groups",
            method="POST",
            body=_padded({"name": "g"}, BODY_LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )
        # A chunked request: the server only knows the size once it has read the body.
        del req.environ["CONTENT_LENGTH"]
        req.environ["wsgi.input_terminated"] = True

        resp = small_api.do_request(req, status="*", expect_errors=True)

        assert_error(resp, 413, "Request is too large.")
        assert snapshot(small_api)["groups"]["subcloud_groups"][1:] == []

    def test_the_default_limit_is_oslo_middlewares(self, api):
        resp = request(api, "POST", "/v1.0/subcloud-groups", _padded({"name": "g"}, 114688 + 1))

        assert_error(resp, 413, "Request is too large.")
        resp = request(api, "POST", "/v1.0/subcloud-groups", _padded({"name": "g"}, 114688))
        assert resp.status_int == 200


class TestErrorShape:
    @pytest.mark.parametrize(
        "accept",
        [
            None,
            "application/json",
            "*/*",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ],
        ids=["none", "json", "any", "browser"],
    )
    @pytest.mark.parametrize(
        ("method", "path", "body", "status", "message"),
        [
            ("GET", "/v1.0/nope", b"", 404, "The resource could not be found: /v1.0/nope"),
            ("PUT", "/v1.0/subclouds", b"{}", 405, "Method PUT is not allowed on /v1.0/subclouds"),
            ("POST", "/v1.0/subclouds", b"{", 400, "Request body is malformed."),
            ("GET", "/v1.0/subclouds/nope", b"", 404, "Subcloud not found"),
            ("DELETE", "/v1.0/subclouds/sc1", b"", 409, None),
            ("DELETE", "/v1.0/subcloud-groups/edge", b"", 409, "Subcloud Group not empty"),
        ],
    )
    def test_errors_are_json_whatever_the_client_accepts(
        self, populated, accept, method, path, body, status, message
    ):
        headers = {"Accept": accept} if accept else {}

        resp = request(populated, method, path, body, headers=headers)

        message = message or "Cannot delete subcloud sc1: it is managed. Unmanage it first."
        assert_error(resp, status, message)
        assert "<html" not in resp.text.lower()

    @pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/plain"])
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", "/v1.0/subclouds", b""),
            ("GET", "/v1.0/subclouds/sc2", b""),
            ("POST", "/v1.0/subcloud-groups", b'{"name": "g"}'),
            ("PATCH", "/v1.0/subclouds/sc2", b'{"description": "changed"}'),
            ("DELETE", "/v1.0/subclouds/sc2", b""),
        ],
    )
    def test_a_client_that_refuses_json_gets_a_json_406_and_changes_nothing(
        self, populated, accept, method, path, body
    ):
        before = snapshot(populated)

        resp = request(populated, method, path, body, headers={"Accept": accept})

        assert_error(resp, 406, "This API only responds with application/json")
        assert snapshot(populated) == before

    def test_unexpected_error_is_a_json_500_without_details(self, api, monkeypatch):
        def broken():
            raise RuntimeError("secret internals at /srv/dcmanager")

        monkeypatch.setattr(db_api, "subcloud_get_all", broken)

        resp = api.get("/v1.0/subclouds", expect_errors=True)

        assert_error(resp, 500, "Internal server error")
        assert "secret internals" not in resp.text
        assert "Traceback" not in resp.text

    def test_error_escaping_the_middleware_is_a_json_500_with_a_request_id(self, api, monkeypatch):
        def broken(self, method, path):
            raise RuntimeError("secret internals")

        monkeypatch.setattr(body.BodyGate, "_limit", broken)

        resp = api.get("/v1.0/subclouds", expect_errors=True)

        assert_error(resp, 500, "Internal server error")
        assert "secret internals" not in resp.text


class TestKeystoneAuth:
    KEYSTONE_URI = "http://keystone.invalid:5000"

    @pytest.fixture
    def keystone_api(self, db, conf):
        for group, opts in keystone_opts.list_auth_token_opts():
            conf.register_opts(opts, group=group)
        conf.set_override("auth_strategy", "keystone")
        conf.set_override("www_authenticate_uri", self.KEYSTONE_URI, group="keystone_authtoken")
        return webtest.TestApp(api_app.setup_app(conf))

    def test_keystone_without_its_uri_is_a_configuration_error(self, db, conf):
        conf.set_override("auth_strategy", "keystone")

        with pytest.raises(exception.ConfigInvalid, match="www_authenticate_uri"):
            api_app.setup_app(conf)

    def test_versions_need_no_token(self, keystone_api):
        resp = keystone_api.get("/")

        assert resp.json["versions"][0]["id"] == "v1.0"

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", "/v1.0", b""),
            ("GET", "/v1.0/subclouds", b""),
            ("GET", "/v1.0/subcloud-groups/1", b""),
            ("POST", "/v1.0/subclouds", b'{"name": "sc1", "endpoint": "simulated://sc1"}'),
            ("POST", "/v1.0/subcloud-groups", b'{"name": "g"}'),
            ("DELETE", "/v1.0/subcloud-groups/1", b""),
        ],
    )
    def test_no_token_is_401_json_and_changes_nothing(self, keystone_api, method, path, body):
        resp = request(keystone_api, method, path, body)

        assert_error(resp, 401, "The request you have made requires authentication.")
        assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{self.KEYSTONE_URI}"'
        assert db_api.subcloud_get_all() == []
        assert [g.name for g in db_api.subcloud_group_get_all()] == ["Default"]


class TestHostileInput:
    """Input built to break parsers gets a 4xx, never a 500."""

    @pytest.mark.parametrize(
        "path",
        [
            "/v1.0/subclouds/" + "9" * 5000,
            "/v1.0/subcloud-groups/" + "9" * 5000,
            "/v1.0/subcloud-groups/" + "9" * 5000 + "/subclouds",
            "/v1.0/subclouds/" + "9" * 19,
        ],
    )
    def test_huge_ids_are_not_found(self, api, path):
        response = api.get(path, expect_errors=True)

        assert response.status_int == 404
        assert response.json["code"] == 404

    @pytest.mark.parametrize("path", ["/v1.0/subclouds", "/v1.0/subcloud-groups"])
    def test_deeply_nested_json_is_malformed(self, api, path):
        body = "[" * 50_000 + "]" * 50_000  # under the 114 KiB body limit

        response = api.post(path, body, content_type="application/json", expect_errors=True)

        assert response.status_int == 400
        assert response.json["message"] == "Request body is malformed."

    @pytest.mark.parametrize("field", ["max_parallel_subclouds", "name", "description"])
    def test_monster_values_in_groups_are_refused(self, api, field):
        value = "9" * 5000 if field == "max_parallel_subclouds" else "\ud800"

        response = api.post_json(
            "/v1.0/subcloud-groups", {"name": "g", field: value}, expect_errors=True
        )

        assert response.status_int == 400
        assert [g["name"] for g in api.get("/v1.0/subcloud-groups").json["subcloud_groups"]] == [
            "Default"
        ]
