"""Registering dcmanager in the keystone catalog (``dcmanager-manage register_endpoint``).

The CLI finds the API through the catalog entry of service type ``dcmanager``. The
registration is idempotent: run again, it keeps what is right, corrects URLs that
changed and adds what is missing, so it can sit in a deployment script.
"""

import dataclasses

from keystoneauth1 import adapter
from keystoneauth1 import session as ks_session

SERVICE_TYPE = "dcmanager"
API_VERSION_PATH = "/v1.0"


def versioned_url(url: str) -> str:
    """The API root for a server URL: ``http://h:8119`` becomes ``http://h:8119/v1.0``.

    The catalog holds the versioned root (as other dcmanager clients expect); the CLI
    accepts either form wherever a URL comes from.
    """
    url = url.rstrip("/")
    return url if url.endswith(API_VERSION_PATH) else url + API_VERSION_PATH


@dataclasses.dataclass
class Change:
    """One thing the registration did, for the operator to read."""

    action: str  # "created", "updated" or "kept"
    what: str

    def __str__(self) -> str:
        return f"{self.action.capitalize()} {self.what}"


def _identity(session: ks_session.Session, interface: str | None) -> adapter.Adapter:
    return adapter.Adapter(
        session, service_type="identity", interface=interface, version=(3, 0), raise_exc=True
    )


def _service(identity: adapter.Adapter, name: str, description: str) -> tuple[str, Change]:
    found = identity.get("/services", params={"type": SERVICE_TYPE}).json()["services"]
    if found:
        service = found[0]
        if service.get("name") != name or service.get("description") != description:
            identity.patch(
                f"/services/{service['id']}",
                json={"service": {"name": name, "description": description}},
            )
            return service["id"], Change("updated", f"service {name} ({SERVICE_TYPE})")
        return service["id"], Change("kept", f"service {name} ({SERVICE_TYPE})")
    service = identity.post(
        "/services",
        json={
            "service": {
                "type": SERVICE_TYPE,
                "name": name,
                "description": description,
                "enabled": True,
            }
        },
    ).json()["service"]
    return service["id"], Change("created", f"service {name} ({SERVICE_TYPE})")


def register(
    session: ks_session.Session,
    urls: dict[str, str],
    region: str,
    name: str = "dcmanager",
    description: str = "Distributed cloud manager",
    identity_interface: str | None = None,
) -> list[Change]:
    """Make the catalog hold the dcmanager service and one endpoint per interface.

    :param urls: endpoint URL per interface (``public``, ``internal``, ``admin``); each
        is stored as the versioned API root.
    :raises keystoneauth1.exceptions.ClientException: keystone refused or failed.
    """
    urls = {interface: versioned_url(url) for interface, url in urls.items()}
    identity = _identity(session, identity_interface)
    service_id, service_change = _service(identity, name, description)
    changes = [service_change]
    existing = identity.get(
        "/endpoints", params={"service_id": service_id, "region_id": region}
    ).json()["endpoints"]
    by_interface = {endpoint["interface"]: endpoint for endpoint in existing}
    for interface, url in urls.items():
        what = f"{interface} endpoint {url} in region {region}"
        endpoint = by_interface.get(interface)
        if endpoint is None:
            identity.post(
                "/endpoints",
                json={
                    "endpoint": {
                        "service_id": service_id,
                        "interface": interface,
                        "url": url,
                        "region_id": region,
                        "enabled": True,
                    }
                },
            )
            changes.append(Change("created", what))
        elif endpoint["url"] != url or not endpoint.get("enabled", True):
            identity.patch(
                f"/endpoints/{endpoint['id']}", json={"endpoint": {"url": url, "enabled": True}}
            )
            changes.append(Change("updated", what))
        else:
            changes.append(Change("kept", what))
    return changes
