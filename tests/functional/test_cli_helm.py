"""``dcmanager helm-override-*`` against the real API served over HTTP."""

import pytest
import yaml

from dcmanager.db import api as db_api
from tests.functional.test_cli import CLI

SEED_LIST = [
    ("ceilometer", ["openstack"]),
    ("cinder", ["openstack"]),
    ("glance", ["openstack"]),
    ("gnocchi", ["openstack"]),
    ("heat", ["openstack"]),
    ("horizon", ["openstack"]),
    ("ingress", ["kube-system", "openstack"]),
    ("keystone", ["openstack"]),
    ("libvirt", ["openstack"]),
    ("mariadb", ["openstack"]),
    ("memcached", ["openstack"]),
    ("neutron", ["openstack"]),
    ("nova", ["openstack"]),
    ("openvswitch", ["openstack"]),
    ("rabbitmq", ["openstack"]),
    ("rbd-provisioner", ["kube-system"]),
]


def user_overrides(cli: CLI, chart: str = "rabbitmq", namespace: str = "openstack") -> str:
    return cli.json("helm-override-show", chart, namespace)["user_overrides"]


def test_list(cli):
    listed = cli.json("helm-override-list")
    assert [(row["chart name"], row["overrides namespaces"]) for row in listed] == SEED_LIST
    table = cli.ok("helm-override-list").out
    assert "| ingress         | kube-system, openstack |" in table


def test_seed_example(cli):
    updated = cli.ok(
        "helm-override-update", "rabbitmq", "openstack", "--reuse-values", "--set", "pod.replicas=2"
    ).out
    assert "| user_overrides | pod:          |\n|                |   replicas: 2 |" in updated

    shown = cli.json("helm-override-show", "rabbitmq", "openstack")
    assert shown == {
        "combined_overrides": "pod:\n  replicas: 2\n",
        "name": "rabbitmq",
        "namespace": "openstack",
        "system_overrides": "pod:\n  replicas: {server: 1}\n",
        "user_overrides": "pod:\n  replicas: 2\n",
    }
    table = cli.ok("helm-override-show", "rabbitmq", "openstack").out
    assert "| system_overrides   | pod:                    |\n" in table
    assert "|                    |   replicas: {server: 1} |\n" in table


def test_format_helm_prints_the_combined_values(cli, tmp_path):
    cli.ok("helm-override-update", "rabbitmq", "openstack", "--set", "pod.replicas=2,a=yes")
    out = cli.ok("helm-override-show", "rabbitmq", "openstack", "--format", "helm").out
    assert out == "a: 'yes'\npod:\n  replicas: 2\n"

    target = tmp_path / "values.yaml"
    result = cli.ok(
        "helm-override-show", "rabbitmq", "openstack", "--format", "helm", "--file", str(target)
    )
    assert result.out == ""
    assert target.read_text() == out


def test_format_armada_adds_the_document_header(cli, tmp_path):
    cli.ok("helm-override-update", "rabbitmq", "openstack", "--set", "pod.replicas=2")
    out = cli.ok("helm-override-show", "rabbitmq", "openstack", "--format", "armada").out
    assert out == (
        "---\n"
        "schema: armada/Chart/v1\n"
        "metadata:\n"
        "  name: openstack-rabbitmq\n"
        "  schema: metadata/Document/v1\n"
        "data:\n"
        "  values:\n"
        "    pod:\n"
        "      replicas: 2\n"
    )
    kube = cli.ok("helm-override-show", "ingress", "kube-system", "--format", "armada").out
    document = yaml.safe_load(kube)
    assert document["metadata"]["name"] == "kube-system-ingress"
    assert document["data"]["values"]["deployment"] == {"mode": "cluster", "type": "DaemonSet"}
    target = tmp_path / "armada.yaml"
    cli.ok("helm-override-show", "rabbitmq", "openstack", "-f", "armada", "--file", str(target))
    assert target.read_text() == out


def test_file_that_cannot_be_written(cli, tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "values.yaml"
    cli.fail(
        "helm-override-show",
        "rabbitmq",
        "openstack",
        "--format",
        "helm",
        "--file",
        str(missing),
        message=f"--file {missing}: ",
    )


def test_update_with_every_kind_of_value(cli, tmp_path):
    values = tmp_path / "values.yaml"
    # Sent as text, untouched: Helm typing (y is true, 0o17 is 15) happens on the server.
    values.write_text("a: y\nb: 0o17\nc: keep\n")
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN-----\nabc\n")
    result = cli.json(
        "helm-override-update",
        "rabbitmq",
        "openstack",
        "--set-literal",
        "lit=a,b=c",
        "--set",
        "c=1",
        "--set-string",
        "s=1",
        "--set-file",
        f"cert={cert}",
        "--set-json",
        'j={"k":[1,2]}',
        "--values",
        str(values),
    )
    assert result["user_overrides"] == (
        "a: true\nb: 15\nc: 1\ncert: |\n  -----BEGIN-----\n  abc\nj:\n  k:\n  - 1\n  - 2\n"
        "lit: a,b=c\ns: '1'\n"
    )


def test_reuse_is_the_default_and_reset_replaces(cli):
    cli.ok("helm-override-update", "rabbitmq", "openstack", "--set", "a=1")
    cli.ok("helm-override-update", "rabbitmq", "openstack", "--set", "b=2")
    assert user_overrides(cli) == "a: 1\nb: 2\n"
    cli.ok("helm-override-update", "rabbitmq", "openstack", "--reset-values", "--set", "c=3")
    assert user_overrides(cli) == "c: 3\n"
    cli.ok("helm-override-update", "rabbitmq", "openstack", "--reset-values")
    assert user_overrides(cli) == ""


def test_reuse_and_reset_are_exclusive(cli):
    cli.fail(
        "helm-override-update",
        "rabbitmq",
        "openstack",
        "--reuse-values",
        "--reset-values",
        message="not allowed with argument",
        rc=2,
    )


def test_invalid_expression_is_explained_and_nothing_stored(cli):
    cli.ok("helm-override-update", "rabbitmq", "openstack", "--set", "kept=1")
    cli.fail(
        "helm-override-update",
        "rabbitmq",
        "openstack",
        "--set",
        "ok=1",
        "--set",
        "a[0]x=y",
        message='Invalid values: set[1] "a[0]x=y": unexpected data at end of array index: "x"',
    )
    assert user_overrides(cli) == "kept: 1\n"


def test_unreadable_files_are_named(cli, tmp_path):
    missing = tmp_path / "missing.yaml"
    cli.fail(
        "helm-override-update",
        "rabbitmq",
        "openstack",
        "--values",
        str(missing),
        message=f"--values {missing}: ",
    )
    cli.fail(
        "helm-override-update",
        "rabbitmq",
        "openstack",
        "--set-file",
        f"a={missing}",
        message=f"--set-file {missing}: ",
    )
    assert user_overrides(cli) == ""


def test_delete(cli):
    cli.ok("helm-override-update", "rabbitmq", "openstack", "--set", "pod.replicas=2")
    out = cli.ok("helm-override-delete", "rabbitmq", "openstack").out
    assert out == "Deleted chart overrides for rabbitmq:openstack\n"
    shown = cli.json("helm-override-show", "rabbitmq", "openstack")
    assert shown["user_overrides"] == ""
    assert shown["combined_overrides"] == "pod:\n  replicas:\n    server: 1\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("helm-override-show", "nope", "openstack"), "Helm chart nope not found"),
        (
            ("helm-override-show", "rabbitmq", "kube-system"),
            "Helm chart rabbitmq has no overrides in namespace kube-system",
        ),
        (("helm-override-delete", "nope", "openstack"), "Helm chart nope not found"),
        (
            ("helm-override-update", "nope", "openstack", "--set", "a=1"),
            "Helm chart nope not found",
        ),
        (
            ("helm-override-show", "rabbitmq", "openstack", "--subcloud", "sc9"),
            "Subcloud not found",
        ),
    ],
)
def test_errors(cli, args, message):
    cli.fail(*args, message=message)


def test_show_for_a_subcloud(cli):
    subcloud = db_api.subcloud_create({"name": "sc1", "endpoint": "simulated://sc1"})
    db_api.subcloud_update(subcloud.id, {"system_mode": "duplex"})
    shown = cli.json("helm-override-show", "rabbitmq", "openstack", "--subcloud", "sc1")
    assert shown["system_overrides"] == "pod:\n  replicas: {server: 2}\n"
