"""The system controller's release store, as one operation reads it: the release's
description, then its package files by digest."""

import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import requests

from dcmanager.agent import records
from dcmanager.agent import transfer
from dcmanager.common import retry


class ReleaseStore:
    """The release store at ``url`` (``repository_url`` of the operation)."""

    def __init__(
        self,
        get: Callable[..., requests.Response],
        url: str,
        timeout: float,
        policy: retry.RetryPolicy,
        cancelled: threading.Event,
    ) -> None:
        """
        :param get: ``GET url`` on the system controller (authenticated as the
            ``[controller]`` options say), with requests' keyword arguments.
        :param timeout: of each request, in seconds.
        :param policy: for the release's description.
        :param cancelled: set to stop waiting for another attempt.
        """
        self._get = get
        self.url = url
        self._timeout = timeout
        self._policy = policy
        self._cancelled = cancelled

    def release(self, version: str) -> dict[str, Any]:
        """The release's description: its ``files`` and ``images``.

        :raises records.Failed: the store does not hold it, refuses the agent's
            credentials, or stayed unreachable or in error for every attempt.
        """
        url = f"{self.url}/v1.0/releases/{urllib.parse.quote(version, safe='')}"

        def attempt() -> dict[str, Any]:
            with self._get(url, timeout=self._timeout) as response:
                if response.status_code == 200:
                    return response.json()
                if response.status_code == 404:
                    raise records.Failed(
                        f"release {version} is not in the system controller's release store"
                    )
                if response.status_code in (401, 403):
                    raise records.Failed(
                        f"the system controller refused the agent's credentials "
                        f"({response.status_code}); check the [controller] options"
                    )
                answer = f"answered {response.status_code} {response.reason}"
                if response.status_code in transfer.RETRY_STATUSES:
                    raise transfer.Transient(answer)
                raise records.Failed(
                    f"the system controller's release store at {self.url} {answer}"
                )

        try:
            return transfer.retrying(self._policy, attempt, self._cancelled, f"release {version}")
        except transfer.Transient as exc:
            problem = str(exc)
        except transfer.TRANSIENT as exc:
            problem = f"is unreachable ({type(exc).__name__})"
        raise records.Failed(f"the system controller's release store at {self.url} {problem}")

    def blob_url(self, digest: str) -> str:
        return f"{self.url}/v1.0/blobs/{digest}"

    def get_blob(self, url: str, headers: dict[str, str]) -> requests.Response:
        """A :data:`transfer.Getter` for the store's blobs."""
        return self._get(url, headers=headers, stream=True, timeout=self._timeout)
