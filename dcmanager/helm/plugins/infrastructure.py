"""Plugins of the charts that support the OpenStack services: ingress, the database,
the cache, messaging, the hypervisor and virtual switch daemons, and the RBD volume
provisioner.

Replicated services run one replica per controller (1 on simplex, 2 on duplex).
"""

from typing import Any

from dcmanager.helm.plugins import DUPLEX
from dcmanager.helm.plugins import ChartPlugin
from dcmanager.helm.plugins import Site

OPENSTACK = "openstack"
KUBE_SYSTEM = "kube-system"


class RabbitmqPlugin(ChartPlugin):
    chart = "rabbitmq"
    namespaces = (OPENSTACK,)

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        return {"pod": {"replicas": {"server": site.controllers}}}


class MariadbPlugin(ChartPlugin):
    chart = "mariadb"
    namespaces = (OPENSTACK,)

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        return {
            "pod": {"replicas": {"server": site.controllers}},
            "endpoints": {
                "oslo_db": {"auth": {"admin": {"password": site.password(self.chart, "admin")}}}
            },
        }


class MemcachedPlugin(ChartPlugin):
    chart = "memcached"
    namespaces = (OPENSTACK,)

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        return {"pod": {"replicas": {"server": site.controllers}}}


class IngressPlugin(ChartPlugin):
    """Cluster-wide on the host network in kube-system; one per controller for the
    OpenStack namespace."""

    chart = "ingress"
    namespaces = (KUBE_SYSTEM, OPENSTACK)

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        if namespace == KUBE_SYSTEM:
            return {
                "deployment": {"mode": "cluster", "type": "DaemonSet"},
                "network": {"host_namespace": True},
            }
        return {
            "deployment": {"mode": "namespace", "type": "Deployment"},
            "pod": {"replicas": {"ingress": site.controllers, "error_page": site.controllers}},
        }


class LibvirtPlugin(ChartPlugin):
    """Live migration needs a second host: libvirt listens for it only on duplex."""

    chart = "libvirt"
    namespaces = (OPENSTACK,)

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        return {"conf": {"libvirt": {"listen_tcp": "1" if site.system_mode == DUPLEX else "0"}}}


class OpenvswitchPlugin(ChartPlugin):
    """On simplex the only host's datapath restarts when the operator chooses; on
    duplex a rolling update keeps one host switching."""

    chart = "openvswitch"
    namespaces = (OPENSTACK,)

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        strategy = "RollingUpdate" if site.system_mode == DUPLEX else "OnDelete"
        return {
            "pod": {
                "lifecycle": {"upgrades": {"daemonsets": {"pod_replacement_strategy": strategy}}}
            }
        }


class RbdProvisionerPlugin(ChartPlugin):
    chart = "rbd-provisioner"
    namespaces = (KUBE_SYSTEM,)

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        return {"global": {"replicas": site.controllers}}
