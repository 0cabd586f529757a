"""A real container registry for the tests: Debian's ``docker-registry``, on 127.0.0.1.

The package is downloaded with ``apt-get download`` and unpacked into the tests' cache
(:func:`tests.services.cache_dir`; made once per machine, reused), so nothing is
installed system-wide. Each test session starts its own registry with filesystem
storage in a temporary directory, and images are pushed through the registry API
(``POST``/``PUT`` uploads, then the manifest), as ``docker push`` would.
"""

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import pathlib
import subprocess
import tempfile
import time
from collections.abc import Iterator

import bcrypt
import requests

from tests import services

PACKAGE = "docker-registry"
START_TIMEOUT = 30

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def ensure_installed() -> pathlib.Path:
    """The registry binary, unpacked from Debian's package first if needed."""
    root = services.cache_dir()
    binary = root / PACKAGE / "usr" / "bin" / "docker-registry"
    with open(root / "docker-registry.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        with tempfile.TemporaryDirectory(dir=root) as work:
            steps = (
                ["apt-get", "download", PACKAGE],
                ["sh", "-c", f"dpkg-deb -x {PACKAGE}_*.deb {root / PACKAGE}"],
            )
            for command in steps:
                try:
                    result = subprocess.run(
                        command, cwd=work, capture_output=True, text=True, timeout=300
                    )
                except FileNotFoundError as exc:
                    services.unavailable(f"cannot install {PACKAGE}: {exc}")
                if result.returncode != 0:
                    services.unavailable(
                        f"cannot install {PACKAGE} ({' '.join(command)}):\n"
                        f"{result.stdout}{result.stderr}"
                    )
    return binary


@dataclasses.dataclass
class Registry:
    url: str
    process: subprocess.Popen
    log_path: pathlib.Path

    def push_blob(self, repository: str, data: bytes) -> str:
        """Upload one blob (monolithic upload); its digest."""
        digest = digest_of(data)
        started = requests.post(f"{self.url}/v2/{repository}/blobs/uploads/", timeout=30)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        if location.startswith("/"):
            location = self.url + location
        done = requests.put(
            location,
            params={"digest": digest},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=60,
        )
        assert done.status_code == 201, done.text
        return digest

    def push_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        answer = requests.put(
            f"{self.url}/v2/{repository}/manifests/{reference}",
            data=body,
            headers={"Content-Type": media_type},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return digest_of(body)

    def push_image(self, repository: str, tag: str, layers: list[bytes]) -> "Image":
        """An OCI image of ``layers`` (and a small config) under ``repository:tag``."""
        config = json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}, "tag": tag}
        ).encode()
        blobs = [self.push_blob(repository, config)] + [
            self.push_blob(repository, layer) for layer in layers
        ]
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": blobs[0], "size": len(config)},
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": digest, "size": len(layer)}
                    for digest, layer in zip(blobs[1:], layers, strict=True)
                ],
            }
        ).encode()
        digest = self.push_manifest(repository, tag, manifest, OCI_MANIFEST)
        return Image(
            repository,
            tag,
            digest,
            manifest,
            {d: b for d, b in zip(blobs, [config, *layers], strict=True)},
        )

    def push_index(self, repository: str, tag: str, images: dict[str, "Image"]) -> str:
        """A multi-platform index (``{"linux/amd64": image, ...}``) under ``repository:tag``."""
        manifests = []
        for platform, image in images.items():
            system, _, architecture = platform.partition("/")
            manifests.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": image.digest,
                    "size": len(image.manifest),
                    "platform": {"os": system, "architecture": architecture},
                }
            )
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        ).encode()
        return self.push_manifest(repository, tag, body, OCI_INDEX)


@dataclasses.dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    digest: str
    """Of the manifest."""
    manifest: bytes
    blobs: dict[str, bytes]
    """The config and the layers, by digest."""


@contextlib.contextmanager
def running(
    directory: pathlib.Path,
    port: int,
    credentials: tuple[str, str] | None = None,
    auth: str = "",
) -> Iterator[Registry]:
    """A registry on ``127.0.0.1:port`` storing under ``directory``, stopped at the end.

    :param credentials: (user, password) the registry asks for (htpasswd, bcrypt);
        None: it asks for none, unless ``auth``...
    :param auth: ...gives its ``auth`` configuration (a token server's).
    """
    binary = ensure_installed()
    config = directory / "config.yml"
    if credentials is not None:
        user, password = credentials
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        (directory / "htpasswd").write_text(f"{user}:{hashed}\n")
        auth = f"auth:\n  htpasswd:\n    realm: site\n    path: {directory / 'htpasswd'}\n"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + auth
    )
    log_path = directory / "registry.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(binary), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    registry = Registry(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"docker-registry exited:\n{log_path.read_text()}")
            try:
                if requests.get(f"{registry.url}/v2/", timeout=2).status_code in (200, 401):
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"docker-registry did not answer:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield registry
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
