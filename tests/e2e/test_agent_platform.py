"""Real agents whose facts come from their site's platform: a stand-in for StarlingX's
sysinv, fm and USM (which cannot run here) speaking their JSON on 127.0.0.1, reached
through explicit URLs or through a real Keystone's catalog with real tokens, before a
real system controller (``dcmanager-all``) that prestages."""

import base64
import os
import pathlib

import pytest
import requests

from tests import starlingx_standin
from tests.e2e import site as e2e_site
from tests.functional.strategy_helpers import wait_for
from tests.services import free_port

RELEASE = "25.09"
PRECHECK = "prestage-precheck: "
DUPLEX_REFUSAL = PRECHECK + "Prestage for install on a duplex subcloud needs controller-0 active."


def _platform(standin: starlingx_standin.StandIn) -> str:
    """``[platform]`` options: every service at the stand-in, without a token."""
    return (
        "[platform]\nsource = starlingx\n"
        f"sysinv_url = {standin.url}/v1\nfm_url = {standin.url}\nusm_url = {standin.url}\n"
    )


def _info(agent: e2e_site.Agent) -> dict:
    answer = requests.get(
        agent.url + "/v1/info", headers={"X-Auth-Token": e2e_site.AGENT_TOKEN}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _prestage_for_install(site: e2e_site.Site) -> dict:
    """A prestage strategy for install of the release, applied; its steps once it ended."""
    try:
        site.call("DELETE", "/sw-update-strategy")
    except e2e_site.APIError as exc:
        assert exc.status == 404, exc
    wait_for(site._no_strategy, what="the last strategy to be deleted")
    site.call(
        "POST",
        "/sw-update-strategy",
        {
            "type": "prestage",
            "release": RELEASE,
            "for_install": True,
            "sysadmin_password": base64.b64encode(e2e_site.PASSWORD.encode()).decode(),
            "max-parallel-subclouds": 10,
        },
    )
    site.call("POST", "/sw-update-strategy/actions", {"action": "apply"})
    return site.wait_for_end()


@pytest.fixture
def site(tmp_path, services):
    instance = e2e_site.Site(tmp_path, services, None)
    instance.start()
    packages = tmp_path / "packages"
    packages.mkdir()
    (packages / "p.deb").write_bytes(os.urandom(256 * 1024))
    instance.upload(RELEASE, packages)
    yield instance
    instance.stop()


def test_a_site_whose_inventory_says_duplex_is_refused_until_controller_0_is_active(site):
    duplex_site = starlingx_standin.Site(
        system_mode="duplex", active="controller-1", software_version="24.09"
    )
    registry = f"http://127.0.0.1:{free_port()}"  # nothing listens
    with (
        starlingx_standin.StandIn(duplex_site) as duplex_services,
        starlingx_standin.StandIn() as simplex_services,
    ):
        (duplex,) = site.add_agents(1, extra=_platform(duplex_services))
        (simplex,) = site.add_agents(1, extra=_platform(simplex_services))
        (no_registry,) = site.add_agents(
            1, extra=f"local_registry_url = {registry}\n" + _platform(simplex_services)
        )

        info = _info(duplex)
        assert (info["system_mode"], info["controller0_active"]) == ("duplex", False)
        assert (info["facts_source"], info["fallback_facts"]) == ("starlingx", [])
        assert info["health_problem"] is None
        # The audit records what the platform says.
        wait_for(
            lambda: site.call("GET", f"/subclouds/{duplex.name}")["software-version"] == "24.09",
            what="the audit to record the site's release",
        )

        steps = _prestage_for_install(site)

        assert steps[duplex.name]["state"] == "failed"
        assert steps[duplex.name]["details"] == DUPLEX_REFUSAL
        assert not list(duplex.software_dir.glob("*")) + list(duplex.platform_backup_dir.glob("*"))
        assert steps[simplex.name]["state"] == "complete", steps[simplex.name]["details"]
        assert steps[no_registry.name]["state"] == "failed"
        assert steps[no_registry.name]["details"] == (
            f"{PRECHECK}Subcloud health check failed: the site's registry {registry} is "
            "unreachable "
            "(ConnectionError)"
        )

        # After a swact to controller-0 the same site is prestaged: the precheck asked
        # the platform afresh.
        duplex_site.active = "controller-0"
        steps = _prestage_for_install(site)

        assert steps[duplex.name]["state"] == "complete", steps[duplex.name]["details"]
        assert "/v1/ihosts" in duplex_services.paths()


def _register(keystone, service_type: str, name: str, url: str) -> str:
    service = keystone.admin_call(
        "POST", "/services", {"service": {"type": service_type, "name": name}}
    )["service"]["id"]
    keystone.admin_call(
        "POST",
        "/endpoints",
        {
            "endpoint": {
                "service_id": service,
                "interface": "internal",
                "url": url,
                "region_id": "RegionOne",
            }
        },
    )
    return service


def _token_checker(keystone):
    """Validates a token with Keystone, as keystonemiddleware does for sysinv."""
    admin_token = keystone.token(keystone.admin)

    def valid(token: str) -> bool:
        answer = requests.get(
            f"{keystone.url}/auth/tokens",
            headers={"X-Auth-Token": admin_token, "X-Subject-Token": token},
            timeout=30,
        )
        return answer.status_code == 200

    return valid


def test_an_agent_finds_its_services_in_the_sites_keystone_catalog(
    tmp_path: pathlib.Path, site, keystone
):
    services = keystone.service
    credentials = (
        "[platform]\nsource = starlingx\nauth_type = password\n"
        f"auth_url = {keystone.url}\nusername = {services.name}\n"
        f"project_name = {services.project}\nuser_domain_name = Default\n"
        "project_domain_name = Default\nregion_name = RegionOne\n"
    )
    site_state = starlingx_standin.Site(system_mode="duplex", active="controller-1")
    with starlingx_standin.StandIn(site_state, token_valid=_token_checker(keystone)) as standin:
        registered = [
            # As StarlingX registers them: sysinv's URL with its /v1.
            _register(keystone, "platform", "sysinv", f"{standin.url}/v1"),
            _register(keystone, "faultmanagement", "fm", standin.url),
            _register(keystone, "usm", "usm", standin.url),
        ]
        try:
            (agent,) = site.add_agents(1, extra=credentials + f"password = {services.password}\n")
            (refused,) = site.add_agents(1, extra=credentials + "password = not-the-password\n")

            info = _info(agent)
            assert (info["system_mode"], info["controller0_active"]) == ("duplex", False)
            assert info["fallback_facts"] == []
            assert info["health_problem"] is None
            # Every service was asked with a token Keystone vouched for.
            tokens = {token for path, _, token in standin.requests if path.startswith("/v1/")}
            assert tokens and None not in tokens

            info = _info(refused)
            assert sorted(info["fallback_facts"]) == sorted(
                [
                    "system_mode",
                    "controller0_active",
                    "management_alarms",
                    "deploy_status",
                    "software_version",
                ]
            )
            assert (
                "Keystone answered 401 (check the [platform] credentials)"
                in (info["health_problem"])
            )
            assert "not-the-password" not in refused.service.log

            steps = _prestage_for_install(site)

            assert steps[agent.name]["details"] == DUPLEX_REFUSAL
            assert steps[refused.name]["details"].startswith(
                f"{PRECHECK}Subcloud health check failed"
            )
        finally:
            for service in registered:
                keystone.admin_call("DELETE", f"/services/{service}")
