"""Application versions: SemVer 2.0.0 where a version is one, exact strings otherwise.

A version string that is SemVer 2.0.0 (``1.2.3``, ``1.2.3-rc.1``, ``1.2.3+build.5``) is
ordered by SemVer's precedence (§11: pre-releases before their release, build metadata
ignored). Any other string (StarlingX's ``1.0-13``, ``24.09-1``) is accepted but has no
order: it can only be chosen by its exact string, and is never "latest".
"""

from collections.abc import Iterable

import semver

from dcmanager.common import exception

LATEST = "latest"


class AppNotFound(exception.NotFound):
    msg_fmt = "Application %(name)s not found"


class AppVersionNotFound(exception.NotFound):
    msg_fmt = "Application %(name)s has no version %(version)s"


class NoLatestVersion(exception.NotFound):
    msg_fmt = "Application %(name)s has no %(kind)s version to be latest"


def parse(text: str) -> semver.Version | None:
    """The SemVer 2.0.0 reading of ``text``, or None when it is not SemVer."""
    try:
        return semver.Version.parse(text)
    except (ValueError, TypeError):
        return None


def is_prerelease(text: str) -> bool:
    """Whether ``text`` is a SemVer pre-release (``1.2.3-rc.1``)."""
    parsed = parse(text)
    return parsed is not None and parsed.prerelease is not None


def same_precedence(text: str, others: Iterable[str]) -> str | None:
    """One of ``others`` with the same SemVer precedence as ``text`` (differing only in
    build metadata), if ``text`` is SemVer and there is one."""
    parsed = parse(text)
    if parsed is None:
        return None
    for other in others:
        if other != text and (found := parse(other)) is not None and found.compare(parsed) == 0:
            return other
    return None


def ordered(texts: Iterable[str]) -> list[str]:
    """In ascending precedence; the versions that are not SemVer last, as given."""
    texts = list(texts)
    semvers = sorted((t for t in texts if parse(t) is not None), key=parse)
    return semvers + [t for t in texts if parse(t) is None]


def latest(texts: Iterable[str], include_prerelease: bool = False) -> str | None:
    """The SemVer version of highest precedence (pre-releases only when asked for)."""
    candidates = [
        t
        for t in texts
        if (p := parse(t)) is not None and (include_prerelease or p.prerelease is None)
    ]
    return max(candidates, key=parse) if candidates else None


def select(name: str, texts: Iterable[str], wanted: str, include_prerelease: bool = False) -> str:
    """The version ``wanted`` names: an exact string first, else ``latest``; never a prefix
    (``1.9`` does not pick ``1.9.9``).

    :raises AppNotFound: there is no version of the application at all.
    :raises AppVersionNotFound: none is exactly ``wanted``.
    :raises NoLatestVersion: ``latest`` was asked for and no SemVer version qualifies.
    """
    texts = list(texts)
    if not texts:
        raise AppNotFound(name=name)
    if wanted in texts:
        return wanted
    if wanted == LATEST:
        found = latest(texts, include_prerelease)
        if found is None:
            kind = "SemVer" if include_prerelease else "SemVer release (not pre-release)"
            raise NoLatestVersion(name=name, kind=kind)
        return found
    raise AppVersionNotFound(name=name, version=wanted)
