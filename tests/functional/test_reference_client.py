"""The HTTP exchanges StarlingX's own ``dcmanager`` client (distributedcloud-client)
makes, against the real API over HTTP: its URLs (trailing slashes included), its bodies
(multipart forms for subcloud updates, JSON elsewhere), the statuses it takes for
success (200 only) and the keys it reads from each answer.

The facts below are the client's, restated: which answer keys each of its objects is
built from, which of them its constructors require, and how it encodes requests.
"""

import base64
import json

import pytest
import requests

from tests.functional import strategy_helpers as sh

PASSWORD = base64.b64encode(b"Li69nux*").decode()
NETWORK = {
    "management-subnet": "192.168.101.0/24",
    "management-start-ip": "192.168.101.2",
    "management-end-ip": "192.168.101.50",
    "management-gateway-ip": "192.168.101.1",
    "systemcontroller-gateway-ip": "192.168.204.101",
}

# The answer keys its subcloud is built from; a missing one of the first set fails its
# constructor ("missing required positional arguments").
SUBCLOUD_REQUIRED = {
    "id",
    "name",
    "description",
    "location",
    "software-version",
    "management-state",
    "availability-status",
    "deploy-status",
    "management-subnet",
    "management-start-ip",
    "management-end-ip",
    "management-gateway-ip",
    "systemcontroller-gateway-ip",
    "created-at",
    "updated-at",
    "group_id",
}
SUBCLOUD_READ = SUBCLOUD_REQUIRED | {
    "peer_group_id",
    "rehome_data",
    "sync_status",
    "endpoint_sync_status",
    "backup-status",
    "backup-datetime",
    "error-description",
    "prestage-software-version",
    "prestage-status",
    "prestage-versions",
    "region-name",
}
# `subcloud show --detail` reads these besides.
DETAIL_READ = {"oam_floating_ip", "deploy_config_sync_status"}
STRATEGY_READ = {
    "type",
    "subcloud-apply-type",
    "max-parallel-subclouds",
    "stop-on-failure",
    "state",
    "created-at",
    "updated-at",
}
STEP_READ = {
    "cloud",
    "stage",
    "state",
    "details",
    "started-at",
    "finished-at",
    "created-at",
    "updated-at",
}
GROUP_READ = {
    "id",
    "name",
    "description",
    "update_apply_type",
    "max_parallel_subclouds",
    "created-at",
    "updated-at",
}


class ReferenceClient:
    """Requests as that client sends them: JSON bodies as a string, forms through a
    multipart encoder (one field per key, no file names), success only on 200."""

    def __init__(self, base_url: str) -> None:
        self.root = f"{base_url}/v1.0"
        self.http = requests.Session()
        self.http.headers["Content-Type"] = "application/json"

    def _ok(self, response: requests.Response) -> dict:
        assert response.status_code == 200, (response.request.url, response.text)
        return response.json()

    def get(self, url: str) -> dict:
        return self._ok(self.http.get(self.root + url, timeout=30))

    def post_json(self, url: str, data: dict) -> dict:
        return self._ok(self.http.post(self.root + url, data=json.dumps(data), timeout=30))

    def patch_json(self, url: str, data: dict) -> dict:
        return self._ok(self.http.patch(self.root + url, data=json.dumps(data), timeout=30))

    def patch_form(self, url: str, fields: dict[str, str]) -> dict:
        request = requests.Request(
            "PATCH", self.root + url, files={name: (None, value) for name, value in fields.items()}
        ).prepare()
        assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        return self._ok(self.http.send(request, timeout=30))

    def delete(self, url: str) -> dict:
        return self._ok(self.http.delete(self.root + url, timeout=30))


@pytest.fixture
def client(live_api, roles) -> ReferenceClient:
    return ReferenceClient(live_api)


def _a_subcloud(answer: dict) -> None:
    assert SUBCLOUD_READ <= answer.keys(), SUBCLOUD_READ - answer.keys()


def _add(live_api, name: str, **fields) -> None:
    """Registering is ours (StarlingX's add deploys a site), so it goes through our API."""
    body = {"name": name, "endpoint": f"simulated://{name}", **fields}
    response = requests.post(f"{live_api}/v1.0/subclouds", json=body, timeout=30)
    assert response.status_code == 200, response.text


def test_subcloud_commands(client, live_api):
    _add(live_api, "sc1", **NETWORK)

    # subcloud list / show / show --detail / errors
    listed = client.get("/subclouds/")["subclouds"]
    assert [sc["name"] for sc in listed] == ["sc1"]
    _a_subcloud(listed[0])
    assert {key: listed[0][key] for key in NETWORK} == NETWORK
    shown = client.get("/subclouds/sc1")
    _a_subcloud(shown)
    detail = client.get("/subclouds/sc1/detail")
    _a_subcloud(detail)
    assert DETAIL_READ <= detail.keys()
    assert detail["oam_floating_ip"] == "unavailable"

    # subcloud manage / update / unmanage: forms
    managed = client.patch_form("/subclouds/sc1", {"management-state": "managed"})
    _a_subcloud(managed)
    assert managed["management-state"] == "managed"
    updated = client.patch_form(
        "/subclouds/sc1", {"description": "store 42", "location": "Ottawa", "group_id": "Default"}
    )
    assert (updated["description"], updated["location"]) == ("store 42", "Ottawa")
    unmanaged = client.patch_form("/subclouds/sc1", {"management-state": "unmanaged"})
    assert unmanaged["management-state"] == "unmanaged"

    # subcloud delete: 200
    _a_subcloud(client.delete("/subclouds/sc1"))
    assert client.get("/subclouds/")["subclouds"] == []


def test_subcloud_prestage_reports_the_release(client, live_api, db):
    _add(live_api, "sc1")
    client.patch_form("/subclouds/sc1", {"management-state": "managed"})
    sh.wait_for(
        lambda: client.get("/subclouds/sc1")["availability-status"] == "online",
        what="the audit",
    )

    answer = client.patch_json(
        "/subclouds/sc1/prestage",
        {"sysadmin_password": PASSWORD, "force": False, "release": "25.09"},
    )

    _a_subcloud(answer)
    assert answer["prestage-status"] == "prestaging"
    assert answer["prestage-software-version"] == "25.09"
    sh.wait_for(
        lambda: client.get("/subclouds/sc1")["prestage-status"] == "complete",
        what="the prestage",
    )


def test_subcloud_group_commands(client):
    added = client.post_json(
        "/subcloud-groups/",
        {"name": "edge", "description": "east", "update_apply_type": "serial"},
    )
    assert GROUP_READ <= added.keys()
    assert [g["name"] for g in client.get("/subcloud-groups/")["subcloud_groups"]] == [
        "Default",
        "edge",
    ]
    assert client.get("/subcloud-groups/edge/subclouds") == {"subclouds": []}
    assert GROUP_READ <= client.delete("/subcloud-groups/edge").keys()


def test_prestage_strategy_and_strategy_step_commands(client, live_api):
    for name in ("sc1", "sc2"):
        _add(live_api, name)
        client.patch_form(f"/subclouds/{name}", {"management-state": "managed"})
    sh.wait_for(
        lambda: all(
            sc["availability-status"] == "online" for sc in client.get("/subclouds/")["subclouds"]
        ),
        what="the audit",
    )

    created = client.post_json(
        "/sw-update-strategy/",
        {
            "type": "prestage",
            "subcloud-apply-type": "parallel",
            "max-parallel-subclouds": "2",
            "stop-on-failure": "false",
            "sysadmin_password": PASSWORD,
        },
    )
    assert STRATEGY_READ <= created.keys()
    assert created["extra-args"]["prestage-software-version"] == "25.09"
    shown = client.get("/sw-update-strategy?type=prestage")
    assert STRATEGY_READ <= shown.keys()
    applied = client.post_json("/sw-update-strategy/actions?type=prestage", {"action": "apply"})
    assert applied["state"] == "applying"
    sh.wait_for(
        lambda: client.get("/sw-update-strategy?type=prestage")["state"] == "complete",
        what="the strategy",
    )
    steps = client.get("/sw-update-strategy/steps")["strategy-steps"]
    assert all(STEP_READ <= step.keys() for step in steps)
    assert STEP_READ <= client.get("/sw-update-strategy/steps/sc1").keys()
    deleted = client.delete("/sw-update-strategy?type=prestage")
    assert STRATEGY_READ <= deleted.keys()
