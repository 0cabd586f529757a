"""The grammar of a subcloud's ``endpoint``, shared by the API (which refuses a bad one
at the edge) and the drivers (which read it): the scheme picks the driver, and each
scheme's options are spelled here.

``simulated://NAME?OPTIONS``
    an in-process simulated site; the options are :data:`SIMULATOR_OPTIONS` (see
    :mod:`dcmanager.drivers.simulator` for what each does).
``http(s)://HOST[:PORT][/PATH]``
    a site running ``dcmanager-agent``.

Every endpoint is a URL of at most :data:`MAX_LENGTH` printable characters with a scheme
and a host (or name) and, when given, a port from 1 to 65535. Endpoints of schemes no
driver serves are accepted: their steps fail at precheck.
"""

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from dcmanager.common import exception

MAX_LENGTH = 1024
SIMULATED = "simulated"
# Used with fullmatch: "$" would also match before a trailing newline.
_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.-]*")
SIMULATED_PHASES = (
    "precheck",
    "packages",
    "images",
    "app-upload",
    "app-apply",
    "app-rollback",
    "app-test",
    "app-cleanup",
    "app-recover",
    "app-remove",
)
"""The phases a simulated site can be told to fail (``fail=``, comma-separated)."""
SYSTEM_MODES = ("simplex", "duplex")


def scheme(endpoint: str) -> str:
    """The endpoint's scheme, lower case (what names its driver)."""
    return urllib.parse.urlsplit(endpoint).scheme.lower()


def _bool(name: str) -> Callable[[str], bool]:
    def parse(value: str) -> bool:
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"{name} must be true or false")

    return parse


def _non_negative(convert: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = convert(value)
        except ValueError:
            number = -1
        if not number >= 0:  # also refuses NaN
            raise ValueError(f"{name} must be a number of at least 0")
        return number

    return parse


def _choice(choices: tuple[str, ...], name: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}")
        return value

    return parse


def _choices(choices: tuple[str, ...], name: str) -> Callable[[str], frozenset[str]]:
    one = _choice(choices, name)

    def parse(value: str) -> frozenset[str]:
        return frozenset(one(part) for part in value.split(","))

    return parse


SITE_APP_STATES = ("applied", "apply-failed", "uploaded")
"""The states of an application a site tells by itself (a simulated one: ``apps=``)."""


def _versions(value: str) -> tuple[str, ...]:
    """``24.09,25.09`` (or empty: none), sorted."""
    return tuple(sorted({version for version in value.split(",") if version}))


def _site_apps(value: str) -> tuple[tuple[str, str, str], ...]:
    """``NAME@VERSION[:STATE],...`` (or empty: none), the state ``applied`` by default."""
    found = []
    for entry in filter(None, value.split(",")):
        label, _, state = entry.partition(":")
        name, _, version = label.partition("@")
        if not name or not version or (state or "applied") not in SITE_APP_STATES:
            raise ValueError(
                f"apps must be NAME@VERSION[:STATE],... with STATE one of "
                f"{', '.join(SITE_APP_STATES)}"
            )
        found.append((name, version, state or "applied"))
    return tuple(found)


SIMULATOR_OPTIONS: dict[str, tuple[Callable[[str], Any], Any]] = {
    "delay": (_non_negative(float, "delay"), 0.0),
    "fail": (_choices(SIMULATED_PHASES, "fail"), frozenset()),
    "offline": (_bool("offline"), False),
    "system_mode": (_choice(SYSTEM_MODES, "system_mode"), "simplex"),
    "alarms": (_non_negative(int, "alarms"), 0),
    "controller0_active": (_bool("controller0_active"), True),
    "image_list": (_bool("image_list"), True),
    "deploy_status": (str, "complete"),
    "free_disk_gb": (_non_negative(float, "free_disk_gb"), 100.0),
    "software_version": (str, None),
    "prestaged": (_versions, None),
    "apps": (_site_apps, None),
}
"""Each option of a simulated endpoint: its parser and its default."""


def simulator_options(endpoint: str) -> dict[str, Any]:
    """A simulated endpoint's options with defaults filled in.

    :raises ValueError: an unknown option or a bad value, saying which.
    """
    query = urllib.parse.urlsplit(endpoint).query
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    options = {name: default for name, (_, default) in SIMULATOR_OPTIONS.items()}
    for name, value in pairs:
        if name not in SIMULATOR_OPTIONS:
            raise ValueError(f"unknown option '{name}' (known: {', '.join(SIMULATOR_OPTIONS)})")
        options[name] = SIMULATOR_OPTIONS[name][0](value)
    return options


def validate(endpoint: Any) -> str:
    """Check an endpoint against the grammar; returns it.

    :raises Invalid: the endpoint is not usable, saying why (never echoing it: it may
        carry credentials).
    """
    error = exception.Invalid(
        f"Invalid endpoint: must be a URL of at most {MAX_LENGTH} characters with a "
        "scheme and a host or name, such as https://host:port or simulated://name"
    )
    if (
        not isinstance(endpoint, str)
        or len(endpoint) > MAX_LENGTH
        or not endpoint.isprintable()
        or any(char.isspace() for char in endpoint)
    ):
        raise error
    try:
        parts = urllib.parse.urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise error from exc
    if not _SCHEME_RE.fullmatch(parts.scheme) or not parts.netloc or not parts.hostname:
        raise error
    if parts.scheme == SIMULATED:
        try:
            simulator_options(endpoint)
        except ValueError as exc:
            raise exception.Invalid(f"Invalid endpoint: simulated subcloud {exc}") from exc
    return endpoint
