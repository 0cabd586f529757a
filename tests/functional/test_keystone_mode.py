"""With auth_strategy = keystone the API refuses callers without a valid token.

Checks that need no Keystone server: auth_token rejects a request that carries no
token by itself. Token validation against a real Keystone is tested end to end.
"""

import pytest
import webtest

from dcmanager.api import app as api_app
from dcmanager.db import api as db_api


@pytest.fixture
def keystone_api(conf, db, tmp_path):
    config_file = tmp_path / "dcmanager.conf"
    # Nothing listens on this port: a request without a token is refused before
    # auth_token would ever talk to Keystone.
    config_file.write_text(
        "[DEFAULT]\nauth_strategy = keystone\n"
        "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:9/identity/v3\n"
    )
    conf(["--config-file", str(config_file)], project="dcmanager", default_config_files=[])
    return webtest.TestApp(api_app.setup_app(conf))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1.0/subclouds"),
        ("POST", "/v1.0/subclouds"),
        ("GET", "/v1.0/subcloud-groups/1"),
        ("DELETE", "/v1.0/subcloud-groups/1"),
        ("GET", "/v1.0/nowhere"),
    ],
)
def test_request_without_token_gets_json_401(keystone_api, method, path):
    response = keystone_api.request(path, method=method, expect_errors=True)

    assert response.status_int == 401
    assert response.content_type == "application/json"
    assert response.json["code"] == 401
    assert response.json["title"] == "Unauthorized"
    assert response.json["message"]


def test_version_list_needs_no_token(keystone_api):
    response = keystone_api.get("/")

    assert response.json["versions"][0]["id"] == "v1.0"


def test_nothing_changes_without_token(keystone_api):
    keystone_api.post_json(
        "/v1.0/subcloud-groups", {"name": "sneaky"}, expect_errors=True, status=401
    )

    assert [g.name for g in db_api.subcloud_group_get_all()] == ["Default"]
