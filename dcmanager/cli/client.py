"""HTTP client of the dcmanager API, on a keystoneauth1 session.

With a keystone auth URL the session authenticates and the API is found in the catalog
(service type ``dcmanager``) unless ``--dcmanager-url`` overrides it; without one, the
CLI talks to ``--dcmanager-url`` directly (a noauth server, or a given token).
"""

import json
import logging
import urllib.parse
from typing import Any
from typing import BinaryIO

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from dcmanager.common import catalog
from dcmanager.common import redaction

LOG = logging.getLogger(__name__)

SERVICE_TYPE = catalog.SERVICE_TYPE
BLOB_TYPE = "application/octet-stream"


class CommandError(Exception):
    """An error the CLI reports with its message alone (no traceback)."""


class APIError(CommandError):
    """The API answered with an error; the message is the server's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def make_session(options: Any) -> tuple[ks_session.Session, str | None]:
    """A session and endpoint override from the CLI's global options.

    :raises CommandError: the options name neither a server nor a keystone.
    """
    verify: bool | str = not options.insecure
    if options.os_cacert:
        verify = options.os_cacert
    endpoint = catalog.versioned_url(options.dcmanager_url) if options.dcmanager_url else None
    if options.os_auth_url:
        if options.os_auth_token:
            loader = loading.get_plugin_loader("token")
            auth = loader.load_from_options(
                auth_url=options.os_auth_url,
                token=options.os_auth_token,
                project_name=options.os_project_name,
                project_domain_name=options.os_project_domain_name,
            )
        else:
            loader = loading.get_plugin_loader("password")
            auth = loader.load_from_options(
                auth_url=options.os_auth_url,
                username=options.os_username,
                password=options.os_password,
                project_name=options.os_project_name,
                user_domain_name=options.os_user_domain_name,
                project_domain_name=options.os_project_domain_name,
            )
    elif endpoint and options.os_auth_token:
        auth = token_endpoint.Token(endpoint, options.os_auth_token)
    elif endpoint:
        auth = noauth.NoAuth(endpoint=endpoint)
    else:
        raise CommandError(
            "No dcmanager to talk to: set DCMANAGER_URL (or --dcmanager-url), or "
            "OS_AUTH_URL and credentials to find it in the keystone catalog."
        )
    return ks_session.Session(auth=auth, verify=verify), endpoint


class Client:
    """Sends requests to ``/v1.0/...`` and turns error responses into :class:`APIError`."""

    def __init__(
        self,
        session: ks_session.Session,
        endpoint: str | None = None,
        interface: str = "public",
        region_name: str | None = None,
    ) -> None:
        self._adapter = adapter.Adapter(
            session,
            service_type=SERVICE_TYPE,
            interface=interface,
            region_name=region_name,
            endpoint_override=endpoint,
        )

    def _resolve_endpoint(self) -> None:
        """Take the API root from the catalog once, versioned whichever way it was
        registered.

        :raises EndpointNotFound: the catalog has no dcmanager endpoint.
        """
        if self._adapter.endpoint_override is None:
            url = self._adapter.get_endpoint()
            if not url:
                raise ks_exc.EndpointNotFound(
                    f"service type {SERVICE_TYPE}, interface {self._adapter.interface}"
                )
            self._adapter.endpoint_override = catalog.versioned_url(url)

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        """Send a request; the decoded JSON answer, or None for an empty one.

        :raises APIError: the server answered 4xx/5xx.
        :raises CommandError: the server cannot be reached.
        """
        kwargs: dict[str, Any] = {"raise_exc": False, "headers": {"Accept": "application/json"}}
        if body is not None:
            kwargs["json"] = body
            redacted = _redacted(body)
            if redacted != body:
                # keystoneauth logs request bodies verbatim at debug level (-v -v):
                # log this one ourselves, without the endpoint's password.
                kwargs["log"] = False
                LOG.debug("REQ: %s %s %s", method, path, json.dumps(redacted))
        response = self._send(method, path, **kwargs)
        if not response.content:
            return None
        return response.json()

    def _send(self, method: str, path: str, **kwargs: Any):
        """The response to a request; 4xx/5xx raised as :class:`APIError`.

        :raises CommandError: the server cannot be reached.
        """
        try:
            self._resolve_endpoint()
            response = self._adapter.request(path, method, **kwargs)
        except ks_exc.EndpointNotFound as exc:
            raise CommandError(
                f"No '{SERVICE_TYPE}' endpoint in the keystone catalog: {exc}"
            ) from exc
        except ks_exc.ConnectionError as exc:
            raise CommandError(f"Connection failed: {exc}") from exc
        except ks_exc.ClientException as exc:
            raise CommandError(str(exc)) from exc
        if response.status_code >= 400 and not (method == "HEAD" and response.status_code == 404):
            raise APIError(response.status_code, _error_message(response))
        return response

    def has_blob(self, digest: str) -> bool:
        """Whether the release store holds the blob (``HEAD /blobs/<digest>``)."""
        response = self._send(
            "HEAD", f"/blobs/{digest}", raise_exc=False, headers={"Accept": BLOB_TYPE}
        )
        return response.status_code == 200

    def put_blob(self, digest: str, data: BinaryIO, size: int) -> None:
        """Upload a blob, streamed from ``data`` (``size`` bytes)."""
        self._send(
            "PUT",
            f"/blobs/{digest}",
            raise_exc=False,
            # requests takes an empty file for a stream of unknown length and would
            # send it chunked, beside the Content-Length.
            data=data if size else b"",
            log=False,  # no bytes in the debug log
            headers={
                "Accept": "application/json",
                "Content-Type": BLOB_TYPE,
                "Content-Length": str(size),
            },
        )

    def post_file(self, path: str, data: BinaryIO, size: int) -> Any:
        """POST a file as the body (an application tarball), streamed; the answer."""
        response = self._send(
            "POST",
            path,
            raise_exc=False,
            data=data if size else b"",
            log=False,
            headers={
                "Accept": "application/json",
                "Content-Type": BLOB_TYPE,
                "Content-Length": str(size),
            },
        )
        return response.json()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def get_all(self, path: str, key: str, page: int, query: dict | None = None) -> list[dict]:
        """Every item of a paged list (``limit`` and ``marker``, the last item's id):
        ``page`` per request, until a shorter page."""
        items: list[dict] = []
        while True:
            page_query = {**(query or {}), "limit": page}
            if items:
                page_query["marker"] = items[-1]["id"]
            answer = self.get(f"{path}?{urllib.parse.urlencode(page_query)}")[key]
            items += answer
            if len(answer) < page:
                return items

    def post(self, path: str, body: dict) -> Any:
        return self.request("POST", path, body)

    def patch(self, path: str, body: dict) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def _error_message(response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"HTTP {response.status_code}: {response.text.strip() or response.reason}"


# Request fields that are secrets: never logged, even at debug level.
SECRET_FIELDS = ("sysadmin_password",)


def _redacted(body: dict) -> dict:
    """The request body as it may be logged: secrets and the endpoint's credentials
    masked."""
    redacted = {
        key: redaction.MASK if key in SECRET_FIELDS else value for key, value in body.items()
    }
    endpoint = body.get("endpoint")
    if isinstance(endpoint, str):
        redacted["endpoint"] = redaction.redact_url(endpoint)
    return redacted


def quote(ref: str) -> str:
    """A subcloud or group reference as one path segment.

    :raises CommandError: the reference is empty, ``.`` or ``..``, which a URL resolves
        to the parent path (the listing, or the API root) instead of a name.
    """
    ref = str(ref)
    if ref in ("", ".", ".."):
        raise CommandError(f"Invalid name or id '{ref}'")
    return urllib.parse.quote(ref, safe="")


def add_yes_option(parser) -> None:
    """``--yes``, as StarlingX's client and scripts pass it to commands that may ask for
    confirmation; this CLI asks for none, so it changes nothing."""
    parser.add_argument(
        "--yes", action="store_true", help="Do not ask for confirmation (none is asked)."
    )
