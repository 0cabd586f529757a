"""What an agent tells the audit about its site's applications (``GET /v1/info``
``applications``), from the ``render`` backend's real Helm release records."""

import os

import pytest

from dcmanager.agent import inventory
from dcmanager.agent import statedir
from dcmanager.agent.apps import ChartRelease
from dcmanager.agent.apps import PhaseFailed
from dcmanager.apps import package
from dcmanager.drivers import base as driver_base
from tests import apps
from tests.unit.test_agent import _call
from tests.unit.test_agent import agent  # noqa: F401 - fixtures
from tests.unit.test_agent import agent_conf_  # noqa: F401
from tests.unit.test_agent import app  # noqa: F401

pytest.importorskip("helm_python")


@pytest.fixture
def backend(agent_conf_):  # noqa: F811
    from dcmanager.agent.apps import render

    state = statedir.StateDir(agent_conf_.agent.state_dir)
    state.create()
    return render.RenderBackend(os.path.join(state.root, "apps"), state.blobs)


def _chart(version: str, template: bytes | None = None) -> ChartRelease:
    files = apps.chart_files("demo-api", version)
    if template is not None:
        files["templates/x.yaml"] = template
    entry = package.ChartEntry("demo-api", version, "demo-api", "demo", "charts/x.tgz")
    return ChartRelease("demo-api", "demo", entry, apps.packed(files, top="demo-api"), {})


def _applications(app) -> list[dict]:  # noqa: F811
    status, info = _call(app, "GET", "/v1/info")
    assert status == 200
    return info["applications"]


def test_a_site_without_applications_says_so(app):  # noqa: F811
    assert _applications(app) == []


def test_applied_failed_and_uploaded_versions(app, backend, agent_conf_):  # noqa: F811
    backend.install_or_upgrade(_chart("0.1.0"), [], "demo", "1.0.0", "op1")
    with pytest.raises(PhaseFailed):
        backend.install_or_upgrade(
            _chart("0.2.0", b'{{ fail "no" }}\n'), [], "demo", "1.1.0", "op2"
        )
    tarball = os.path.join(agent_conf_.agent.state_dir, "apps", "files", "other", "2.0.0.tgz")
    os.makedirs(os.path.dirname(tarball))
    open(tarball, "wb").close()

    found = _applications(app)

    release = {
        "release": "demo-api",
        "namespace": "demo",
        "chart": "demo-api",
        "chart_version": "0.1.0",
        "revision": 1,
    }
    assert found == [
        {"name": "demo", "version": "1.0.0", "status": "applied", "releases": [release]},
        {"name": "demo", "version": "1.1.0", "status": "apply-failed", "releases": []},
        {"name": "other", "version": "2.0.0", "status": "uploaded", "releases": []},
    ]
    # What the driver makes of it.
    info = driver_base.SystemInfo.from_dict({**_call(app, "GET", "/v1/info")[1]})
    assert info.applications[0] == driver_base.SiteApplication(
        "demo", "1.0.0", "applied", (release,)
    )


def test_a_rollback_runs_the_version_rolled_back_to(app, backend):  # noqa: F811
    backend.install_or_upgrade(_chart("0.1.0"), [], "demo", "1.0.0", "op1")
    backend.install_or_upgrade(_chart("0.2.0"), [], "demo", "2.0.0", "op2")
    backend.rollback("demo", "demo-api", 1, [], "op3")

    found = _applications(app)

    assert [(a["version"], a["status"]) for a in found] == [("1.0.0", "applied")]
    assert found[0]["releases"][0]["revision"] == 3


def test_an_uninstalled_release_leaves_its_version_uploaded_or_nothing(app, backend):  # noqa: F811
    backend.install_or_upgrade(_chart("0.1.0"), [], "demo", "1.0.0", "op1")
    backend.uninstall("demo", "demo-api", [])

    assert _applications(app) == []


def test_the_helm_backend_does_not_say(agent_conf_):  # noqa: F811
    agent_conf_.set_override("app_backend", "helm", group="agent")
    state = statedir.StateDir(agent_conf_.agent.state_dir)

    assert inventory.applications(agent_conf_, state) is None


def test_records_it_cannot_read_make_it_not_say(agent_conf_, backend):  # noqa: F811
    folder = os.path.join(agent_conf_.agent.state_dir, "apps", "releases", "demo")
    os.makedirs(folder)
    with open(os.path.join(folder, "demo-api.json"), "w") as out:
        out.write("{not json")

    assert (
        inventory.applications(agent_conf_, statedir.StateDir(agent_conf_.agent.state_dir)) is None
    )
