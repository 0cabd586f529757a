"""The agent's application parts without a controller: what a request must be, the
``render`` backend's release semantics with real Helm, and the ``helm`` backend
refusing an unreachable cluster (no Kubernetes runs here)."""

import json

import pytest

from dcmanager.agent.apps import ChartRelease
from dcmanager.agent.apps import PhaseFailed
from dcmanager.agent.apps import releases
from dcmanager.apps import package
from dcmanager.releases import store
from tests import apps
from tests.services import free_port
from tests.unit.test_agent import REPOSITORY
from tests.unit.test_agent import _call
from tests.unit.test_agent import agent  # noqa: F401 - fixtures
from tests.unit.test_agent import agent_conf_  # noqa: F401
from tests.unit.test_agent import app  # noqa: F401

helm_python = pytest.importorskip("helm_python")

DIGEST = "sha256:" + "a" * 64
REQUEST = {
    "app": "demo",
    "version": "1.0.0",
    "digest": DIGEST,
    "releases": [{"release": "demo-api", "namespace": "demo", "revision": 0}],
    "values": {},
    "phases": ["install"],
    "phase_values": {},
    "uninstall": [],
    "old_version": None,
}
GOOD = {"id": "7:app-apply", "kind": "app-apply", "repository_url": REPOSITORY, "app": REQUEST}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"app": None}, "'app' must be an object"),
        ({"app": {**REQUEST, "app": "../x"}}, "'app.app' must be an application name"),
        ({"app": {**REQUEST, "version": "1/0"}}, "'app.version' must be an application version"),
        ({"app": {**REQUEST, "digest": "md5:x"}}, "'app.digest' must be a sha256 digest"),
        ({"app": {**REQUEST, "phases": ["deploy"]}}, "'app.phases' must be a list of install"),
        ({"app": {**REQUEST, "values": []}}, "'app.values' must map names to objects"),
        (
            {"app": {**REQUEST, "releases": [{"release": "a/b", "namespace": "demo"}]}},
            "'app.releases' entries need a release and namespace",
        ),
        (
            {"app": {**REQUEST, "uninstall": ["demo-api"]}},
            "'app.uninstall' must be a list of {release, namespace}",
        ),
        ({"repository_url": "ftp://x"}, "'repository_url' must be an http(s) URL"),
    ],
)
def test_malformed_app_operations_get_400_naming_the_field(app, agent, change, message):  # noqa: F811
    status, body = _call(app, "POST", "/v1/operations", {**GOOD, **change})
    assert status == 400
    assert message in body["error"]
    assert agent.get(GOOD["id"]) is None


def test_a_version_with_build_metadata_is_taken(app, agent):  # noqa: F811
    body = {**GOOD, "id": "8:app-apply", "app": {**REQUEST, "version": "1.2.3+build.5"}}
    status, started = _call(app, "POST", "/v1/operations", body)
    assert status in (200, 201), started
    assert started["release"] == "demo"


def test_an_app_operation_needs_no_sysadmin_password(app, agent):  # noqa: F811
    status, body = _call(app, "POST", "/v1/operations", GOOD)
    assert status in (200, 201), body
    assert (body["id"], body["kind"]) == ("7:app-apply", "app-apply")


def _chart(tmp_path, version: str, jobs=("job-db-init", "job-db-drop"), values=None):
    archive = apps.packaged_chart("demo-api", version, jobs)
    entry = package.ChartEntry("demo-api", version, "demo-api", "demo", "charts/x.tgz")
    return ChartRelease("demo-api", "demo", entry, archive, values or {})


@pytest.fixture
def backend(tmp_path):
    from dcmanager.agent.apps import render

    return render.RenderBackend(str(tmp_path / "apps"), store.BlobStore(str(tmp_path / "blobs")))


def _files(tmp_path, revision: int, part: str) -> set[str]:
    root = tmp_path / "apps" / "manifests" / "demo" / "demo-api" / str(revision) / part
    return {str(p.relative_to(root)) for p in root.rglob("*.yaml")}


def test_each_phase_renders_what_its_overlay_selects(backend, tmp_path):
    phases = [
        ("install", {"manifests": {"job_db_init": True}}),
        ("test", {}),
    ]
    assert backend.install_or_upgrade(_chart(tmp_path, "0.1.0"), phases, "demo", "1.0.0", "op") == 1
    assert _files(tmp_path, 1, "phases/install") == {
        "demo-api/templates/deployment.yaml",
        "demo-api/templates/job-db-init.yaml",
    }
    # The last phase is what is deployed: no job.
    assert _files(tmp_path, 1, "phases/test") == {"demo-api/templates/deployment.yaml"}
    assert _files(tmp_path, 1, "manifest") == {"demo-api/templates/deployment.yaml"}

    backend.uninstall("demo", "demo-api", [("uninstall", {"manifests": {"job_db_drop": True}})])
    uninstalled = tmp_path / "apps" / "uninstalled" / "demo" / "demo-api" / "1"
    assert {p.name for p in uninstalled.rglob("*.yaml")} == {"deployment.yaml", "job-db-drop.yaml"}
    assert backend.revision("demo", "demo-api") == 0


def test_helm_release_semantics_upgrade_rollback_failure(backend, tmp_path):
    user = {"replicas": 3}
    backend.install_or_upgrade(_chart(tmp_path, "0.1.0", values=user), [], "demo", "1.0.0", "op1")
    backend.install_or_upgrade(_chart(tmp_path, "0.2.0"), [], "demo", "1.1.0", "op2")
    assert backend.rollback("demo", "demo-api", 1, [], "op3") == 3
    manifest = (
        tmp_path / "apps/manifests/demo/demo-api/3/manifest/demo-api/templates/deployment.yaml"
    ).read_text()
    assert "replicas: 3" in manifest  # the values of revision 1, as Helm's rollback
    broken = _chart(tmp_path, "0.3.0")
    broken = ChartRelease(
        broken.release,
        broken.namespace,
        broken.entry,
        apps.packed(
            {
                **apps.chart_files("demo-api", "0.3.0"),
                "templates/x.yaml": b'{{ fail "no" }}\n',
            },
            top="demo-api",
        ),
        {},
    )
    with pytest.raises(PhaseFailed, match="the upgrade phase failed: .*no"):
        backend.install_or_upgrade(broken, [("upgrade", {})], "demo", "1.2.0", "op4")
    history = json.loads((tmp_path / "apps/releases/demo/demo-api.json").read_text())["history"]
    assert [(r["revision"], r["chart_version"], r["status"]) for r in history] == [
        (1, "0.1.0", releases.SUPERSEDED),
        (2, "0.2.0", releases.SUPERSEDED),
        (3, "0.1.0", releases.DEPLOYED),
        (4, "0.3.0", releases.FAILED),
    ]
    assert backend.revision("demo", "demo-api") == 3
    with pytest.raises(PhaseFailed, match="has no revision 4 to roll back to"):
        backend.rollback("demo", "demo-api", 4, [], "op5")


def test_an_operation_run_again_makes_no_second_revision(backend, tmp_path):
    """The agent restarted during an operation and runs it again: each release it had
    already done keeps the revision it made (or the failure it met)."""
    chart = _chart(tmp_path, "0.1.0")
    assert backend.install_or_upgrade(chart, [], "demo", "1.0.0", "op1") == 1
    assert backend.install_or_upgrade(chart, [], "demo", "1.0.0", "op1") == 1
    assert backend.rollback("demo", "demo-api", 1, [], "op2") == 2
    assert backend.rollback("demo", "demo-api", 1, [], "op2") == 2
    broken = ChartRelease(
        chart.release,
        chart.namespace,
        chart.entry,
        apps.packed(
            {**apps.chart_files("demo-api", "0.3.0"), "templates/x.yaml": b'{{ fail "no" }}\n'},
            top="demo-api",
        ),
        {},
    )
    for _ in range(2):
        with pytest.raises(PhaseFailed, match="the upgrade phase failed: .*no"):
            backend.install_or_upgrade(broken, [("upgrade", {})], "demo", "1.2.0", "op3")
    history = json.loads((tmp_path / "apps/releases/demo/demo-api.json").read_text())["history"]
    assert [(r["revision"], r["operation"], r["status"]) for r in history] == [
        (1, "op1", releases.SUPERSEDED),
        (2, "op2", releases.DEPLOYED),
        (3, "op3", releases.FAILED),
    ]
    # Another operation makes a new revision, as Helm would.
    assert backend.install_or_upgrade(chart, [], "demo", "1.0.0", "op4") == 4


def test_the_helm_backend_says_the_cluster_is_unreachable(tmp_path):
    from dcmanager.agent.apps import kube

    kubeconfig = tmp_path / "kubeconfig"
    port = free_port()
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: site\n"
        f"clusters: [{{name: site, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: site, context: {cluster: site, user: admin}}]\n"
        "users: [{name: admin, user: {token: x}}]\n"
    )
    backend = kube.KubeBackend(str(kubeconfig), timeout=5)
    with pytest.raises(kube.ClusterUnreachable, match="the site's Kubernetes cluster is unre"):
        backend.install_or_upgrade(_chart(tmp_path, "0.1.0"), [], "demo", "1.0.0", "op")
    missing = kube.KubeBackend(str(tmp_path / "nothing"), timeout=5)
    with pytest.raises(kube.ClusterUnreachable, match="nothing: no such file"):
        missing.revision("demo", "demo-api")
