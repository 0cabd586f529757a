"""The images an application version needs, from its charts rendered by real Helm with
the site's values, every lifecycle phase's overlay, and the metadata's list."""

import pytest

from dcmanager.apps import catalog
from dcmanager.apps import charts
from dcmanager.apps import images
from tests import apps

pytest.importorskip("helm_python")

MIGRATION_JOB = """{{- if .Values.manifests.job_db_init }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-db-init
spec:
  template:
    spec:
      initContainers:
        - name: wait
          image: {{ .Values.waitImage }}
      containers:
        - name: init
          image: "{{ .Values.dbImage.repository }}:{{ .Values.dbImage.tag }}"
      restartPolicy: Never
{{- end }}
"""
API_IMAGE = "registry.local:9001/stx/demo-api:0.1.0"


@pytest.fixture
def version(db, conf):
    """demo 1.0.0: a deployment, and a database job only its install phase enables."""
    files = apps.chart_files("demo-api", "0.1.0")
    files["templates/job-db-init.yaml"] = MIGRATION_JOB.encode()
    files["values.yaml"] += (
        b"waitImage: docker.io/library/busybox:1.36\n"
        b"dbImage: {repository: quay.io/demo/db-init, tag: '1.0'}\n"
        b"manifests: {job_db_init: false}\n"
    )
    files["templates/NOTES.txt"] = b"Thank you for installing {{ .Chart.Name }}.\n"
    chart = apps.packed(files, top="demo-api")
    tarball = apps.app_tarball(
        charts=(),
        metadata={
            "images": ["registry.local:9001/stx/demo-tools:1.0"],
            "phases": {"install": {"values": {"manifests": {"job_db_init": True}}}},
        },
        extra={"charts/demo-api-0.1.0.tgz": chart},
    )
    return catalog.upload(conf, tarball)


def test_every_image_of_every_phase_and_the_metadata(conf, version):
    assert images.needed(conf, version, {}) == [
        "docker.io/library/busybox:1.36",
        "quay.io/demo/db-init:1.0",
        API_IMAGE,
        "registry.local:9001/stx/demo-tools:1.0",
    ]


def test_the_values_decide_which_images(conf, version):
    values = {
        "demo-api": {"image": "registry.local:9001/stx/demo-api:0.1.1", "dbImage": {"tag": "2.0"}}
    }
    found = images.needed(conf, version, values)
    assert "registry.local:9001/stx/demo-api:0.1.1" in found
    assert "quay.io/demo/db-init:2.0" in found
    assert API_IMAGE not in found and "quay.io/demo/db-init:1.0" not in found


def test_one_render_per_version_and_values(conf, version, monkeypatch):
    images._needed.cache_clear()
    calls = []
    real = charts.render

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(charts, "render", counting)
    first = images.needed(conf, version, {})
    assert images.needed(conf, version, {}) == first
    # The deployed render and the install phase's, each as installed and upgraded, once.
    assert calls == ["demo-api"] * 4


def test_images_only_an_upgrade_runs(db, conf):
    files = apps.chart_files("demo-api", "0.1.0")
    files["templates/migrate.yaml"] = (
        b"{{- if .Release.IsUpgrade }}\nkind: Job\nspec:\n  template:\n    spec:\n"
        b"      containers:\n        - {name: migrate, image: quay.io/demo/migrate:2.0}\n"
        b"{{- end }}\n"
    )
    tarball = apps.app_tarball(
        charts=(), extra={"charts/demo-api-0.1.0.tgz": apps.packed(files, top="demo-api")}
    )
    version = catalog.upload(conf, tarball)
    assert images.needed(conf, version, {}) == ["quay.io/demo/migrate:2.0", API_IMAGE]


def test_images_in_manifests_reads_pod_templates_only():
    files = {
        "c/templates/pod.yaml": (
            "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - {name: a, image: ' x:1 '}\n"
            "  ephemeralContainers:\n    - {name: d, image: y:2}\n"
        ),
        "c/templates/cm.yaml": "kind: ConfigMap\ndata:\n  image: not-an-image\n",
        "c/templates/NOTES.txt": "image: {{ nonsense\n  - : [",
        "c/templates/date.yaml": "when: 2024-02-30\n",
        "c/templates/two.yaml": (
            "---\n---\nkind: Job\nspec: {template: {spec: {containers: [{image: z}]}}}\n"
        ),
    }
    assert images.in_manifests(files) == {"x:1", "y:2", "z"}
