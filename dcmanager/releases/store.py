"""Content-addressed blob store of the release packages on the system controller.

A blob is stored once under its sha256, whatever releases name it: the path is
``ROOT/sha256/<first two hex digits>/<hex digest>``. A blob is written to a temporary
file in the same directory, hashed while it is written, and renamed into place only
once its digest and size are right, so a blob that exists is always complete and
correct, whoever crashed while writing one.
"""

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

DIGEST_PREFIX = "sha256:"
_HEX = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


class BlobError(Exception):
    """A blob that cannot be stored as given; the message says why."""


def parse_digest(digest: str) -> str:
    """The hex part of ``sha256:<64 lowercase hex digits>``.

    :raises BlobError: anything else.
    """
    if not digest.startswith(DIGEST_PREFIX) or not _HEX.match(digest[len(DIGEST_PREFIX) :]):
        raise BlobError(f"'{digest}' is not a digest: expected sha256: and 64 lowercase hex digits")
    return digest[len(DIGEST_PREFIX) :]


class BlobStore:
    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, digest: str) -> str:
        hex_digest = parse_digest(digest)
        return os.path.join(self.root, "sha256", hex_digest[:2], hex_digest)

    def has(self, digest: str) -> bool:
        return os.path.isfile(self.path(digest))

    def size(self, digest: str) -> int | None:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            return None

    def put(self, digest: str, stream: BinaryIO, size: int | None = None) -> bool:
        """Store the blob read from ``stream``; whether it was new.

        :param size: the length announced (Content-Length), checked when given.
        :raises BlobError: the bytes do not match ``digest`` (or ``size``); nothing is kept.
        """
        final = self.path(digest)
        try:
            # Uploaded again: it starts its grace before the collector again.
            os.utime(final)
        except FileNotFoundError:
            pass
        else:
            # Still read the body, so the connection stays usable.
            for _ in iter(lambda: stream.read(CHUNK), b""):
                pass
            return False
        directory = os.path.dirname(final)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        hasher = hashlib.sha256()
        written = 0
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in iter(lambda: stream.read(CHUNK), b""):
                    hasher.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size is not None and written != size:
                raise BlobError(f"received {written} bytes of the {size} announced")
            actual = DIGEST_PREFIX + hasher.hexdigest()
            if actual != digest:
                raise BlobError(f"the content's digest is {actual}, not {digest}")
            os.chmod(temporary, 0o644)
            os.replace(temporary, final)
            return True
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def modified(self, digest: str) -> float:
        """When the blob was last written or uploaded again (seconds since the epoch);
        ``inf`` when it is gone."""
        try:
            return os.stat(self.path(digest)).st_mtime
        except FileNotFoundError:
            return float("inf")

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def digests(self) -> Iterator[str]:
        """Every stored blob's digest."""
        base = os.path.join(self.root, "sha256")
        if not os.path.isdir(base):
            return
        for prefix in sorted(os.listdir(base)):
            for name in sorted(os.listdir(os.path.join(base, prefix))):
                if _HEX.match(name):
                    yield DIGEST_PREFIX + name
