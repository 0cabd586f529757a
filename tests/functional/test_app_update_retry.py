"""An app-update strategy's retry policy, through the real API and engine with
simulated subclouds: a failed update that recovered the site's version is begun again
at the site; a failed recovery is never retried."""

import pytest

from tests.functional import strategy_helpers as sh
from tests.functional import test_site_apps as site_apps


@pytest.fixture
def fleet(api, roles):
    """sc1 and sc2 at demo 1.0.0; 2.0.0 in the catalog."""
    site_apps.upload(api, "1.0.0")
    site_apps.upload(api, "2.0.0")
    sh.add_subclouds(api, ["sc1", "sc2"])
    for name in ("sc1", "sc2"):
        site_apps.operate(api, name, action="apply", version="1.0.0")
    for name in ("sc1", "sc2"):
        site_apps.settled(api, name)
    return api


def _create(api, retry: dict) -> dict:
    body = {"type": "app-update", "app": "demo", "retry": retry}
    return api.post_json(sh.STRATEGY, body).json


def test_an_update_that_recovered_is_begun_again_and_completes(fleet):
    sh.set_options(fleet, "sc2", "fail=app-apply")
    # Time enough to mend the site before attempt 2, on a loaded machine too.
    created = _create(fleet, {"attempts": 3, "initial-interval": 3})
    assert created["extra-args"]["retry"]["attempts"] == 3
    sh.apply(fleet)

    waiting = sh.wait_step(
        fleet, "sc2", lambda s: s["state"] == "initial" and s["attempt"] == 2, "wait to retry"
    )
    # The first attempt left the site at its version; the site is mended meanwhile.
    assert site_apps.settled(fleet, "sc2")["version"] == "1.0.0"
    sh.set_options(fleet, "sc2")

    assert waiting["retry-at"] is not None
    assert sh.wait_final(fleet)["state"] == "complete"
    step = sh.steps(fleet)["sc2"]
    assert (step["state"], step["attempt"]) == ("complete", 2)
    [first] = step["history"]
    assert first["failure"] == "operation"
    assert first["details"].startswith("app-recovering: simulated failure of the app-apply")
    assert site_apps.settled(fleet, "sc2")["version"] == "2.0.0"
    assert sh.steps(fleet)["sc1"]["attempt"] == 1


def test_a_failed_recovery_is_never_retried(fleet):
    sh.set_options(fleet, "sc2", "fail=app-apply,app-recover")
    _create(fleet, {"attempts": 5, "initial-interval": 0, "never": []})
    sh.apply(fleet)

    assert sh.wait_final(fleet)["state"] == "failed"
    step = sh.steps(fleet)["sc2"]
    assert (step["state"], step["attempt"], step["history"]) == ("failed", 1, [])
    assert "recovery failed" in step["details"]
    assert sh.steps(fleet)["sc1"]["state"] == "complete"


def test_a_precheck_failure_is_retried_by_its_phase_policy(fleet):
    sh.set_options(fleet, "sc2", "fail=precheck")
    _create(
        fleet,
        {
            "attempts": 1,
            "initial-interval": 0,
            "phases": {"app-update-precheck": {"attempts": 2}},
        },
    )
    sh.apply(fleet)

    assert sh.wait_final(fleet)["state"] == "failed"
    step = sh.steps(fleet)["sc2"]
    assert step["attempt"] == 2
    assert [entry["failure"] for entry in step["history"]] == ["health"]
    assert step["details"].startswith("app-update-precheck: Subcloud health check failed")
    # Both attempts left the site at its version.
    assert site_apps.settled(fleet, "sc2")["version"] == "1.0.0"


def test_an_app_update_policy_names_its_own_phases(fleet):
    body = {"type": "app-update", "app": "demo", "retry": {"phases": {"prestaging-images": {}}}}

    refused = fleet.post_json(sh.STRATEGY, body, status=400).json

    assert "Invalid retry phases" in refused["message"]
    assert "app-update-precheck" in refused["message"]
    assert fleet.get(sh.STRATEGY, status=404)
