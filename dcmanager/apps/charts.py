"""Helm charts, read with real Helm when the ``helm`` extra is installed.

``pip install dcmanager[helm]`` brings helm-python-sdk (Helm's own Go SDK behind a C
ABI): charts are then loaded, and rendered, exactly as Helm does. Without it the core
service still runs: a chart is read structurally (its ``Chart.yaml`` and templates), and
rendering says that Helm is needed. Every use of Helm goes through this module.
"""

import dataclasses
import io
import tarfile
from typing import Any

import yaml

from dcmanager.common import exception

try:  # the optional extra
    import helm_python
except ImportError:  # pragma: no cover - depends on what is installed
    helm_python = None


class ChartInvalid(exception.Invalid):
    msg_fmt = "Chart %(chart)s: %(reason)s"


class HelmUnavailable(exception.DCManagerException):
    msg_fmt = "Rendering charts needs Helm: install dcmanager[helm] (helm-python-sdk)"


@dataclasses.dataclass(frozen=True)
class ChartInfo:
    name: str
    version: str
    templates: tuple[str, ...]
    """The template files, relative to the chart (``templates/job-db-init.yaml``)."""


def helm_available() -> bool:
    return helm_python is not None


def load(label: str, archive: bytes) -> ChartInfo:
    """What a packaged chart (``.tgz``) holds.

    :param label: how errors name the chart (its path in the application).
    :raises ChartInvalid: Helm (or, without it, the structure) refuses it.
    """
    if helm_python is not None:
        return _load_with_helm(label, archive)
    return _load_structurally(label, archive)


def _load_with_helm(label: str, archive: bytes) -> ChartInfo:
    try:
        chart = helm_python.Chart.load_archive(archive)
    except helm_python.HelmError as exc:
        raise ChartInvalid(chart=label, reason=str(exc)) from None
    try:
        return ChartInfo(
            name=chart.name,
            version=chart.version,
            templates=tuple(sorted(t["name"] for t in chart.templates)),
        )
    finally:
        chart.close()


def _load_structurally(label: str, archive: bytes) -> ChartInfo:
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as packed:
            members = {m.name: m for m in packed.getmembers() if m.isfile()}
            definitions = [
                name for name in members if name.count("/") == 1 and name.endswith("/Chart.yaml")
            ]
            if len(definitions) != 1:
                raise ChartInvalid(chart=label, reason="no Chart.yaml at the top of the archive")
            root = definitions[0].split("/")[0]
            metadata = yaml.safe_load(packed.extractfile(members[definitions[0]]).read())
    except (tarfile.TarError, OSError, EOFError, yaml.YAMLError) as exc:
        raise ChartInvalid(chart=label, reason=f"not a packaged chart ({exc})") from None
    if not isinstance(metadata, dict) or not metadata.get("name") or not metadata.get("version"):
        raise ChartInvalid(chart=label, reason="Chart.yaml has no name or version")
    prefix = f"{root}/"
    templates = sorted(
        name[len(prefix) :] for name in members if name.startswith(f"{prefix}templates/")
    )
    return ChartInfo(str(metadata["name"]), str(metadata["version"]), tuple(templates))


def render(
    archive: bytes,
    values: dict[str, Any],
    release: str,
    namespace: str,
    revision: int = 1,
    upgrade: bool = False,
) -> dict[str, str]:
    """The chart's manifests rendered with ``values``, by template path (``chart/
    templates/x.yaml``); templates that render to nothing are left out.

    :raises HelmUnavailable: the ``helm`` extra is not installed.
    :raises ChartInvalid: Helm cannot load or render it.
    """
    if helm_python is None:
        raise HelmUnavailable()
    try:
        # A chart is loaded afresh for each render: rendering with a subchart disabled
        # removes it from the loaded chart.
        chart = helm_python.Chart.load_archive(archive)
    except helm_python.HelmError as exc:
        raise ChartInvalid(chart=release, reason=str(exc)) from None
    try:
        rendered = chart.render(
            values,
            name=release,
            namespace=namespace,
            revision=revision,
            is_install=not upgrade,
            is_upgrade=upgrade,
        )
    except helm_python.HelmError as exc:
        raise ChartInvalid(chart=release, reason=str(exc)) from None
    finally:
        chart.close()
    return {path: text for path, text in rendered.items() if text.strip()}
