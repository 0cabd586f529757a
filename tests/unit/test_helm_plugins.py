"""Chart plugins: the seed's charts, each with values that depend on the site."""

import pytest
import yaml

from dcmanager.helm import plugins
from dcmanager.helm import yamlio

SEED_CHARTS = {
    "ceilometer": ["openstack"],
    "cinder": ["openstack"],
    "glance": ["openstack"],
    "gnocchi": ["openstack"],
    "heat": ["openstack"],
    "horizon": ["openstack"],
    "ingress": ["kube-system", "openstack"],
    "keystone": ["openstack"],
    "libvirt": ["openstack"],
    "mariadb": ["openstack"],
    "memcached": ["openstack"],
    "neutron": ["openstack"],
    "nova": ["openstack"],
    "openvswitch": ["openstack"],
    "rabbitmq": ["openstack"],
    "rbd-provisioner": ["kube-system"],
}


def site(mode: str, name: str = "site1", region: str = "region-1") -> plugins.Site:
    return plugins.Site(name, region, mode, lambda purpose: f"derived<{purpose}>")


def leaves(values, path=()):
    if isinstance(values, dict):
        for key, value in values.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, values


def test_the_seed_charts_are_installed_with_their_namespaces():
    found = {name: list(plugin.namespaces) for name, plugin in plugins.plugins().items()}
    assert found == SEED_CHARTS
    assert list(found) == sorted(found)


# chart, namespace, path of a value, its value on simplex, on duplex.
SITE_VALUES = [
    ("rabbitmq", "openstack", ("pod", "replicas", "server"), 1, 2),
    ("mariadb", "openstack", ("pod", "replicas", "server"), 1, 2),
    ("memcached", "openstack", ("pod", "replicas", "server"), 1, 2),
    ("ingress", "openstack", ("pod", "replicas", "ingress"), 1, 2),
    ("rbd-provisioner", "kube-system", ("global", "replicas"), 1, 2),
    ("keystone", "openstack", ("pod", "replicas", "api"), 1, 2),
    ("glance", "openstack", ("pod", "replicas", "api"), 1, 2),
    ("cinder", "openstack", ("pod", "replicas", "volume"), 1, 2),
    ("heat", "openstack", ("pod", "replicas", "engine"), 1, 2),
    ("nova", "openstack", ("pod", "replicas", "conductor"), 1, 2),
    ("neutron", "openstack", ("pod", "replicas", "server"), 1, 2),
    ("gnocchi", "openstack", ("pod", "replicas", "metricd"), 1, 2),
    ("ceilometer", "openstack", ("pod", "replicas", "central"), 1, 2),
    ("horizon", "openstack", ("pod", "replicas", "server"), 1, 2),
    ("libvirt", "openstack", ("conf", "libvirt", "listen_tcp"), "0", "1"),
    (
        "openvswitch",
        "openstack",
        ("pod", "lifecycle", "upgrades", "daemonsets", "pod_replacement_strategy"),
        "OnDelete",
        "RollingUpdate",
    ),
]


@pytest.mark.parametrize(("chart", "namespace", "path", "simplex", "duplex"), SITE_VALUES)
def test_values_follow_the_system_mode(chart, namespace, path, simplex, duplex):
    plugin, _ = plugins.get(chart, namespace)
    found = {}
    for mode in ("simplex", "duplex"):
        value = plugin.overrides(site(mode), namespace)
        for key in path:
            value = value[key]
        found[mode] = value
    assert found == {"simplex": simplex, "duplex": duplex}


def test_ingress_differs_per_namespace():
    plugin, _ = plugins.get("ingress", "kube-system")
    system = plugin.overrides(site("duplex"), "kube-system")
    assert system == {
        "deployment": {"mode": "cluster", "type": "DaemonSet"},
        "network": {"host_namespace": True},
    }
    assert plugin.overrides(site("duplex"), "openstack")["deployment"]["mode"] == "namespace"


@pytest.mark.parametrize(
    "chart", ["keystone", "glance", "cinder", "heat", "nova", "neutron", "gnocchi", "ceilometer"]
)
def test_services_authenticate_in_the_site_region_with_generated_passwords(chart):
    plugin, _ = plugins.get(chart, "openstack")
    auth = plugin.overrides(site("simplex", region="edge-7"), "openstack")["endpoints"]["identity"][
        "auth"
    ]
    assert auth
    for user, settings in auth.items():
        assert settings["region_name"] == "edge-7"
        assert settings["password"] == yamlio.Secret(f"derived<helm-password/site1/{chart}/{user}>")


def test_every_generated_secret_is_masked_and_differs_per_site():
    for name, plugin in plugins.plugins().items():
        for namespace in plugin.namespaces:
            one = plugin.overrides(site("simplex", name="one"), namespace)
            two = plugin.overrides(site("simplex", name="two"), namespace)
            secrets = [value for _, value in leaves(one) if isinstance(value, yamlio.Secret)]
            text = yamlio.dump(one, flow=True)
            for secret in secrets:
                assert secret.reveal() not in text
            assert text.count(yamlio.SECRET_MASK) == len(secrets)
            if secrets:
                assert one != two, name


def test_overrides_are_deterministic():
    for plugin in plugins.plugins().values():
        for namespace in plugin.namespaces:
            first = plugin.overrides(site("duplex"), namespace)
            assert plugin.overrides(site("duplex"), namespace) == first


@pytest.mark.parametrize(
    ("chart", "namespace", "error"),
    [
        ("nope", "openstack", plugins.ChartNotFound),
        ("rabbitmq", "kube-system", plugins.NamespaceNotFound),
        ("rabbitmq", None, plugins.NamespaceRequired),
        ("rabbitmq", "", plugins.NamespaceRequired),
    ],
)
def test_unknown_chart_or_namespace(chart, namespace, error):
    with pytest.raises(error):
        plugins.get(chart, namespace)


def masked(value):
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return yamlio.SECRET_MASK if isinstance(value, yamlio.Secret) else value


@pytest.mark.parametrize("mode", ["simplex", "duplex"])
def test_system_overrides_are_shown_as_pyyaml_safe_dump_shows_them(mode):
    """The reference: PyYAML's safe_dump(default_flow_style=None), secrets masked."""
    for plugin in plugins.plugins().values():
        for namespace in plugin.namespaces:
            system = plugin.overrides(site(mode), namespace)
            assert yamlio.dump(system, flow=True) == yaml.safe_dump(
                masked(system), default_flow_style=None
            ), plugin.chart
