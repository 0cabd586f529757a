"""Applications on real agents with the ``render`` backend (seed 000 and 003): the
controller (``dcmanager-all``) and ``dcmanager-agent`` processes, real Helm rendering
each chart into the agent's state directory with Helm's release history.

An update to a version never applied renders it (an upgrade, one revision), an update
back to a version the site ran rolls back to its revisions, a failed update recovers
the old version, a removal runs the uninstall phase; the agent's files show it all.
"""

import hashlib
import json
import pathlib

import pytest

from tests import apps
from tests.e2e import site as e2e_site
from tests.functional.strategy_helpers import wait_for

pytest.importorskip("helm_python")

SETTLED = ("applied", "apply-failed", "uploaded", "upload-failed", "remove-failed")
PHASES = {
    "install": {"values": {"manifests": {"job_db_init": True}}},
    "uninstall": {"values": {"manifests": {"job_db_drop": True}}},
}
BROKEN = '{{ fail "this chart does not render" }}\n'


@pytest.fixture
def site(tmp_path, services):
    instance = e2e_site.Site(tmp_path, services, None)
    instance.start()
    yield instance
    instance.stop()


def _upload(site, tmp_path, version, charts=(("demo-api", "0.1.0"),), extra=None):
    path = tmp_path / f"demo-{version}.tgz"
    path.write_bytes(
        apps.app_tarball(version=version, charts=charts, metadata={"phases": PHASES}, extra=extra)
    )
    site.cli("app", "upload", str(path))


def _operate(site, agent, **body) -> dict:
    site.call("POST", f"/subclouds/{agent.name}/apps/demo", body)
    return _settled(site, agent)


def _settled(site, agent) -> dict:
    """The site's record of the application once its operation ended."""
    return wait_for(
        lambda: (
            (app := site.call("GET", f"/subclouds/{agent.name}/apps/demo"))["status"] in SETTLED
            and not app["operation"]
            and app
        ),
        timeout=60,
        what=f"the operation at {agent.name} to end",
    )


def _history(agent, release: str, namespace: str = "demo") -> list[tuple[int, str, str]]:
    path = agent.state / "apps" / "releases" / namespace / f"{release}.json"
    history = json.loads(path.read_text())["history"]
    return [(r["revision"], r["chart_version"], r["status"]) for r in history]


def _rendered(agent, release: str, revision: int, part: str = "manifest") -> set[str]:
    root = agent.state / "apps" / "manifests" / "demo" / release / str(revision) / part
    return {str(p.relative_to(root)) for p in root.rglob("*.yaml")}


def _deployment(agent, revision: int) -> str:
    root = agent.state / "apps" / "manifests" / "demo" / "demo-api" / str(revision)
    return (root / "manifest" / "demo-api" / "templates" / "deployment.yaml").read_text()


def test_apply_update_rollback_recover_remove_on_an_agent(site, tmp_path):
    _upload(site, tmp_path, "1.0.0")
    _upload(site, tmp_path, "1.1.0", charts=(("demo-api", "0.2.0"), ("demo-db", "0.1.0")))
    broken = apps.packed(
        {**apps.chart_files("demo-api", "0.3.0"), "templates/broken.yaml": BROKEN.encode()},
        top="demo-api",
    )
    _upload(site, tmp_path, "1.2.0", charts=(), extra={"charts/demo-api-0.3.0.tgz": broken})
    (agent,) = site.add_agents(1, extra="system_mode = duplex\n")

    app = _operate(site, agent, action="apply", version="1.0.0")
    assert (app["status"], app["releases"][0]["revision"]) == ("applied", 1), app
    assert (agent.state / "apps" / "files" / "demo" / "1.0.0.tgz").is_file()
    # The install phase selected the database job; what is deployed has no job.
    assert _rendered(agent, "demo-api", 1, "phases/install") == {
        "demo-api/templates/deployment.yaml",
        "demo-api/templates/job-db-init.yaml",
    }
    assert _rendered(agent, "demo-api", 1) == {
        "demo-api/templates/deployment.yaml",
        "demo-api/templates/job-db-init.yaml",
    }

    # Overrides belong to the application: set now, the update deploys them.
    site.call(
        "PATCH",
        "/helm_charts/demo-api?app=demo",
        {"flag": "reuse", "values": {"set": ["replicas=3"]}},
    )
    app = _operate(site, agent, action="update", version="1.1.0")
    assert (app["version"], app["status"]) == ("1.1.0", "applied"), app
    assert "replicas: 3" in _deployment(agent, 2)
    assert {e["release"]: e["revision"] for e in app["releases"]} == {"demo-api": 2, "demo-db": 1}
    assert _history(agent, "demo-api") == [(1, "0.1.0", "superseded"), (2, "0.2.0", "deployed")]
    assert not (agent.state / "apps" / "files" / "demo" / "1.0.0.tgz").exists()

    # Back to 1.0.0 (a duplex site): Helm's rollback, a new revision with the old chart.
    app = _operate(site, agent, action="update", version="1.0.0")
    assert (app["version"], app["status"]) == ("1.0.0", "applied"), app
    assert _history(agent, "demo-api")[-1] == (3, "0.1.0", "deployed")
    assert "replicas: 1" in _deployment(agent, 3)  # revision 1's values, as in Helm
    assert not (agent.state / "apps" / "releases" / "demo" / "demo-db.json").exists()

    # A version whose chart does not render: the update fails and 1.0.0 comes back.
    app = _operate(site, agent, action="update", version="1.2.0")
    assert (app["version"], app["status"]) == ("1.0.0", "applied"), app
    assert "this chart does not render" in app["progress"]
    assert "recovered to 1.0.0" in app["progress"]
    assert [h[2] for h in _history(agent, "demo-api")][-2:] == ["failed", "deployed"]

    app = _operate(site, agent, action="remove")
    assert (app["status"], app["releases"]) == ("uploaded", []), app
    assert not (agent.state / "apps" / "releases" / "demo" / "demo-api.json").exists()
    uninstalled = agent.state / "apps" / "uninstalled" / "demo" / "demo-api"
    (revision,) = [p.name for p in uninstalled.iterdir()]
    jobs = {p.name for p in (uninstalled / revision / "phases" / "uninstall").rglob("*.yaml")}
    assert jobs == {"deployment.yaml", "job-db-drop.yaml"}
    site.call("DELETE", f"/subclouds/{agent.name}/apps/demo")
    assert site.call("GET", f"/subclouds/{agent.name}/apps") == {"apps": []}
    assert pathlib.Path(agent.state / "apps" / "files").is_dir()


def test_failed_upload_cleanup_rollback_and_recovery_on_an_agent(site, tmp_path):
    """Seed 000's other failures on a real agent: an update whose tarball never
    arrives whole leaves the site as it was (recovered without Helm); a cleanup that
    fails leaves the new version applied with a note; a rollback that fails recovers
    the version updated from; an update that fails where the recovery fails too
    leaves the application apply-failed."""
    _upload(site, tmp_path, "1.0.0")
    _upload(site, tmp_path, "1.1.0", charts=(("demo-api", "0.2.0"),))
    broken = apps.packed(
        {**apps.chart_files("demo-api", "0.3.0"), "templates/broken.yaml": BROKEN.encode()},
        top="demo-api",
    )
    _upload(site, tmp_path, "1.2.0", charts=(), extra={"charts/demo-api-0.3.0.tgz": broken})
    (agent,) = site.add_agents(1, extra="max_attempts = 2\nsystem_mode = duplex\n")
    _operate(site, agent, action="apply", version="1.0.0")

    # Every copy of 1.1.0's tarball arrives corrupted.
    tarball = (tmp_path / "demo-1.1.0.tgz").read_bytes()
    digest = "sha256:" + hashlib.sha256(tarball).hexdigest()
    site.proxy.faults[f"/v1.0/blobs/{digest}"] = ["corrupt"] * 5
    app = _operate(site, agent, action="update", version="1.1.0")
    assert (app["version"], app["status"]) == ("1.0.0", "applied"), app
    assert app["progress"].startswith("update to 1.1.0 failed at upload: "), app
    assert app["progress"].endswith("; still 1.0.0"), app
    assert _history(agent, "demo-api") == [(1, "0.1.0", "deployed")]

    # The old version's file cannot be removed: the cleanup fails, 1.1.0 is applied.
    site.proxy.faults.clear()
    old_file = agent.state / "apps" / "files" / "demo" / "1.0.0.tgz"
    old_file.unlink()
    (old_file / "in-the-way").mkdir(parents=True)
    app = _operate(site, agent, action="update", version="1.1.0")
    assert (app["version"], app["status"]) == ("1.1.0", "applied"), app
    assert app["progress"].startswith("applied; cleanup of version 1.0.0 failed: "), app

    # Back to 1.0.0 is a rollback (duplex), but the chart its revision ran is gone
    # from the site: the rollback fails and 1.1.0 is recovered.
    history = json.loads(
        (agent.state / "apps" / "releases" / "demo" / "demo-api.json").read_text()
    )["history"]
    agent.blob(history[0]["chart_digest"]).unlink()
    app = _operate(site, agent, action="update", version="1.0.0")
    assert (app["version"], app["status"]) == ("1.1.0", "applied"), app
    assert app["progress"].startswith("update to 1.0.0 failed: "), app
    assert app["progress"].endswith("; recovered to 1.1.0"), app
    assert [entry["version"] for entry in app["inactive"]] == ["1.0.0"]

    # The chart the deployed revision ran is gone from the site: recovering fails too.
    history = json.loads(
        (agent.state / "apps" / "releases" / "demo" / "demo-api.json").read_text()
    )["history"]
    agent.blob(history[-1]["chart_digest"]).unlink()
    app = _operate(site, agent, action="update", version="1.2.0")
    assert (app["version"], app["status"]) == ("1.1.0", "apply-failed"), app
    assert "this chart does not render" in app["progress"]
    assert "recovery failed" in app["progress"]


# A template that keeps Helm busy for a while: an agent can be killed in the middle of
# rendering it.
SLOW = "{{- range until 5000000 }}{{- end }}\n"


def test_an_app_update_strategy_over_agents_survives_a_killed_agent(site, tmp_path):
    """An app-update strategy over 5 agents; one is killed while it applies the new
    version (its first release done, its second rendering) and started again: it runs
    its operation again, the step ends complete, and no release has a revision twice."""
    _upload(site, tmp_path, "1.0.0")
    slow_db = apps.packed(
        {**apps.chart_files("demo-db", "0.1.0"), "templates/slow.yaml": SLOW.encode()},
        top="demo-db",
    )
    _upload(
        site,
        tmp_path,
        "1.1.0",
        charts=(("demo-api", "0.2.0"),),
        extra={"charts/demo-db-0.1.0.tgz": slow_db},
    )
    agents = site.add_agents(5)
    for agent in agents:
        site.call(
            "POST", f"/subclouds/{agent.name}/apps/demo", {"action": "apply", "version": "1.0.0"}
        )
    for agent in agents:
        _settled(site, agent)
    victim = agents[0]
    site.call(
        "POST",
        "/sw-update-strategy",
        {"type": "app-update", "app": "demo", "max-parallel-subclouds": 5},
    )
    site.call("POST", "/sw-update-strategy/actions", {"action": "apply"})
    api_history = victim.state / "apps" / "releases" / "demo" / "demo-api.json"
    wait_for(
        lambda: api_history.exists() and len(_history(victim, "demo-api")) == 2,
        timeout=60,
        what="the victim's first release upgraded",
    )
    assert not (victim.state / "apps" / "releases" / "demo" / "demo-db.json").exists()

    victim.kill()
    victim.start()

    steps = site.wait_for_end(timeout=120)
    assert {name: step["state"] for name, step in steps.items()} == {
        agent.name: "complete" for agent in agents
    }, steps
    assert "Resuming operation" in victim.service.log
    for agent in agents:
        assert _history(agent, "demo-api") == [
            (1, "0.1.0", "superseded"),
            (2, "0.2.0", "deployed"),
        ], agent.name
        assert _history(agent, "demo-db") == [(1, "0.1.0", "deployed")], agent.name
        app = site.call("GET", f"/subclouds/{agent.name}/apps/demo")
        assert (app["version"], app["status"]) == ("1.1.0", "applied"), app
        assert {e["release"]: e["revision"] for e in app["releases"]} == {
            "demo-api": 2,
            "demo-db": 1,
        }
