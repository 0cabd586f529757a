"""Encryption of secrets at rest (the sysadmin password of a prestage).

Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``. The key comes from
``[DEFAULT] secret_key``, else from ``[DEFAULT] secret_key_file``, which is created with
a new random key on first use. Every host that runs dcmanager services must use the
same key.
"""

import base64
import hashlib
import hmac
import os
import tempfile
import threading

from cryptography import fernet
from oslo_config import cfg

from dcmanager.common import exception

_LOCK = threading.Lock()
_CACHE: dict[str, tuple[bytes, fernet.Fernet]] = {}


class SecretUnreadable(exception.DCManagerException):
    msg_fmt = "A stored secret cannot be decrypted with the configured key: %(reason)s"


def _load_or_create_key(path: str) -> bytes:
    try:
        with open(path, "rb") as key_file:
            return key_file.read().strip()
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    key = fernet.Fernet.generate_key()
    # Written whole to a private temporary file, then linked into place: when two
    # processes start at once, one key wins and nobody ever reads a half-written file.
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as key_file:
            key_file.write(key + b"\n")
        os.link(temporary, path)
    except FileExistsError:
        with open(path, "rb") as key_file:
            return key_file.read().strip()
    finally:
        os.unlink(temporary)
    return key


def _key(conf: cfg.ConfigOpts) -> tuple[bytes, fernet.Fernet]:
    key = conf.secret_key
    source = "[DEFAULT] secret_key" if key else conf.secret_key_file
    with _LOCK:
        if source not in _CACHE:
            raw = key.encode() if key else _load_or_create_key(conf.secret_key_file)
            try:
                _CACHE[source] = raw, fernet.Fernet(raw)
            except ValueError as exc:
                raise exception.ConfigInvalid(
                    reason=f"{source} is not a Fernet key (32 url-safe base64 bytes)"
                ) from exc
        return _CACHE[source]


def _cipher(conf: cfg.ConfigOpts) -> fernet.Fernet:
    return _key(conf)[1]


def derive_secret(conf: cfg.ConfigOpts, purpose: str) -> str:
    """A secret for ``purpose`` (a generated password), the same on every host and
    every time, never stored: HMAC-SHA256 of ``purpose`` under the secret key, as 32
    URL-safe characters."""
    digest = hmac.new(_key(conf)[0], purpose.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def encrypt(conf: cfg.ConfigOpts, plaintext: bytes) -> bytes:
    return _cipher(conf).encrypt(plaintext)


def decrypt(conf: cfg.ConfigOpts, token: bytes) -> bytes:
    """:raises SecretUnreadable: the key changed since the secret was stored."""
    try:
        return _cipher(conf).decrypt(token)
    except fernet.InvalidToken as exc:
        raise SecretUnreadable(reason="wrong key or corrupted data") from exc
