"""Whether the agent takes a request to start an operation: the body parsed into a
record, and the sysadmin password checked against ``[agent] sysadmin_password_hash``."""

import hmac
import math
import os
import re
import threading
import urllib.parse
from typing import Any

from oslo_config import cfg

from dcmanager.agent import images
from dcmanager.agent import passwords
from dcmanager.agent import records
from dcmanager.agent.apps import requests as app_requests

# The most images an images operation may name besides its release's.
MAX_IMAGES = 1000
# Operation ids and release names become file names.
_ID = re.compile(r"[A-Za-z0-9:-]{1,128}")
_RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Refused(Exception):
    """A request the agent will not run; the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse(body: Any, repositories: list[str], registries: list[str]) -> records.Record:
    """The operation ``body`` asks for (not yet running, with no password).

    :param repositories: the controllers the agent may fetch from (``[agent]
        repository_urls``).
    :param registries: the registries it may pull from (``[agent] registry_urls``).
    :raises Refused: the body is malformed (400; the message names every bad field), or
        names a controller or registry the agent does not trust (403).
    """
    if not isinstance(body, dict):
        raise Refused("the body must be a JSON object")
    app = body.get("kind") in records.APP_KINDS
    if app:
        # An application operation names its version, not a release.
        body = {**body, "release": _app_label(body.get("app"))}
    problems = _problems(body) + (
        app_requests.problems(body["kind"], body.get("app")) if app else []
    )
    if problems:
        raise Refused("; ".join(problems))
    _check_trusted(body["repository_url"], repositories, "repository_url", "repository_urls")
    if body.get("registry_url"):
        _check_trusted(body["registry_url"], registries, "registry_url", "registry_urls")
    return records.Record(
        id=body["id"],
        kind=body["kind"],
        release=body["release"],
        repository_url=body["repository_url"].rstrip("/"),
        registry_url=(body.get("registry_url") or "").rstrip("/") or None,
        max_bandwidth=body.get("max_bandwidth"),
        app=body.get("app") if app else None,
        images=list(dict.fromkeys(body.get("images") or [])),
        for_install=body.get("for_install") is True,
    )


def needs_password(record: records.Record) -> bool:
    """Whether the operation is a prestage (which the sysadmin password guards, as at
    StarlingX sites); application operations are authorised by the caller's token."""
    return record.app is None


def _app_label(app: Any) -> str:
    """The operation's ``release`` label: the application's name (a version may hold
    characters a release label may not, such as SemVer's ``+``)."""
    if isinstance(app, dict) and isinstance(app.get("app"), str):
        return app["app"]
    return "app"


def _check_trusted(url: str, trusted: list[str], field: str, option: str) -> None:
    """:raises Refused: (403) ``url`` is not one of ``trusted``."""
    if not trusted:
        raise Refused(
            f"the agent trusts no URL for '{field}' yet: set [agent] {option}", status=403
        )
    if url.rstrip("/") not in {entry.rstrip("/") for entry in trusted}:
        raise Refused(f"'{field}' is not one this agent trusts ([agent] {option})", status=403)


def _problems(body: dict[str, Any]) -> list[str]:
    problems = []
    for name in ("id", "kind", "release", "repository_url"):
        if not isinstance(body.get(name), str) or not body[name]:
            problems.append(f"'{name}' is required (a string)")
    if body.get("kind") not in records.KINDS:
        problems.append(f"'kind' must be one of {', '.join(records.KINDS)}")
    if isinstance(body.get("id"), str) and not _ID.fullmatch(body["id"]):
        problems.append("'id' may hold only letters, digits, ':' and '-' (128 at most)")
    if isinstance(body.get("release"), str) and not _RELEASE.fullmatch(body["release"]):
        problems.append(
            "'release' may hold only letters, digits, '.', '_' and '-' (64 at most, "
            "not starting with '.')"
        )
    for name in ("repository_url", "registry_url"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, str)
            or urllib.parse.urlsplit(value).scheme not in ("http", "https")
        ):
            problems.append(f"'{name}' must be an http(s) URL")
    bandwidth = body.get("max_bandwidth")
    if bandwidth is not None and (
        isinstance(bandwidth, bool)
        or not isinstance(bandwidth, (int, float))
        or not math.isfinite(bandwidth)
        or bandwidth <= 0
    ):
        problems.append("'max_bandwidth' must be a positive number of bytes per second")
    if body.get("for_install") is not None and not isinstance(body["for_install"], bool):
        problems.append("'for_install' must be true or false")
    return problems + _image_problems(body)


def _image_problems(body: dict[str, Any]) -> list[str]:
    """``images``: more images for an images operation to fetch (an application's)."""
    names = body.get("images")
    if names is None:
        return []
    if body.get("kind") != records.IMAGES:
        return ["'images' is for an images operation only"]
    if not isinstance(names, list) or len(names) > MAX_IMAGES:
        return [f"'images' must be a list of at most {MAX_IMAGES} image references"]
    for name in names:
        try:
            if not isinstance(name, str):
                raise images.ImageError(f"image {name!r}: not a string")
            images.parse(name)
        except images.ImageError as exc:
            return [f"'images': {exc}"]
    return []


class PasswordCheck:
    """Checks the sysadmin password of each request (thread-safe).

    scrypt is slow on purpose; a password that matched once is remembered (as a keyed
    hash, in memory, with a key of this process) so the phases of a prestage do not pay
    it again.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self._session_key = os.urandom(32)
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()

    def check(self, password: Any) -> None:
        """:raises Refused: (403) no hash is configured, or ``password`` does not match."""
        encoded = self.conf.agent.sysadmin_password_hash
        if not encoded:
            raise Refused(
                "the agent has no sysadmin password hash ([agent] sysadmin_password_hash): "
                "it refuses every prestage",
                status=403,
            )
        try:
            password_bytes = password.encode()
        except (AttributeError, UnicodeEncodeError):  # not a string, or lone surrogates
            raise Refused("the sysadmin password does not match", status=403) from None
        seen = hmac.new(self._session_key, encoded.encode() + b"\0" + password_bytes, "sha256")
        seen = seen.digest()
        if seen in self._verified:
            return
        if not passwords.verify(password_bytes, encoded):
            raise Refused("the sysadmin password does not match", status=403)
        with self._lock:
            self._verified.add(seen)
