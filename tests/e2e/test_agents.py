"""Real prestages through real agents: files and images land whole, once, resumably.

Each test runs a system controller (``dcmanager-all``), ``dcmanager-agent`` processes
with their own state directories, a fault-injecting proxy in front of the controller's
release store, and Debian's docker-registry (session-wide) holding the images.
"""

import datetime
import hashlib
import ipaddress
import json
import os
import pathlib
import random
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dcmanager.agent import layout
from tests import registry as test_registry
from tests.e2e import site as e2e_site
from tests.functional.strategy_helpers import wait_for
from tests.services import free_port

MIB = 1024**2


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    with test_registry.running(tmp_path_factory.mktemp("registry"), free_port()) as instance:
        yield instance


@pytest.fixture
def site(tmp_path, services, registry):
    instance = e2e_site.Site(tmp_path, services, registry.url)
    instance.start()
    yield instance
    instance.stop()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tree(root: pathlib.Path, files: dict[str, bytes]) -> pathlib.Path:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


def _files(root: pathlib.Path) -> dict[str, bytes]:
    """The files of a tree (without the agent's marker of a deployed release)."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.name != layout.MARKER
    }


def _assert_prestaged(agent: e2e_site.Agent, version: str, packages: pathlib.Path) -> None:
    """The release's files byte for byte in the agent's software directory with the
    manifest beside them, its images phase done, nothing half-written left."""
    assert _files(agent.software_dir / version) == _files(packages)
    manifest = json.loads((agent.software_dir / f"{version}.manifest.json").read_text())
    assert manifest["release"] == version
    assert {entry["path"] for entry in manifest["files"]} == set(_files(packages))
    assert (agent.release_dir(version) / "images.json").is_file()
    assert not list((agent.state / "partial").iterdir())
    assert not [p.name for p in agent.software_dir.iterdir() if p.name.startswith(".")]


def _assert_not_prestaged(agent: e2e_site.Agent, version: str) -> None:
    """Nothing of the release counts as done on the agent."""
    assert not (agent.software_dir / f"{version}.manifest.json").exists()
    assert not (agent.release_dir(version) / "images.json").exists()


def test_strategy_over_five_agents_lands_every_file_and_image_once(site, registry, tmp_path):
    rng = random.Random(1)
    app = registry.push_image("stx/app", "1.0", [rng.randbytes(300_000), rng.randbytes(200_000)])
    amd64 = registry.push_image("stx/multi", "amd64", [rng.randbytes(150_000)])
    arm64 = registry.push_image("stx/multi", "arm64", [rng.randbytes(150_000)])
    registry.push_index("stx/multi", "1.0", {"linux/amd64": amd64, "linux/arm64": arm64})
    shared = rng.randbytes(100_000)
    files = {f"Packages/pkg{i:02}.deb": rng.randbytes(rng.randint(1, 400_000)) for i in range(30)}
    files |= {"Packages/same-a.deb": shared, "extra/nested/same-b.deb": shared, "empty": b""}
    packages = _tree(tmp_path / "25.09", files)
    by_digest = registry.push_index("stx/multi", "amd64-only", {"linux/amd64": amd64})
    images = ["registry.local:9001/stx/app:1.0", f"stx/multi@{by_digest}", "stx/multi:1.0"]
    site.upload("25.09", packages, images)
    agents = site.add_agents(5)

    steps = site.prestage("25.09")

    assert {name: step["state"] for name, step in steps.items()} == dict.fromkeys(
        (a.name for a in agents), "complete"
    ), [step["details"] for step in steps.values()]
    unique_bytes = sum(len(data) for data in {_digest(d): d for d in files.values()}.values())
    for agent in agents:
        _assert_prestaged(agent, "25.09", packages)
        for image in (app, amd64):
            for digest, data in image.blobs.items():
                assert agent.blob(digest).read_bytes() == data
            assert agent.blob(image.digest).read_bytes() == image.manifest
        for digest in arm64.blobs:
            assert not agent.blob(digest).exists(), "a layer of another platform was pulled"
        references = json.loads((agent.release_dir("25.09") / "images.json").read_text())
        assert references["registry.local:9001/stx/app:1.0"]["manifest"] == app.digest
        assert references["stx/multi:1.0"]["manifest"] == amd64.digest
        subcloud = site.call("GET", f"/subclouds/{agent.name}")
        assert subcloud["prestage-status"] == "complete"
        assert subcloud["prestage-versions"] == "25.09"
    assert site.proxy.blob_bytes() == 5 * unique_bytes
    listed = json.loads(site.cli("strategy-step", "list", "-f", "json").stdout)
    assert all(step["progress"] for step in listed), listed

    # The same release again: no package byte moves, no image blob either.
    site.proxy.reset()
    steps = site.prestage("25.09")
    assert all(step["state"] == "complete" for step in steps.values()), steps
    assert site.proxy.blob_bytes() == 0
    for agent in agents:
        images_op = max(
            (op for op in agent.operations() if op["kind"] == "images"),
            key=lambda op: op["started_at"],
        )
        assert images_op["result"]["blobs_transferred"] == 0

    # A new release moves only its new files.
    new_files = {f"Packages/new{i}.deb": rng.randbytes(50_000 + i) for i in range(3)}
    packages_2 = _tree(tmp_path / "26.03", {**files, **new_files})
    site.upload("26.03", packages_2, images)
    site.proxy.reset()
    steps = site.prestage("26.03")
    assert all(step["state"] == "complete" for step in steps.values()), steps
    assert site.proxy.blob_bytes() == 5 * sum(len(d) for d in new_files.values())
    for agent in agents:
        _assert_prestaged(agent, "26.03", packages_2)
        assert site.call("GET", f"/subclouds/{agent.name}")["prestage-versions"] == "25.09,26.03"


def test_a_killed_agent_resumes_without_fetching_again_what_it_had(tmp_path, services, registry):
    site = e2e_site.Site(
        tmp_path, services, registry.url, prestage="max_bandwidth_per_subcloud = 8\n"
    )
    site.start()
    big = os.urandom(48 * MIB)
    packages = _tree(tmp_path / "25.09", {"Packages/big.deb": big, "small.deb": b"x" * 1000})
    site.upload("25.09", packages)
    (agent,) = site.add_agents(1)
    path = f"/v1.0/blobs/{_digest(big)}"
    partial = agent.state / "partial" / _digest(big).split(":")[1]
    site.apply("25.09")
    wait_for(
        lambda: partial.exists() and partial.stat().st_size > 12 * MIB,
        timeout=60,
        what="a quarter of the big file",
    )

    agent.kill()
    held = partial.stat().st_size
    agent.start()

    steps = site.wait_for_end(timeout=90)
    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    _assert_prestaged(agent, "25.09", packages)
    # One download until the kill, then one that resumes exactly where the file on disk
    # ends and sends only the rest.
    calls = [
        (r, n) for (p, r), n in zip(site.proxy.requests, site.proxy.sent, strict=True) if p == path
    ]
    assert [r for r, _ in calls] == [None, f"bytes={held}-"], calls
    assert calls[1][1] == len(big) - held
    # Sent before the kill but never written: what was in the sockets' buffers.
    assert held <= calls[0][1] < held + 32 * MIB, calls
    site.stop()


def test_a_cancelled_transfer_fails_its_step_and_the_next_prestage_resumes_it(
    tmp_path, services, registry
):
    site = e2e_site.Site(tmp_path, services, registry.url, "max_bandwidth_per_subcloud = 8\n")
    site.start()
    big = os.urandom(32 * MIB)
    packages = _tree(tmp_path / "25.09", {"big.deb": big})
    site.upload("25.09", packages)
    (agent,) = site.add_agents(1)
    partial = agent.state / "partial" / _digest(big).split(":")[1]
    site.apply("25.09")
    wait_for(
        lambda: partial.exists() and partial.stat().st_size > 8 * MIB, timeout=60, what="8 MiB"
    )
    headers = {"X-Auth-Token": e2e_site.AGENT_TOKEN}
    (running,) = [op for op in agent.operations() if op["kind"] == "packages"]

    cancelled = requests.delete(
        f"{agent.url}/v1/operations/{running['id']}", headers=headers, timeout=30
    )

    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    step = site.wait_for_end()[agent.name]
    assert step["state"] == "failed" and step["details"] == "prestaging-packages: cancelled"
    _assert_not_prestaged(agent, "25.09")
    held = partial.stat().st_size
    assert held > 8 * MIB

    steps = site.prestage("25.09")

    assert steps[agent.name]["state"] == "complete"
    _assert_prestaged(agent, "25.09", packages)
    path = f"/v1.0/blobs/{_digest(big)}"
    assert (path, f"bytes={held}-") in site.proxy.requests
    site.stop()


def test_corruption_in_transit_or_at_the_source_is_detected(site, tmp_path):
    rng = random.Random(2)
    files = {name: rng.randbytes(2 * MIB) for name in ("a.deb", "b.deb", "c.deb")}
    packages = _tree(tmp_path / "25.09", files)
    site.upload("25.09", packages)
    corrupt, truncate = (f"/v1.0/blobs/{_digest(files[n])}" for n in ("a.deb", "b.deb"))
    site.proxy.faults[corrupt] = ["corrupt"]
    site.proxy.faults[truncate] = ["truncate"]
    (agent,) = site.add_agents(1)

    steps = site.prestage("25.09")

    assert steps[agent.name]["state"] == "complete", steps
    _assert_prestaged(agent, "25.09", packages)
    requests_of = {p: [h for q, h in site.proxy.requests if q == p] for p in (corrupt, truncate)}
    # The corrupt copy was thrown away and fetched again whole; the cut one resumed.
    assert requests_of[corrupt] == [None, None], requests_of
    assert requests_of[truncate] == [None, f"bytes={MIB}-"], requests_of

    # A blob corrupted in the controller's store: the step fails naming the file, and
    # nothing of it counts as done; once repaired, the same release goes through.
    bad = rng.randbytes(MIB)
    packages_2 = _tree(tmp_path / "26.03", {"d.deb": bad})
    site.upload("26.03", packages_2)
    hex_digest = _digest(bad).split(":")[1]
    stored = tmp_path / "controller" / "releases" / "sha256" / hex_digest[:2] / hex_digest
    stored.write_bytes(bytes([bad[0] ^ 1]) + bad[1:])

    steps = site.prestage("26.03")

    step = steps[agent.name]
    assert step["state"] == "failed", step
    assert "prestaging-packages" in step["details"] and "d.deb" in step["details"], step
    assert "digest" in step["details"], step
    assert not agent.blob(_digest(bad)).exists()
    assert not list((agent.state / "partial").iterdir())
    _assert_not_prestaged(agent, "26.03")

    stored.write_bytes(bad)
    steps = site.prestage("26.03")
    assert steps[agent.name]["state"] == "complete", steps
    _assert_prestaged(agent, "26.03", packages_2)


def test_each_failure_fails_the_step_with_its_reason_and_leaves_nothing_done(
    tmp_path, services, registry
):
    registry_gate = e2e_site.FaultProxy(registry.url)
    site = e2e_site.Site(tmp_path, services, registry_gate.url)
    site.start()
    image = registry.push_image("stx/failing", "1.0", [b"layer" * 1000])
    packages = _tree(tmp_path / "25.09", {"Packages/p.deb": os.urandom(4 * MIB)})
    site.upload("25.09", packages, [f"stx/failing:{image.tag}"])
    (agent,) = site.add_agents(1)

    def fails_with(reason: str, **prestage) -> None:
        steps = site.prestage("25.09", **prestage)
        step = steps[agent.name]
        assert step["state"] == "failed" and reason in step["details"], step
        _assert_not_prestaged(agent, "25.09")
        assert site.call("GET", f"/subclouds/{agent.name}")["prestage-status"] == "failed"

    fails_with("the sysadmin password does not match", password="wrong-password")
    assert not list((agent.state / "operations").iterdir())

    site.proxy.stop()
    fails_with("release store at")
    site.proxy.start()

    registry_gate.stop()
    fails_with("container registry")
    registry_gate.start()

    stat = os.statvfs(agent.state)
    free = stat.f_bavail * stat.f_frsize
    (small,) = site.add_agents(1, extra=f"reserved_disk_bytes = {free - 1 * MIB}\n")
    steps = site.prestage("25.09")
    assert steps[small.name]["state"] == "failed", steps
    # 1 MiB left for a 4 MiB release; if other writers took that MiB meanwhile, the
    # disk is below the reserve itself: refused either way, saying why.
    assert (
        "Not enough free disk space for release 25.09" in steps[small.name]["details"]
        or "is below the reserve" in steps[small.name]["details"]
    ), steps[small.name]["details"]
    _assert_not_prestaged(small, "25.09")
    assert steps[agent.name]["state"] == "complete", steps
    _assert_prestaged(agent, "25.09", packages)
    registry_gate.stop()
    site.stop()


def test_agents_refuse_unauthenticated_callers(site):
    (agent,) = site.add_agents(1)
    assert requests.get(agent.url + "/", timeout=10).status_code == 200
    for headers in ({}, {"X-Auth-Token": "wrong"}, {"X-Auth-Token": e2e_site.AGENT_TOKEN[:-1]}):
        for method, path in (("GET", "/v1/info"), ("POST", "/v1/operations")):
            answer = requests.request(
                method, agent.url + path, headers=headers, json={}, timeout=10
            )
            assert answer.status_code == 401, answer.text
            assert "X-Auth-Token" in answer.json()["error"]
    answer = requests.get(
        agent.url + "/v1/info", headers={"X-Auth-Token": e2e_site.AGENT_TOKEN}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.json()["prestaged_versions"] == []


def test_an_agent_on_keystone_takes_the_service_user_and_admins_only(
    tmp_path, services, registry, keystone
):
    service = keystone.service
    site = e2e_site.Site(
        tmp_path,
        services,
        registry.url,
        subcloud_agent=(
            f"auth_type = password\nauth_url = {keystone.url}\nusername = {service.name}\n"
            f"password = {service.password}\nproject_name = {service.project}\n"
            "user_domain_name = Default\nproject_domain_name = Default\n"
        ),
    )
    site.start()
    packages = _tree(tmp_path / "25.09", {"p.deb": os.urandom(MIB)})
    site.upload("25.09", packages)
    # The later auth_strategy in [agent] wins over the shared token.
    (agent,) = site.add_agents(1, extra="auth_strategy = keystone\n" + keystone.authtoken_options())

    steps = site.prestage("25.09")

    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    _assert_prestaged(agent, "25.09", packages)
    for token, status in (
        (None, 401),
        ("garbage", 401),
        (e2e_site.AGENT_TOKEN, 401),
        (keystone.token(keystone.viewer), 403),
        (keystone.token(keystone.admin), 200),
    ):
        headers = {"X-Auth-Token": token} if token else {}
        answer = requests.get(agent.url + "/v1/info", headers=headers, timeout=30)
        assert answer.status_code == status, (token, answer.text)
    site.stop()


def _self_signed(directory: pathlib.Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "dcmanager-agent test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "agent.crt", directory / "agent.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_an_https_agent_is_driven_over_tls_with_the_configured_ca(tmp_path, services, registry):
    cert_file, key_file = _self_signed(tmp_path)
    site = e2e_site.Site(
        tmp_path,
        services,
        registry.url,
        subcloud_agent=(
            "auth_type = admin_token\nendpoint = http://unused.invalid\n"
            f"token = {e2e_site.AGENT_TOKEN}\ncafile = {cert_file}\n"
        ),
    )
    site.start()
    packages = _tree(tmp_path / "25.09", {"p.deb": os.urandom(MIB)})
    site.upload("25.09", packages)
    (agent,) = site.add_agents(1, tls=(cert_file, key_file))
    assert agent.url.startswith("https://")

    steps = site.prestage("25.09")

    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    _assert_prestaged(agent, "25.09", packages)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(agent.url + "/", timeout=10)  # not trusted without the CA
    site.stop()


def test_agents_read_a_keystone_protected_store_as_a_reader(tmp_path, services, registry, keystone):
    site = e2e_site.Site(tmp_path, services, registry.url, keystone=keystone)
    site.start()
    packages = _tree(tmp_path / "25.09", {"p.deb": os.urandom(MIB)})
    site.upload("25.09", packages)
    viewer = keystone.viewer
    reader = (
        f"[controller]\nauth_type = password\nauth_url = {keystone.url}\n"
        f"username = {viewer.name}\npassword = {viewer.password}\n"
        f"project_name = {viewer.project}\nuser_domain_name = Default\n"
        "project_domain_name = Default\n"
    )
    # The credentials go to this controller only: the one [agent] repository_urls names.
    anonymous, with_reader = site.add_agents(1) + site.add_agents(1, extra=reader)

    steps = site.prestage("25.09")

    assert steps[with_reader.name]["state"] == "complete", steps[with_reader.name]["details"]
    _assert_prestaged(with_reader, "25.09", packages)
    step = steps[anonymous.name]
    assert step["state"] == "failed"
    assert "refused the agent's credentials (401)" in step["details"], step
    _assert_not_prestaged(anonymous, "25.09")
    site.stop()


def test_for_install_lands_in_the_platform_backup_directory(site, tmp_path):
    packages = _tree(tmp_path / "25.09", {"Packages/p.deb": b"p" * 5000, "iso/boot.img": b"b"})
    site.upload("25.09", packages)
    (agent,) = site.add_agents(1)

    steps = site.prestage("25.09", for_install=True)

    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    assert _files(agent.platform_backup_dir / "25.09") == _files(packages)
    assert (agent.platform_backup_dir / "25.09.manifest.json").is_file()
    assert not agent.software_dir.exists()
    info = requests.get(
        f"{agent.url}/v1/info", headers={"X-Auth-Token": e2e_site.AGENT_TOKEN}, timeout=10
    ).json()
    assert info["prestaged_versions"] == ["25.09"]

    # The site loses a file: the release no longer counts as prestaged there.
    (agent.platform_backup_dir / "25.09" / "iso" / "boot.img").unlink()
    info = requests.get(
        f"{agent.url}/v1/info", headers={"X-Auth-Token": e2e_site.AGENT_TOKEN}, timeout=10
    ).json()
    assert info["prestaged_versions"] == []

    steps = site.prestage("25.09")  # for software deployment: the other directory
    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    _assert_prestaged(agent, "25.09", packages)


def test_abort_stops_a_capped_transfer_within_a_second_and_the_next_prestage_resumes_it(
    tmp_path, services, registry
):
    site = e2e_site.Site(
        tmp_path, services, registry.url, prestage="max_bandwidth_per_subcloud = 100\n"
    )
    site.start()
    big = os.urandom(200 * MIB)
    packages = _tree(tmp_path / "25.09", {"Packages/big.deb": big})
    site.upload("25.09", packages)
    del big
    (agent,) = site.add_agents(1)
    digest = _digest((packages / "Packages" / "big.deb").read_bytes())
    partial = agent.state / "partial" / digest.split(":")[1]
    site.apply("25.09")
    wait_for(
        lambda: partial.exists() and partial.stat().st_size > 16 * MIB, timeout=60, what="16 MiB"
    )

    started = time.monotonic()
    site.call("POST", "/sw-update-strategy/actions", {"action": "abort"})
    wait_for(
        lambda: any(
            op["kind"] == "packages" and op["state"] == "cancelled" for op in agent.operations()
        ),
        timeout=10,
        what="the agent to cancel the transfer",
    )
    stopped_after = time.monotonic() - started
    held = partial.stat().st_size
    time.sleep(0.5)

    assert stopped_after < 1.0, f"the transfer stopped {stopped_after:.2f} s after the abort"
    assert partial.stat().st_size == held, "the transfer went on"
    step = site.wait_for_end()[agent.name]
    assert step["state"] == "aborted"
    assert step["details"].startswith("prestaging-packages: aborted (")
    assert "of 200.0 MiB transferred" in step["details"]
    assert site.call("GET", "/sw-update-strategy")["state"] == "aborted"
    _assert_not_prestaged(agent, "25.09")

    steps = site.prestage("25.09")

    assert steps[agent.name]["state"] == "complete", steps[agent.name]["details"]
    _assert_prestaged(agent, "25.09", packages)
    assert (f"/v1.0/blobs/{digest}", f"bytes={held}-") in site.proxy.requests
    site.stop()
