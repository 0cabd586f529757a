"""Helm's release records, kept by the ``render`` backend in the state directory.

``apps/releases/<namespace>/<release>.json`` holds a release's history, oldest first,
as Helm keeps it: each revision with its chart (by digest, the archive in the blob
store), the values it was rendered with, and its status (``deployed``, ``superseded``,
``failed``). ``apps/manifests/<namespace>/<release>/<revision>/`` holds what that
revision rendered: ``manifest/`` (what is deployed) and ``phases/<phase>/`` (what each
lifecycle phase selected). A revision's directory is built aside and renamed into
place, and its record is written after it, so a crash never leaves a revision
recorded without its manifests. Uninstalling forgets the history, as ``helm
uninstall`` does; what its uninstall phase rendered stays in
``apps/uninstalled/<namespace>/<release>/<revision>/``.
"""

import json
import os
import shutil
import tempfile
from typing import Any

from dcmanager.agent import statedir

DEPLOYED, SUPERSEDED, FAILED = "deployed", "superseded", "failed"


class ReleaseRecords:
    def __init__(self, root: str) -> None:
        self.root = root
        self.records = os.path.join(root, "releases")
        self.manifests = os.path.join(root, "manifests")

    def _path(self, namespace: str, release: str) -> str:
        return os.path.join(self.records, namespace, f"{release}.json")

    def history(self, namespace: str, release: str) -> list[dict[str, Any]]:
        try:
            with open(self._path(namespace, release)) as handle:
                return json.load(handle)["history"]
        except FileNotFoundError:
            return []

    def revision(self, namespace: str, release: str, number: int) -> dict[str, Any] | None:
        found = [r for r in self.history(namespace, release) if r["revision"] == number]
        return found[0] if found else None

    def deployed(self, namespace: str, release: str) -> dict[str, Any] | None:
        found = [r for r in self.history(namespace, release) if r["status"] == DEPLOYED]
        return found[-1] if found else None

    def next_revision(self, namespace: str, release: str) -> int:
        history = self.history(namespace, release)
        return history[-1]["revision"] + 1 if history else 1

    def manifest_dir(self, namespace: str, release: str, revision: int) -> str:
        return os.path.join(self.manifests, namespace, release, str(revision))

    def add(
        self,
        namespace: str,
        release: str,
        entry: dict[str, Any],
        rendered: dict[str, dict[str, str]],
    ) -> None:
        """Record a new revision (``entry``, with its ``revision`` and ``status``) and
        what it rendered (``{"manifest": {path: text}, "phases/<p>": {...}}``); a
        deployed one supersedes the revision deployed before."""
        target = self.manifest_dir(namespace, release, entry["revision"])
        _write_tree(target, rendered)
        history = self.history(namespace, release)
        if entry["status"] == DEPLOYED:
            for earlier in history:
                if earlier["status"] == DEPLOYED:
                    earlier["status"] = SUPERSEDED
        history.append(entry)
        statedir.write_json(
            self._path(namespace, release),
            {"release": release, "namespace": namespace, "history": history},
        )

    def keep_uninstalled(
        self, namespace: str, release: str, revision: int, rendered: dict[str, dict[str, str]]
    ) -> None:
        """``apps/uninstalled/<namespace>/<release>/<revision>/``: what the uninstall
        of that revision rendered (its uninstall phase's jobs)."""
        where = os.path.join(self.root, "uninstalled", namespace, release, str(revision))
        _write_tree(where, {k: v for k, v in rendered.items() if k != "manifest"})

    def uninstall(self, namespace: str, release: str) -> bool:
        """Forget the release and its manifests; whether it was installed."""
        path = self._path(namespace, release)
        if not os.path.exists(path):
            return False
        os.unlink(path)
        shutil.rmtree(os.path.join(self.manifests, namespace, release), ignore_errors=True)
        return True


def _write_tree(target: str, rendered: dict[str, dict[str, str]]) -> None:
    """``target``/<part>/<template path> for every rendered file, whole or not at all."""
    parent = os.path.dirname(target)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    building = tempfile.mkdtemp(dir=parent, prefix=".revision-")
    try:
        for part, files in rendered.items():
            for path, text in files.items():
                where = os.path.join(building, part, path)
                os.makedirs(os.path.dirname(where), exist_ok=True)
                with open(where, "w") as out:
                    out.write(text)
        if os.path.exists(target):  # a revision written before a crash, not recorded
            shutil.rmtree(target)
        os.replace(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
