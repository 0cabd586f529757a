"""The audit against a real agent (``dcmanager-all`` and a ``dcmanager-agent``
process): what the site really holds — its prestaged releases, its applications as
the ``render`` backend recorded them — is what the controller shows, and a site that
changed behind the controller's back is seen as such."""

import pathlib

import pytest

from tests import apps
from tests.e2e import site as e2e_site
from tests.functional.strategy_helpers import wait_for

pytest.importorskip("helm_python")


@pytest.fixture
def site(tmp_path, services):
    instance = e2e_site.Site(tmp_path, services, None)
    instance.start()
    yield instance
    instance.stop()


def _packages(root: pathlib.Path) -> pathlib.Path:
    (root / "Packages").mkdir(parents=True)
    (root / "Packages" / "stx-base.deb").write_bytes(b"deb " * 1000)
    return root


def _subcloud_when(site, name: str, predicate, what: str) -> dict:
    return wait_for(
        lambda: (sc := site.call("GET", f"/subclouds/{name}")) and predicate(sc) and sc,
        timeout=30,
        what=f"{name}: {what}",
    )


def test_the_audit_follows_a_release_the_site_lost(site, tmp_path):
    site.upload("25.09", _packages(tmp_path / "release"))
    (agent,) = site.add_agents(1)
    steps = site.prestage("25.09")
    assert steps[agent.name]["state"] == "complete", steps
    done = site.call("GET", f"/subclouds/{agent.name}")
    assert (done["prestage-status"], done["prestage-versions"]) == ("complete", "25.09")

    # The images phase's record goes: the release no longer counts as prestaged there.
    (agent.release_dir("25.09") / "images.json").unlink()
    lost = _subcloud_when(
        site, agent.name, lambda sc: sc["prestage-versions"] is None, "release seen gone"
    )

    assert lost["prestage-status"] is None
    assert lost["prestage-software-version"] == "25.09"


def test_the_audit_reports_applications_changed_behind_the_controllers_back(site, tmp_path):
    path = tmp_path / "demo-1.0.0.tgz"
    path.write_bytes(apps.app_tarball(version="1.0.0", charts=(("demo-api", "0.1.0"),)))
    site.cli("app", "upload", str(path))
    (agent,) = site.add_agents(1)
    site.call("POST", f"/subclouds/{agent.name}/apps/demo", {"action": "apply", "version": "1.0.0"})
    wait_for(
        lambda: site.call("GET", f"/subclouds/{agent.name}/apps/demo")["status"] == "applied",
        timeout=60,
        what="demo 1.0.0 to be applied",
    )
    _subcloud_when(site, agent.name, lambda sc: sc["app-sync-status"] == "in-sync", "in sync")

    # Someone uninstalls the release at the site, not through dcmanager.
    (agent.state / "apps" / "releases" / "demo" / "demo-api.json").unlink()
    drifted = _subcloud_when(
        site, agent.name, lambda sc: sc["app-sync-status"] == "out-of-sync", "out of sync"
    )

    assert drifted["app-sync-details"] == ["demo: 1.0.0 is applied here, not at the site"]
    # The controller's record is left as it was: the audit reports, operations move.
    app = site.call("GET", f"/subclouds/{agent.name}/apps/demo")
    assert (app["version"], app["status"]) == ("1.0.0", "applied")
