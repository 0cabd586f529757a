"""What applications the site has, for ``GET /v1/info`` (the audit compares it with the
controller's records).

The ``render`` backend keeps Helm's release records in the state directory
(:mod:`dcmanager.agent.apps.releases`), each revision naming the application version it
came from, and the uploaded tarballs as ``apps/files/<app>/<version>.tgz``. From
those, each application version is:

``applied``
    one of its releases is deployed at a revision of it (with the deployed revisions);
``apply-failed``
    the last revision of one of its releases failed;
``uploaded``
    its tarball is there and nothing of it is deployed.

The ``helm`` backend keeps the releases in the cluster's Helm storage, which the agent
does not list: it reports None (does not say), and so does anything the agent cannot
read.
"""

import json
import logging
import os
from typing import Any

from oslo_config import cfg

from dcmanager.agent import statedir
from dcmanager.agent.apps import releases

LOG = logging.getLogger(__name__)

APPLIED, APPLY_FAILED, UPLOADED = "applied", "apply-failed", "uploaded"


def _release_records(records: str) -> list[dict[str, Any]]:
    """Every release's record (its name, namespace and history), as
    ``apps/releases/<namespace>/<release>.json`` hold them (written whole, so never
    half-read)."""
    found: list[dict[str, Any]] = []
    if not os.path.isdir(records):
        return found
    for namespace in sorted(os.listdir(records)):
        folder = os.path.join(records, namespace)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith(".json") and not name.startswith("."):
                with open(os.path.join(folder, name)) as handle:
                    found.append(json.load(handle))
    return found


def _versions(apps_root: str) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(app: str, version: str) -> dict[str, Any]:
        return found.setdefault((app, version), {"failed": False, "releases": []})

    for record in _release_records(os.path.join(apps_root, "releases")):
        history = record["history"]
        deployed = [r for r in history if r["status"] == releases.DEPLOYED]
        if deployed:
            last = deployed[-1]
            entry(last["app"], last["app_version"])["releases"].append(
                {
                    "release": record["release"],
                    "namespace": record["namespace"],
                    **{key: last[key] for key in ("chart", "chart_version", "revision")},
                }
            )
        if history and history[-1]["status"] == releases.FAILED:
            entry(history[-1]["app"], history[-1]["app_version"])["failed"] = True
    files = os.path.join(apps_root, "files")
    for app in sorted(os.listdir(files)) if os.path.isdir(files) else []:
        for tarball in sorted(os.listdir(os.path.join(files, app))):
            if tarball.endswith(".tgz"):
                entry(app, tarball.removesuffix(".tgz"))
    return found


def applications(conf: cfg.ConfigOpts, state: statedir.StateDir) -> list[dict[str, Any]] | None:
    """Each application version at the site with its state (see the module), sorted by
    name and version; None when the site's backend keeps them where the agent does
    not look, or they cannot be read."""
    if conf.agent.app_backend != "render":
        return None
    try:
        found = _versions(os.path.join(state.root, "apps"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        LOG.warning("Cannot tell the applications at the site: %s", exc)
        return None
    return [
        {
            "name": app,
            "version": version,
            "status": APPLY_FAILED if data["failed"] else APPLIED if data["releases"] else UPLOADED,
            "releases": sorted(data["releases"], key=lambda r: (r["namespace"], r["release"])),
        }
        for (app, version), data in sorted(found.items())
    ]
