"""The agent's state directory (``[agent] state_dir``).

``blobs/sha256/ab/<hex>``
    every package file and image blob, once, by digest (shared by all releases);
``partial/<hex>``
    downloads under way (resumed after a restart);
``releases/<version>/images.json``
    written last, once the images phase is complete (the packages land in the
    site's deploy layout: :mod:`dcmanager.agent.layout`);
``operations/<id>.json``
    each operation's last known state (the password is never written).
"""

import json
import os
import tempfile
from typing import Any

from dcmanager.releases import store


class StateDir:
    """The paths of the layout above, under ``root``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs = store.BlobStore(os.path.join(root, "blobs"))
        self.partial = os.path.join(root, "partial")
        self.releases = os.path.join(root, "releases")
        self.operations = os.path.join(root, "operations")

    def create(self) -> None:
        """Make those of the directories above that do not exist yet (mode 0700)."""
        for directory in (self.blobs.root, self.partial, self.releases, self.operations):
            os.makedirs(directory, mode=0o700, exist_ok=True)

    def release(self, version: str) -> str:
        """``releases/<version>``."""
        return os.path.join(self.releases, version)

    def phase_file(self, version: str, phase: str) -> str:
        """``releases/<version>/<phase>.json``: there once ``phase`` is complete."""
        return os.path.join(self.release(version), f"{phase}.json")


def write_json(path: str, data: Any) -> None:
    """Write ``path`` whole or not at all."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
