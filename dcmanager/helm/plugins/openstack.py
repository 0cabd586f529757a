"""Plugins of the OpenStack service charts.

Each service runs one replica of each of its deployments per controller, authenticates
to Keystone in the site's region with a generated password, and reaches its database
with another.
"""

from typing import Any
from typing import ClassVar

from dcmanager.helm.plugins import ChartPlugin
from dcmanager.helm.plugins import Site
from dcmanager.helm.plugins.infrastructure import OPENSTACK


class OpenStackServicePlugin(ChartPlugin):
    namespaces = (OPENSTACK,)
    #: The chart's deployments, each given one replica per controller.
    deployments: ClassVar[tuple[str, ...]] = ("api",)
    #: The Keystone users the chart's services act as.
    service_users: ClassVar[tuple[str, ...]] = ()
    #: Whether the chart has a database of its own.
    database: ClassVar[bool] = True

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        values: dict[str, Any] = {
            "pod": {"replicas": dict.fromkeys(self.deployments, site.controllers)}
        }
        users = self.service_users or (self.chart,)
        endpoints: dict[str, Any] = {
            "identity": {
                "auth": {
                    user: {
                        "region_name": site.region_name,
                        "password": site.password(self.chart, user),
                    }
                    for user in users
                }
            }
        }
        if self.database:
            endpoints["oslo_db"] = {
                "auth": {self.chart: {"password": site.password(self.chart, "database")}}
            }
        values["endpoints"] = endpoints
        return values


class KeystonePlugin(OpenStackServicePlugin):
    chart = "keystone"
    service_users = ("admin",)


class GlancePlugin(OpenStackServicePlugin):
    chart = "glance"


class CinderPlugin(OpenStackServicePlugin):
    chart = "cinder"
    deployments = ("api", "scheduler", "volume", "backup")


class HeatPlugin(OpenStackServicePlugin):
    chart = "heat"
    deployments = ("api", "cfn", "engine")


class NovaPlugin(OpenStackServicePlugin):
    chart = "nova"
    deployments = ("api_metadata", "osapi", "conductor", "scheduler", "novncproxy")
    service_users = ("nova", "neutron", "placement")


class NeutronPlugin(OpenStackServicePlugin):
    chart = "neutron"
    deployments = ("server",)
    service_users = ("neutron", "nova")


class GnocchiPlugin(OpenStackServicePlugin):
    chart = "gnocchi"
    deployments = ("api", "metricd")


class CeilometerPlugin(OpenStackServicePlugin):
    chart = "ceilometer"
    deployments = ("central", "notification")
    database = False


class HorizonPlugin(ChartPlugin):
    """The dashboard: one server per controller, the site's region, and the key that
    signs its sessions."""

    chart = "horizon"
    namespaces = (OPENSTACK,)

    def overrides(self, site: Site, namespace: str) -> dict[str, Any]:
        return {
            "pod": {"replicas": {"server": site.controllers}},
            "conf": {
                "horizon": {
                    "local_settings": {
                        "config": {
                            "openstack_keystone_default_region": site.region_name,
                            "secret_key": site.password(self.chart, "secret_key"),
                        }
                    }
                }
            },
        }
