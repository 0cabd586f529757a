"""The site's facts as its platform knows them, and the look-ups behind its health.

``[platform] source`` names where the facts (:data:`FACTS`) come from: the ``[agent]``
options (``config``), the site's StarlingX services (``starlingx``,
:mod:`dcmanager.agent.starlingx`), a command that prints them as a JSON object
(``command``) or a JSON file (``file``). What an operator gets:

- a fact the source does not give comes from the ``[agent]`` option of the same name
  (``deploy_status``: ``complete``) and is listed in :attr:`Facts.fallback`;
- a source that is configured but fails — unreachable, refused, an answer that makes no
  sense — is never silently replaced: its facts fall back as above *and* its reason is
  one of :attr:`Facts.problems`, which become the site's ``health_problem`` and so
  refuse prestages. An agent that cannot see its platform must not vouch for it.

Answers are reused for ``[platform] cache_seconds`` (the audit asks every site every
20 s or so); a precheck asks afresh. The probe of the site's registry (``[agent]
local_registry_url``) is such a look-up too, made at the same time as the source's.
"""

import concurrent.futures
import dataclasses
import json
import logging
import shlex
import subprocess
import threading
import weakref
from typing import Any

import requests
from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg

from dcmanager.agent import conf as agent_conf
from dcmanager.agent import starlingx
from dcmanager.common import clock as clock_module

LOG = logging.getLogger(__name__)
FACTS = (
    "system_mode",
    "controller0_active",
    "management_alarms",
    "deploy_status",
    "software_version",
)
SYSTEM_MODES = {"simplex": "simplex", "duplex": "duplex", "duplex-direct": "duplex"}
"""StarlingX's modes, and what the controller is told: a direct-connected duplex is a
duplex (two controllers) to every precheck."""
MAX_OUTPUT_BYTES = 1024 * 1024
"""The most a command may print, or a file hold."""
MAX_DEPLOY_STATUS = 64
"""The controller keeps a subcloud's deploy status in 64 characters."""


class SourceError(Exception):
    """The source failed as a whole; the message says why, for the operator."""


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the agent reports about its site, and how sure it is."""

    values: dict[str, Any]
    """Every fact of :data:`FACTS`."""
    fallback: tuple[str, ...]
    """The facts taken from the ``[agent]`` options, not from the platform."""
    problems: tuple[str, ...]
    """Why a configured look-up failed (the source, the registry probe)."""


def fallback_values(conf: cfg.ConfigOpts) -> dict[str, Any]:
    """The facts as the ``[agent]`` options state them."""
    agent = conf.agent
    return {
        "system_mode": agent.system_mode,
        "controller0_active": agent.controller0_active,
        "management_alarms": agent.management_alarms,
        "deploy_status": starlingx.NO_DEPLOYMENT,
        "software_version": agent.software_version,
    }


def check(name: str, value: Any) -> Any:
    """The fact's value as reported (a duplex-direct system is a duplex).

    :raises ValueError: the value cannot be that fact; the message says why.
    """
    if name == "system_mode":
        if value not in SYSTEM_MODES:
            raise ValueError(f"system_mode {value!r} (not one of {', '.join(SYSTEM_MODES)})")
        return SYSTEM_MODES[value]
    if name == "controller0_active":
        if not isinstance(value, bool):
            raise ValueError(f"controller0_active {value!r} (not true or false)")
        return value
    if name == "management_alarms":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"management_alarms {value!r} (not a count)")
        return value
    if name == "deploy_status":
        if not isinstance(value, str) or not 0 < len(value) <= MAX_DEPLOY_STATUS:
            raise ValueError(
                f"deploy_status {value!r} (not a word of at most {MAX_DEPLOY_STATUS} characters)"
            )
        return value
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} {value!r} (not a string)")
    return value


def parse_object(text: bytes, origin: str) -> dict[str, Any]:
    """The facts of a command's output or a file's content (other keys are ignored).

    :raises SourceError: not one JSON object.
    """
    if len(text) > MAX_OUTPUT_BYTES:
        raise SourceError(f"{origin} is larger than {MAX_OUTPUT_BYTES} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise SourceError(f"{origin} is not JSON") from None
    if not isinstance(data, dict):
        raise SourceError(f"{origin} is not a JSON object")
    return {name: data[name] for name in FACTS if name in data}


def run_command(command: str | None, timeout: float) -> dict[str, Any]:
    """The facts ``[platform] command`` prints.

    :raises SourceError: unset, does not run, fails, is too slow or prints no object.
    """
    try:
        argv = shlex.split(command or "")
    except ValueError as exc:
        raise SourceError(f"[platform] command cannot be split into words ({exc})") from None
    if not argv:
        raise SourceError("[platform] source = command needs [platform] command")
    origin = f"the command {argv[0]!r}"
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise SourceError(f"{origin} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise SourceError(f"{origin} cannot run ({exc})") from None
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise SourceError(f"{origin} exited with {done.returncode}: {last[0][:200]}".rstrip(": "))
    return parse_object(done.stdout, f"the output of {origin}")


def read_file(path: str | None) -> dict[str, Any]:
    """The facts ``[platform] file`` holds.

    :raises SourceError: unset, unreadable or not a JSON object.
    """
    if not path:
        raise SourceError("[platform] source = file needs [platform] file")
    try:
        with open(path, "rb") as stream:
            text = stream.read(MAX_OUTPUT_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read {path} ({exc.strerror or exc})") from None
    return parse_object(text, path)


def probe_registry(url: str, cafile: str | None, timeout: float) -> str | None:
    """Why the site's registry is unreachable, or None: its ``GET /v2/`` answers 200,
    or 401 (it is there, and wants the credentials pushes carry)."""
    try:
        response = requests.get(
            f"{url.rstrip('/')}/v2/", timeout=timeout, verify=cafile or True, allow_redirects=False
        )
    except requests.RequestException as exc:
        return f"the site's registry {url} is unreachable ({type(exc).__name__})"
    if response.status_code not in (200, 401):
        return f"the site's registry {url} answered {response.status_code} to GET /v2/"
    return None


class Reader:
    """The facts of one configuration, with the answers it reuses.

    Holds no reference to the configuration, which is read at each call (the
    ``[agent]`` fallbacks) and once here (the source's settings and session).
    """

    def __init__(self, conf: cfg.ConfigOpts, clock: clock_module.Clock = clock_module.SYSTEM):
        self._clock = clock
        self.source: str | None = None
        """``[platform] source``; None when the options cannot be read."""
        self._command: str | None = None
        self._file: str | None = None
        self._timeout = 5.0
        self._cache_seconds = 0.0
        self._registry: str | None = None
        self._registry_cafile: str | None = None
        self._client: starlingx.Client | None = None
        self._broken: str | None = None
        """Why the options cannot be used: every answer says so."""
        try:
            self._configure(conf)
        except (cfg.Error, ks_exc.ClientException) as exc:
            # oslo.config checks a value when it is read: a typo shows here, not at start.
            self._broken = f"the [platform] options cannot be used ({exc})"
        # Held while asking: callers at the same moment share one answer.
        self._lock = threading.Lock()
        self._answer: tuple[float, dict[str, Any], tuple[str, ...]] | None = None

    def _configure(self, conf: cfg.ConfigOpts) -> None:
        group = conf[agent_conf.PLATFORM_GROUP.name]
        self._timeout = group.request_timeout
        self._cache_seconds = group.cache_seconds
        self._registry = conf.agent.local_registry_url
        self._registry_cafile = conf.agent.local_registry_cafile
        self._command = group.command
        self._file = group.file
        if group.source == agent_conf.SOURCE_STARLINGX:
            self._client = starlingx.Client(conf)
        self.source = group.source

    def facts(self, conf: cfg.ConfigOpts, max_age: float | None = None) -> Facts:
        """The facts, from an answer at most ``max_age`` seconds old (default:
        ``[platform] cache_seconds``; 0: a new one).

        The ``[agent]`` options fill what the source did not give.
        """
        limit = self._cache_seconds if max_age is None else max_age
        with self._lock:
            now = self._clock.monotonic()
            if self._answer is None or now - self._answer[0] >= limit:
                found, problems = self._ask()
                self._log_change(problems)
                self._answer = (self._clock.monotonic(), found, problems)
            _, found, problems = self._answer
        values = fallback_values(conf)
        values.update(found)
        fallback = tuple(name for name in FACTS if name not in found)
        return Facts(values, fallback, problems)

    def _log_change(self, problems: tuple[str, ...]) -> None:
        """Log the problems when they change, not at every answer."""
        before = self._answer[2] if self._answer else ()
        if problems and problems != before:
            LOG.warning("The site is unhealthy: %s", "; ".join(problems))
        elif before and not problems:
            LOG.info("The site's look-ups succeed again")

    def _ask(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The source's facts (checked) and every problem, the registry probed meanwhile."""
        with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="platform") as pool:
            probe = (
                pool.submit(probe_registry, self._registry, self._registry_cafile, self._timeout)
                if self._registry
                else None
            )
            found, problems = self._read_source()
            registry_problem = probe.result() if probe else None
        checked = {}
        for name, value in found.items():
            try:
                checked[name] = check(name, value)
            except ValueError as exc:
                problems.append(f"{self._origin(name)} reported {exc}")
        if registry_problem:
            problems.append(registry_problem)
        return checked, tuple(problems)

    def _read_source(self) -> tuple[dict[str, Any], list[str]]:
        if self._broken:
            return {}, [f"the site's facts: {self._broken}"]
        if self.source == agent_conf.SOURCE_CONFIG:
            return {}, []
        if self._client is not None:
            return self._client.read()
        try:
            if self.source == agent_conf.SOURCE_COMMAND:
                return run_command(self._command, self._timeout), []
            return read_file(self._file), []
        except SourceError as exc:
            return {}, [f"the site's facts: {exc}"]

    def _origin(self, fact: str) -> str:
        """Who gave the fact, for the operator."""
        if self.source == agent_conf.SOURCE_STARLINGX:
            return next(s.label for s in starlingx.SERVICES.values() if fact in s.facts)
        if self.source == agent_conf.SOURCE_COMMAND:
            return "[platform] command"
        return f"[platform] file {self._file}"


_readers: dict[int, Reader] = {}
_readers_lock = threading.Lock()


def reader_for(conf: cfg.ConfigOpts) -> Reader:
    """The reader of this configuration object, made at its first use.

    The agent reads its facts through functions that take its configuration; keeping
    one reader per configuration (for the object's life) keeps the Keystone token and
    the cached answers between calls.
    """
    key = id(conf)
    with _readers_lock:
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = Reader(conf)
            weakref.finalize(conf, _forget, key)
        return reader


def _forget(key: int) -> None:
    # No lock: the collector runs this finalizer in whichever thread allocates when a
    # configuration dies, possibly one inside reader_for holding the lock already (a
    # plain Lock would deadlock it). One dict operation is atomic on its own.
    _readers.pop(key, None)
