"""``dcmanager release ...``: the release store."""

import hashlib
import os
import pathlib
from typing import Any

from cliff import command
from cliff import lister
from cliff import show

from dcmanager.cli.client import CommandError
from dcmanager.cli.client import quote

LIST_COLUMNS = ("version", "file-count", "bytes", "image-count", "created-at")


def detail(release: dict[str, Any], **more: Any) -> tuple[tuple[str, ...], tuple]:
    fields = {key: release.get(key) for key in LIST_COLUMNS}
    fields["images"] = "\n".join(release.get("images") or ())
    fields.update(more)
    return tuple(name.replace("-", "_") for name in fields), tuple(fields.values())


def scan_packages(directory: str) -> list[dict[str, Any]]:
    """Every regular file under ``directory``: its relative path, size and sha256.

    :raises CommandError: the directory cannot be read, or holds a symbolic link (what
        it points at would not be prestaged).
    """
    root = pathlib.Path(directory)
    if not root.is_dir():
        raise CommandError(f"--packages {directory}: not a directory")
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise CommandError(f"{path}: symbolic links cannot be uploaded; copy the file")
        if not path.is_file():
            continue
        with open(path, "rb") as data:
            digest = hashlib.file_digest(data, "sha256").hexdigest()
        files.append(
            {
                "path": path.relative_to(root).as_posix(),
                "size": path.stat().st_size,
                "digest": f"sha256:{digest}",
            }
        )
    return files


def read_image_list(path: str) -> list[str]:
    """Image references, one per line; blank lines and ``#`` comments skipped."""
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"--image-list {path}: {exc}") from exc
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class UploadRelease(show.ShowOne):
    """Upload a release: its package files (only those the store lacks) and image list."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--version", required=True, metavar="MM.mm", help="The release.")
        parser.add_argument(
            "--packages", metavar="DIR", help="Directory of the release's package files."
        )
        parser.add_argument(
            "--image-list",
            metavar="FILE",
            help="File naming the release's container images, one reference per line.",
        )
        return parser

    def take_action(self, parsed_args):
        files = scan_packages(parsed_args.packages) if parsed_args.packages else []
        images = read_image_list(parsed_args.image_list) if parsed_args.image_list else []
        client = self.app.client
        sent_blobs = sent_bytes = 0
        seen: set[str] = set()
        for item in files:
            if item["digest"] in seen or client.has_blob(item["digest"]):
                continue
            seen.add(item["digest"])
            with open(os.path.join(parsed_args.packages, item["path"]), "rb") as data:
                client.put_blob(item["digest"], data, item["size"])
            sent_blobs += 1
            sent_bytes += item["size"]
        release = client.post(
            "/releases", {"version": parsed_args.version, "files": files, "images": images}
        )
        return detail(release, blobs_uploaded=sent_blobs, bytes_uploaded=sent_bytes)


class ListReleases(lister.Lister):
    """List the releases in the store, the most recently uploaded first."""

    def take_action(self, parsed_args):
        releases = self.app.client.get("/releases")["releases"]
        return (
            tuple(c.replace("-", "_") for c in LIST_COLUMNS),
            [tuple(r.get(c) for c in LIST_COLUMNS) for r in releases],
        )


class ShowRelease(show.ShowOne):
    """Show a release: its totals and images (with -f json or yaml, its files too)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("version", help="The release (MM.mm).")
        return parser

    def take_action(self, parsed_args):
        release = self.app.client.get(f"/releases/{quote(parsed_args.version)}")
        if parsed_args.formatter in ("json", "yaml"):
            return detail(release, files=release.get("files"))
        return detail(release)


class DeleteRelease(command.Command):
    """Delete a release, and the package files no other release uses."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("version", help="The release (MM.mm).")
        return parser

    def take_action(self, parsed_args):
        self.app.client.delete(f"/releases/{quote(parsed_args.version)}")
