"""What a large upload costs the API's memory (a real dcmanager-api behind Keystone): a
reader's blob upload is refused before a byte is read, whatever its declared type, and
an admin's streams to the store. The resident memory of the API process is sampled all
along.

The size is ``DCMANAGER_TEST_UPLOAD_MB`` (64 MiB by default; the README gives the figures
of a 1 GiB run).
"""

import hashlib
import http.client
import os
import threading

import pytest

from tests import databases
from tests import services as test_services
from tests.e2e import deployment as e2e

MIB = 1024**2
UPLOAD_BYTES = int(os.environ.get("DCMANAGER_TEST_UPLOAD_MB", "64")) * MIB
CHUNK = b"dcmanager upload memory test ".ljust(MIB, b".")
# Most the API's resident memory may grow while a refused / accepted upload goes on.
REFUSED_GROWTH = 20 * MIB
STREAMED_GROWTH = 50 * MIB


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


class PeakMemory:
    """The largest resident memory of a process while the block runs (sampled)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = _rss(pid)
        self.peak = self.before
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, _rss(self.pid))

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _rss(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.before


def _digest() -> str:
    hasher = hashlib.sha256()
    for _ in range(UPLOAD_BYTES // MIB):
        hasher.update(CHUNK)
    return "sha256:" + hasher.hexdigest()


def _put(port: int, digest: str, token: str, content_type: str) -> tuple[int, bytes]:
    """PUT the blob, streamed, with its Content-Length; the answer (which may come
    before the whole body is sent)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.putrequest("PUT", f"/v1.0/blobs/{digest}")
        connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", str(UPLOAD_BYTES))
        connection.putheader("X-Auth-Token", token)
        connection.endheaders()
        try:
            for _ in range(UPLOAD_BYTES // MIB):
                connection.send(CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered without reading the body
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def api(tmp_path, services, keystone):
    """dcmanager-api alone, behind Keystone, on SQLite."""
    with databases.temporary_database("sqlite", tmp_path) as url:
        deployment = e2e.Deployment(
            tmp_path, services, url, test_services.require_rabbitmq(), keystone=keystone
        )
        deployment.start(e2e.API)
        yield deployment
        deployment.stop_all()


def test_a_large_upload_costs_the_api_no_memory(api, keystone):
    (process,) = api.running(e2e.API)
    digest = _digest()

    with PeakMemory(process.process.pid) as refused:
        status, body = _put(api.port, digest, keystone.token(keystone.viewer), "application/json")
    assert status == 403, body
    with PeakMemory(process.process.pid) as streamed:
        status, body = _put(
            api.port, digest, keystone.token(keystone.admin), "application/octet-stream"
        )
    assert status == 201, body

    print(
        f"{UPLOAD_BYTES // MIB} MiB upload: refused (reader) API RSS +{refused.growth / MIB:.1f} "
        f"MiB, streamed (admin) +{streamed.growth / MIB:.1f} MiB"
    )
    assert refused.growth < REFUSED_GROWTH
    assert streamed.growth < STREAMED_GROWTH
    stored = api.tmp_path / "state" / "releases" / "sha256" / digest[7:9] / digest[7:]
    assert stored.stat().st_size == UPLOAD_BYTES
