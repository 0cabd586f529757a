"""The container images an application version needs at a site.

Each chart is rendered with real Helm (:func:`dcmanager.apps.charts.render`) with the
values the site gets (the operator's overrides of the chart), as deployed and under
each lifecycle phase's overlay (a phase may enable jobs with images of their own), each
as installed and as upgraded, and every container image of every pod template is
collected; the metadata's ``images`` list is added. An override of an image's repository or tag is
what the site will pull, so it is what is prestaged.
"""

import functools
import json
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

import yaml
from oslo_config import cfg

from dcmanager.apps import catalog
from dcmanager.apps import charts
from dcmanager.apps import operations
from dcmanager.apps import package
from dcmanager.db import apps as db_apps
from dcmanager.helm import maps
from dcmanager.releases import store

# The lists of containers in a pod spec (Kubernetes' names).
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def in_manifests(files: dict[str, str]) -> set[str]:
    """Every container image the rendered manifests name."""
    found: set[str] = set()
    for text in files.values():
        try:
            documents = list(yaml.safe_load_all(text))
        except (yaml.YAMLError, ValueError):
            # Helm renders text templates too (NOTES.txt); PyYAML raises ValueError
            # for some scalars it cannot construct (an impossible date).
            continue
        for document in documents:
            found.update(_images(document))
    return found


def _images(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CONTAINER_LISTS and isinstance(value, list):
                for container in value:
                    image = container.get("image") if isinstance(container, dict) else None
                    if isinstance(image, str) and image.strip():
                        yield image.strip()
            yield from _images(value)
    elif isinstance(node, list):
        for item in node:
            yield from _images(item)


def for_apps(conf: cfg.ConfigOpts, apps: Iterable[tuple[str, str]], subcloud_id: int) -> list[str]:
    """The images these applications (name, version of the catalog) need at a
    subcloud, with the operator's overrides of their charts (the application's, and
    the subcloud's own above them), sorted.

    :raises AppVersionGone: a version left the catalog.
    :raises HelmUnavailable, ChartInvalid, PackageInvalid: as :func:`needed`.
    """
    found: set[str] = set()
    for name, number in apps:
        version = next((v for v in db_apps.app_versions(name) if v.version == number), None)
        if version is None:
            raise db_apps.AppVersionGone(name=name, version=number)
        values = operations.site_chart_values(name, version, subcloud_id)
        found.update(needed(conf, version, values))
    return sorted(found)


def needed(
    conf: cfg.ConfigOpts, version: db_apps.AppVersion, values: dict[str, dict[str, Any]]
) -> list[str]:
    """The images ``version`` needs with these values (by release), sorted.

    :raises HelmUnavailable: the ``helm`` extra is not installed.
    :raises ChartInvalid: a chart does not render with these values.
    :raises PackageInvalid: the stored tarball is not whole any more.
    """
    limits = catalog.limits(conf)
    return list(
        _needed(
            conf.prestage.release_store,
            (limits.max_files, limits.max_unpacked_bytes),
            (version.name, version.version, version.digest),
            json.dumps(
                {
                    "images": version.details.get("images", []),
                    "phases": version.details.get("phases", {}),
                    "values": values,
                },
                sort_keys=True,
            ),
        )
    )


@functools.lru_cache(maxsize=64)
def _needed(
    release_store: str, limits: tuple[int, int], version: tuple[str, str, str], inputs: str
) -> tuple[str, ...]:
    """Cached by version and values: every site with the same values shares one render
    (a strategy over thousands of sites renders once per process)."""
    name, number, digest = version
    given = json.loads(inputs)
    found = set(given["images"])
    overlays = [{}] + [spec.get("values", {}) for spec in given["phases"].values()]
    with open(store.BlobStore(release_store).path(digest), "rb") as handle:
        data = handle.read()
    for release, (entry, archive) in package.charts_of(
        data, package.Limits(*limits), name, number
    ).items():
        base = given["values"].get(release, {})
        for overlay in overlays:
            # As installed and as upgraded: a template may name images for either only
            # (a migration job under .Release.IsUpgrade).
            for revision, upgrade in ((1, False), (2, True)):
                rendered = charts.render(
                    archive,
                    maps.merge_maps(base, overlay),
                    release,
                    entry.namespace,
                    revision,
                    upgrade,
                )
                found.update(in_manifests(rendered))
    return tuple(sorted(found))
