"""Credentials for the site's registry: HTTP basic, or a bearer token from the
registry's token server.

A registry with htpasswd authentication takes the basic credentials on every request. A
registry behind a token server (StarlingX's ``registry.local`` and its
``registry-token-server``) answers 401 with ``WWW-Authenticate: Bearer realm=...,
service=..., scope=...``: the agent then asks the realm for a token of that scope with
its basic credentials (the distribution token protocol), sends the request again with
the token, and keeps the token for the repository's next requests until it expires.
"""

import re
import threading
import time
import urllib.parse
from typing import Any

import requests

# A token is renewed this long before its end, so that a request does not carry one
# that expires on the way.
EXPIRY_MARGIN_SECONDS = 10.0
# The token server's default lifetime when the answer does not say (the protocol's).
DEFAULT_EXPIRES_IN = 60
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REPOSITORY = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags)/")


class TokenRefused(Exception):
    """The token server refused the credentials or answered nonsense."""


def _repository(url: str) -> str | None:
    match = _REPOSITORY.match(urllib.parse.urlsplit(url).path)
    return match.group(1) if match else None


def _challenge(response: requests.Response) -> dict[str, str] | None:
    """The bearer challenge of a 401 answer (realm, service, scope), or None."""
    header = response.headers.get("WWW-Authenticate", "")
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    params = dict(_CHALLENGE_PARAM.findall(rest))
    return params if params.get("realm") else None


class RegistryAuth(requests.auth.AuthBase):
    """Basic credentials, exchanged for bearer tokens where the registry asks."""

    def __init__(self, username: str, password: str, timeout: float, verify: Any) -> None:
        self._basic = requests.auth.HTTPBasicAuth(username, password)
        self._timeout = timeout
        self._verify = verify
        self._lock = threading.Lock()
        self._tokens: dict[str | None, tuple[str, float]] = {}
        """By repository (None: requests outside one), with their end (monotonic)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._token_for(_repository(request.url))
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token}"
        else:
            self._basic(request)
        request.register_hook("response", self._on_response)
        return request

    def _token_for(self, repository: str | None) -> str | None:
        with self._lock:
            held = self._tokens.get(repository)
        if held is None or held[1] <= time.monotonic():
            return None
        return held[0]

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """On a bearer challenge, get a token and send the request again, once."""
        challenge = _challenge(response) if response.status_code == 401 else None
        request = response.request
        if challenge is None or getattr(request, "_registry_retried", False):
            return response
        body = request.body
        if body is not None and not isinstance(body, (bytes, str)):
            return response  # a streamed body is gone: the caller's next attempt has the token
        token = self._fetch(challenge)
        with self._lock:
            self._tokens[_repository(request.url)] = token
        response.content  # noqa: B018 - read, so the connection goes back to the pool
        response.close()
        again = request.copy()
        again.headers["Authorization"] = f"Bearer {token[0]}"
        again._registry_retried = True  # type: ignore[attr-defined]
        retried = response.connection.send(again, **kwargs)
        retried.history.append(response)
        retried.request = again
        return retried

    def _fetch(self, challenge: dict[str, str]) -> tuple[str, float]:
        """A token for the challenge's scope, and when to stop using it.

        :raises TokenRefused: the token server said no, or something unreadable.
        """
        params = {key: challenge[key] for key in ("service", "scope") if key in challenge}
        answer = requests.get(
            challenge["realm"],
            params=params,
            auth=self._basic,
            timeout=self._timeout,
            verify=self._verify,
        )
        with answer:
            if answer.status_code != 200:
                raise TokenRefused(
                    f"the registry's token server {challenge['realm']} answered "
                    f"{answer.status_code} {answer.reason}"
                )
            try:
                data = answer.json()
                token = data.get("token") or data["access_token"]
                lifetime = float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
            except (ValueError, KeyError, TypeError, AttributeError):
                raise TokenRefused(
                    f"the registry's token server {challenge['realm']} answered no token"
                ) from None
        return token, time.monotonic() + max(0.0, lifetime - EXPIRY_MARGIN_SECONDS)
