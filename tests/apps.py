"""Application tarballs and charts for the tests, built in memory."""

import hashlib
import io
import tarfile

import yaml

# A chart template that renders only when its manifests switch is on (seed 003).
SWITCHED_JOB = """{{- if .Values.manifests.%(switch)s }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-%(name)s
spec:
  template:
    spec:
      containers:
        - name: %(name)s
          image: {{ .Values.image }}
      restartPolicy: Never
{{- end }}
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: app
          image: {{ .Values.image }}
"""


def chart_files(name: str, version: str, jobs: tuple[str, ...] = ()) -> dict[str, bytes]:
    """A chart directory's files (relative to the chart): a deployment, and one job per
    entry of ``jobs`` that renders only when ``manifests.<job>`` is true."""
    values = {
        "replicas": 1,
        "image": f"registry.local:9001/stx/{name}:{version}",
        "manifests": {job.replace("-", "_"): False for job in jobs},
    }
    files = {
        "Chart.yaml": yaml.safe_dump(
            {"apiVersion": "v2", "name": name, "version": version, "type": "application"}
        ).encode(),
        "values.yaml": yaml.safe_dump(values).encode(),
        "templates/deployment.yaml": DEPLOYMENT.encode(),
    }
    for job in jobs:
        files[f"templates/{job}.yaml"] = (
            SWITCHED_JOB % {"switch": job.replace("-", "_"), "name": job}
        ).encode()
    return files


def packed(files: dict[str, bytes], top: str = "") -> bytes:
    """A gzipped tar of ``files`` (under ``top/`` when given)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(f"{top}/{path}" if top else path)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def packaged_chart(name: str, version: str, jobs: tuple[str, ...] = ()) -> bytes:
    return packed(chart_files(name, version, jobs), top=name)


def app_tarball(
    name: str | None = "demo",
    version: str | None = "1.0.0",
    charts: tuple[tuple[str, str], ...] = (("demo-api", "0.1.0"),),
    metadata: dict | None = None,
    checksums: bool = True,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """An application tarball: ``metadata.yaml`` (app_name and app_version unless None,
    plus ``metadata``), one packaged chart per (name, version), a checksum.md5."""
    meta = dict(metadata or {})
    if name is not None:
        meta.setdefault("app_name", name)
    if version is not None:
        meta.setdefault("app_version", version)
    files = {"metadata.yaml": yaml.safe_dump(meta).encode()}
    for chart_name, chart_version in charts:
        files[f"charts/{chart_name}-{chart_version}.tgz"] = packaged_chart(
            chart_name, chart_version, ("job-db-init", "job-db-drop")
        )
    files.update(extra or {})
    if checksums:
        files["checksum.md5"] = "".join(
            f"{hashlib.md5(content).hexdigest()}  {path}\n" for path, content in files.items()
        ).encode()
    return packed(files)
