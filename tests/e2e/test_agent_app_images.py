"""Prestaging an application's images with a release, over real agents and a real
registry: the images are those its charts render (real Helm, the operator's overrides,
a subcloud's own above them, every lifecycle phase) and its metadata lists, and a
second prestage moves nothing."""

import base64
import json
import random

import pytest

from tests import apps
from tests import registry as test_registry
from tests.e2e import site as e2e_site
from tests.e2e.test_agents import _tree
from tests.functional.strategy_helpers import wait_for
from tests.services import free_port

pytest.importorskip("helm_python")

JOB = """{{- if .Values.manifests.job_db_init }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-db-init
spec:
  template:
    spec:
      containers:
        - name: init
          image: {{ .Values.jobImage }}
      restartPolicy: Never
{{- end }}
"""


@pytest.fixture
def registry(tmp_path_factory):
    with test_registry.running(tmp_path_factory.mktemp("registry"), free_port()) as instance:
        yield instance


def _app_tarball() -> bytes:
    """demo 1.0.0: a deployment, a job its install phase enables, one more image listed."""
    files = apps.chart_files("demo-api", "0.1.0")
    files["templates/job-db-init.yaml"] = JOB.encode()
    files["values.yaml"] += (
        b"jobImage: registry.local:9001/stx/demo-db-init:1.0\nmanifests: {job_db_init: false}\n"
    )
    return apps.app_tarball(
        charts=(),
        metadata={
            "images": ["registry.local:9001/stx/demo-tools:1.0"],
            "phases": {"install": {"values": {"manifests": {"job_db_init": True}}}},
        },
        extra={"charts/demo-api-0.1.0.tgz": apps.packed(files, top="demo-api")},
    )


def _prestage(site, body: dict) -> dict:
    site.call("POST", "/sw-update-strategy", body)
    site.call("POST", "/sw-update-strategy/actions", {"action": "apply"})
    steps = site.wait_for_end()
    site.call("DELETE", "/sw-update-strategy")
    wait_for(site._no_strategy, what="the strategy to be deleted")
    return steps


def test_prestage_with_an_application_lands_its_rendered_images(tmp_path, services, registry):
    rng = random.Random(7)
    site = e2e_site.Site(tmp_path, services, registry.url)
    site.start()
    wanted = [
        registry.push_image(f"stx/{name}", tag, [rng.randbytes(120_000)])
        for name, tag in (
            ("base", "1.0"),
            ("demo-api", "0.1.1"),
            ("demo-db-init", "1.0"),
            ("demo-tools", "1.0"),
        )
    ]
    # The chart's default image, which the operator's override replaces.
    replaced = registry.push_image("stx/demo-api", "0.1.0", [rng.randbytes(120_000)])
    # The tag one subcloud's own override picks.
    own = registry.push_image("stx/demo-api", "0.1.2", [rng.randbytes(120_000)])
    packages = _tree(tmp_path / "25.09", {"Packages/p.deb": rng.randbytes(10_000)})
    site.upload("25.09", packages, ["stx/base:1.0"])
    (tmp_path / "demo.tgz").write_bytes(_app_tarball())
    site.cli("app", "upload", str(tmp_path / "demo.tgz"))
    # The operator's override of the image: what the sites will run, so what is prestaged.
    site.call(
        "PATCH",
        "/helm_charts/demo-api?app=demo",
        {"flag": "reuse", "values": {"set": ["image=registry.local:9001/stx/demo-api:0.1.1"]}},
    )
    agents = site.add_agents(2)
    site.call(
        "PATCH",
        f"/helm_charts/demo-api?app=demo&subcloud={agents[1].name}",
        {"flag": "reuse", "values": {"set": ["image=registry.local:9001/stx/demo-api:0.1.2"]}},
    )
    body = {
        "type": "prestage",
        "sysadmin_password": base64.b64encode(e2e_site.PASSWORD.encode()).decode(),
        "apps": ["demo@latest"],
        "max-parallel-subclouds": 2,
    }

    steps = _prestage(site, body)

    assert {n: s["state"] for n, s in steps.items()} == dict.fromkeys(
        (a.name for a in agents), "complete"
    ), steps
    common = {
        "stx/base:1.0",
        "registry.local:9001/stx/demo-db-init:1.0",
        "registry.local:9001/stx/demo-tools:1.0",
    }
    api_tag = {agents[0].name: "0.1.1", agents[1].name: "0.1.2"}
    for agent in agents:
        references = json.loads((agent.release_dir("25.09") / "images.json").read_text())
        assert set(references) == common | {
            f"registry.local:9001/stx/demo-api:{api_tag[agent.name]}"
        }
        holds = [image for image in wanted if image.tag != "0.1.1"]
        holds.append(own if api_tag[agent.name] == "0.1.2" else wanted[1])
        for image in holds:
            for digest, data in image.blobs.items():
                assert agent.blob(digest).read_bytes() == data
        left_out = [replaced, wanted[1] if api_tag[agent.name] == "0.1.2" else own]
        assert not any(agent.blob(d).exists() for image in left_out for d in image.blobs)
        images_op = [op for op in agent.operations() if op["kind"] == "images"]
        assert images_op[0]["result"]["blobs_transferred"] > 0

    # The same again: every image is there, no blob moves.
    steps = _prestage(site, body)
    assert all(step["state"] == "complete" for step in steps.values()), steps
    for agent in agents:
        latest = max(
            (op for op in agent.operations() if op["kind"] == "images"),
            key=lambda op: op["started_at"],
        )
        assert latest["result"]["blobs_transferred"] == 0
    site.stop()
