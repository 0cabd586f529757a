"""Prestaged images land in the site's own registry: a second Debian docker-registry,
asking for credentials, stands for the site's ``registry.local``."""

import json
import random

import pytest
import requests

from tests import registry as test_registry
from tests import registry_tokens
from tests.e2e import site as e2e_site
from tests.services import free_port

SITE_USER = ("sysinv", "site-registry-secret")


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    with test_registry.running(tmp_path_factory.mktemp("central"), free_port()) as instance:
        yield instance


@pytest.fixture
def site_registry(tmp_path):
    directory = tmp_path / "site-registry"
    directory.mkdir()
    with test_registry.running(directory, free_port(), SITE_USER) as instance:
        yield instance


@pytest.fixture
def site(tmp_path, services, central):
    instance = e2e_site.Site(tmp_path, services, central.url)
    instance.start()
    yield instance
    instance.stop()


def _registry_options(registry: test_registry.Registry) -> str:
    user, password = SITE_USER
    return (
        f"local_registry_url = {registry.url}\n"
        f"local_registry_username = {user}\nlocal_registry_password = {password}\n"
    )


def _pull(registry: test_registry.Registry, repository: str, reference: str) -> tuple[str, bytes]:
    """The manifest's digest and body as the site's registry serves them (by tag or
    digest), after checking that every blob it names is served whole."""
    answer = requests.get(
        f"{registry.url}/v2/{repository}/manifests/{reference}",
        auth=SITE_USER,
        headers={"Accept": test_registry.OCI_MANIFEST},
        timeout=10,
    )
    assert answer.status_code == 200, (repository, reference, answer.text)
    manifest = answer.json()
    for descriptor in [manifest["config"], *manifest["layers"]]:
        blob = requests.get(
            f"{registry.url}/v2/{repository}/blobs/{descriptor['digest']}",
            auth=SITE_USER,
            timeout=10,
        )
        assert blob.status_code == 200
        assert test_registry.digest_of(blob.content) == descriptor["digest"]
    return answer.headers["Docker-Content-Digest"], answer.content


def _images_result(agent: e2e_site.Agent) -> dict:
    operation = max(
        (op for op in agent.operations() if op["kind"] == "images"),
        key=lambda op: op["started_at"],
    )
    return operation["result"]


def test_images_are_pushed_to_the_site_registry_once_and_pullable(
    site, central, site_registry, tmp_path
):
    rng = random.Random(7)
    shared_layer = rng.randbytes(120_000)
    app = central.push_image("stx/app", "1.0", [shared_layer, rng.randbytes(80_000)])
    other = central.push_image("stx/other", "2.0", [shared_layer])  # a layer in common
    amd64 = central.push_image("stx/multi", "amd64", [rng.randbytes(60_000)])
    arm64 = central.push_image("stx/multi", "arm64", [rng.randbytes(60_000)])
    index = central.push_index("stx/multi", "1.0", {"linux/amd64": amd64, "linux/arm64": arm64})
    images = ["registry.local:9001/stx/app:1.0", "stx/other:2.0", f"stx/multi@{index}"]
    packages = tmp_path / "packages"
    packages.mkdir()
    (packages / "a.deb").write_bytes(b"a")
    site.upload("25.09", packages, images)
    (agent,) = site.add_agents(1, _registry_options(site_registry))

    steps = site.prestage("25.09")

    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    assert _pull(site_registry, "stx/app", "1.0") == (app.digest, app.manifest)
    assert _pull(site_registry, "stx/app", app.digest) == (app.digest, app.manifest)
    assert _pull(site_registry, "stx/other", "2.0") == (other.digest, other.manifest)
    # An index by digest: the site holds the manifest of its platform, by digest.
    assert _pull(site_registry, "stx/multi", amd64.digest) == (amd64.digest, amd64.manifest)
    for digest in arm64.blobs:
        answer = requests.head(
            f"{site_registry.url}/v2/stx/multi/blobs/{digest}", auth=SITE_USER, timeout=10
        )
        assert answer.status_code == 404, "a layer of another platform was pushed"
    result = _images_result(agent)
    assert result["images_at_site"] == 0
    assert result["blobs_mounted"] == 1, "the layer in common was mounted, not sent again"
    # Every blob sent once: the shared layer is counted once.
    unique = {**app.blobs, **other.blobs, **amd64.blobs}
    assert result["bytes_pushed"] == sum(len(b) for b in unique.values())
    references = json.loads((agent.release_dir("25.09") / "images.json").read_text())
    assert references["stx/other:2.0"]["site_image"] == f"{site_registry.url}/stx/other:2.0"
    assert references[f"stx/multi@{index}"]["site_image"] == (
        f"{site_registry.url}/stx/multi@{amd64.digest}"
    )

    # A site whose registry holds every image (its agent reinstalled: an empty state
    # directory) moves zero bytes, from the controller's registry or to its own.
    site.proxy.reset()
    (fresh,) = site.add_agents(1, _registry_options(site_registry))
    steps = site.prestage("25.09")
    assert steps[fresh.name]["state"] == "complete", steps[fresh.name]["details"]
    result = _images_result(fresh)
    assert result["images_at_site"] == 3
    assert result["bytes_transferred"] == result["bytes_pushed"] == 0
    assert result["blobs_transferred"] == result["blobs_pushed"] == 0

    # A later release's image shares a layer with one pushed before to another
    # repository: the layer is mounted from there, not sent again.
    new_layer = rng.randbytes(40_000)
    newapp = central.push_image("stx/newapp", "1.0", [shared_layer, new_layer])
    site.upload("26.03", packages, ["stx/newapp:1.0"])
    steps = site.prestage("26.03", cloud_name=agent.name)
    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    result = _images_result(agent)
    assert len(app.blobs.keys() & newapp.blobs.keys()) == 2, "a layer and the config shared"
    assert result["bytes_pushed"] == len(new_layer)
    assert result["blobs_mounted"] == 2
    assert _pull(site_registry, "stx/newapp", "1.0") == (newapp.digest, newapp.manifest)


def test_a_site_registry_refusing_the_credentials_fails_the_step_saying_so(
    site, central, site_registry, tmp_path
):
    central.push_image("stx/app", "1.0", [b"layer"])
    packages = tmp_path / "packages"
    packages.mkdir()
    (packages / "a.deb").write_bytes(b"a")
    site.upload("25.09", packages, ["stx/app:1.0"])
    options = _registry_options(site_registry).replace(SITE_USER[1], "wrong-password")
    (agent,) = site.add_agents(1, options)

    steps = site.prestage("25.09")

    assert steps[agent.name]["state"] == "failed"
    assert "answered 401" in steps[agent.name]["details"]
    assert "local_registry_password" in steps[agent.name]["details"]


@pytest.fixture
def token_registry(tmp_path):
    """The site's registry behind a token server, as StarlingX's registry.local is."""
    directory = tmp_path / "token-registry"
    directory.mkdir()
    tokens = registry_tokens.TokenServer(directory, SITE_USER)
    try:
        with test_registry.running(directory, free_port(), auth=tokens.registry_auth()) as found:
            yield found, tokens
    finally:
        tokens.stop()


def test_a_registry_behind_a_token_server_takes_the_images_with_bearer_tokens(
    site, central, token_registry, tmp_path
):
    registry, tokens = token_registry
    rng = random.Random(11)
    app = central.push_image("stx/app", "1.0", [rng.randbytes(50_000), rng.randbytes(30_000)])
    packages = tmp_path / "packages"
    packages.mkdir()
    (packages / "a.deb").write_bytes(b"a")
    site.upload("25.09", packages, ["stx/app:1.0"])
    assert requests.get(f"{registry.url}/v2/", timeout=10).status_code == 401
    (agent,) = site.add_agents(1, _registry_options(registry))

    steps = site.prestage("25.09")

    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    token = requests.get(
        tokens.realm,
        params={"service": registry_tokens.SERVICE, "scope": "repository:stx/app:pull"},
        auth=SITE_USER,
        timeout=10,
    ).json()["token"]
    answer = requests.get(
        f"{registry.url}/v2/stx/app/manifests/1.0",
        headers={"Authorization": f"Bearer {token}", "Accept": test_registry.OCI_MANIFEST},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.content == app.manifest
    # The registry names the scope each request needs (in its own order of actions).
    scopes = [
        (scope.rpartition(":")[0], set(scope.rpartition(":")[2].split(",")))
        for query in tokens.requests[:-1]
        for scope in query.get("scope", [])
    ]
    assert ("repository:stx/app", {"pull", "push"}) in scopes
    assert len(tokens.requests) - 1 <= 3, "a token is reused for the repository's requests"

    # Wrong credentials: the token server refuses them, and the step says what to check.
    tokens.credentials = (SITE_USER[0], "changed")
    (other,) = site.add_agents(1, _registry_options(registry))
    central.push_image("stx/app", "2.0", [rng.randbytes(1000)])
    site.upload("25.10", packages, ["stx/app:2.0"])
    steps = site.prestage("25.10")
    assert steps[other.name]["state"] == "failed"
    assert "token server" in steps[other.name]["details"]
    assert "answered 401" in steps[other.name]["details"]
    assert "local_registry_password" in steps[other.name]["details"]
