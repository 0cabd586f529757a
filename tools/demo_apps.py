"""The application part of the demo: two versions of an application in the catalog,
applied on a few simulated subclouds, then updated to the latest by an app-update
strategy, one site's update failing and recovering the version it ran."""

import hashlib
import io
import os
import tarfile
import time
import urllib.error
from collections.abc import Callable

import yaml

SITES = ("subcloud01", "subcloud02", "subcloud03")
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
"""


def _packed(files: dict[str, bytes], top: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(f"{top}/{path}" if top else path)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _chart(name: str, version: str) -> bytes:
    files = {
        "Chart.yaml": yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}),
        "values.yaml": "replicas: 1\n",
        "templates/deployment.yaml": DEPLOYMENT,
    }
    return _packed({path: text.encode() for path, text in files.items()}, top=name)


def make_app(state: str, version: str, charts: tuple[tuple[str, str], ...]) -> str:
    """An application tarball of ``demo`` at ``version`` with these charts."""
    files = {
        "metadata.yaml": yaml.safe_dump(
            {
                "app_name": "demo",
                "app_version": version,
                "images": [f"registry.local:9001/demo/api:{version}"],
            }
        ).encode()
    }
    for name, chart_version in charts:
        files[f"charts/{name}-{chart_version}.tgz"] = _chart(name, chart_version)
    files["checksum.md5"] = "".join(
        f"{hashlib.md5(data, usedforsecurity=False).hexdigest()}  {path}\n"
        for path, data in files.items()
    ).encode()
    path = os.path.join(state, f"demo-{version}.tgz")
    with open(path, "wb") as out:
        out.write(_packed(files))
    return path


def _wait_gone(call: Callable[..., object], url: str, timeout: float = 30) -> None:
    """Until ``url`` answers 404 (the orchestrator removed what was deleted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            call("GET", url)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return
            raise
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {url} to go")


def run(
    state: str,
    api: str,
    dcmanager: Callable[..., int],
    call: Callable[..., object],
) -> None:
    print("\nApplications: two versions of 'demo' into the catalog, applied on three")
    print("subclouds, then updated to the latest by an app-update strategy; subcloud03's")
    print("update is made to fail.")
    dcmanager("app", "upload", make_app(state, "1.0.0", (("demo-api", "0.1.0"),)))
    dcmanager(
        "app", "upload", make_app(state, "1.1.0", (("demo-api", "0.2.0"), ("demo-db", "0.1.0")))
    )
    dcmanager("app", "list")
    for site in SITES:
        dcmanager("subcloud", "app", "apply", site, "demo", "--version", "1.0.0", "-c", "status")
    for site in SITES:
        dcmanager("subcloud", "app", "show", site, "demo", "--watch", "--interval", "0.3")
    call(
        "PATCH",
        f"{api}/subclouds/subcloud03",
        {"endpoint": "simulated://subcloud03?delay=0.3&fail=app-apply"},
    )
    # One strategy at a time: the prestage strategy goes first.
    dcmanager("prestage-strategy", "delete", "--yes", "-c", "state")
    _wait_gone(call, f"{api}/sw-update-strategy")
    dcmanager("subcloud-group", "add", "--name", "apps", "-c", "name")
    for site in SITES:
        dcmanager("subcloud", "update", site, "--group", "apps", "-c", "name")
    dcmanager("app-update-strategy", "create", "--app", "demo", "--group", "apps")
    dcmanager("app-update-strategy", "apply", "-c", "state")
    dcmanager("app-update-strategy", "watch", "--interval", "0.3")
    dcmanager("subcloud", "app", "show", "subcloud01", "demo")
    dcmanager("subcloud", "app", "show", "subcloud03", "demo")
