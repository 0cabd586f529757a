"""The sysadmin password hash the agent keeps instead of the password (scrypt).

Format: ``scrypt:<log2 n>:<r>:<p>:<salt, base64>:<key, base64>`` (no ``$``: oslo.config
would read it as a variable).
"""

import base64
import os

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

_SCHEME = "scrypt"
_LOG2_N, _R, _P = 15, 8, 1
_KEY_BYTES = 32


class BadHash(ValueError):
    """The configured hash is not one ``hash_password`` makes."""


def _kdf(salt: bytes, log2_n: int, r: int, p: int) -> Scrypt:
    return Scrypt(salt=salt, length=_KEY_BYTES, n=2**log2_n, r=r, p=p)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: bytes) -> str:
    salt = os.urandom(16)
    key = _kdf(salt, _LOG2_N, _R, _P).derive(password)
    return f"{_SCHEME}:{_LOG2_N}:{_R}:{_P}:{_b64(salt)}:{_b64(key)}"


def check(encoded: str) -> None:
    """:raises BadHash: ``encoded`` is not a hash of this format."""
    _parse(encoded)


def _parse(encoded: str) -> tuple[bytes, bytes, int, int, int]:
    parts = encoded.split(":")
    try:
        if len(parts) != 6 or parts[0] != _SCHEME:
            raise ValueError
        log2_n, r, p = (int(x) for x in parts[1:4])
        salt, key = (
            base64.b64decode(parts[4], validate=True),
            base64.b64decode(parts[5], validate=True),
        )
        if not (1 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16 and salt and key):
            raise ValueError
    except ValueError:
        raise BadHash(
            "not a password hash made by 'dcmanager-agent hash-password' (scrypt:N:r:p:salt:key)"
        ) from None
    return salt, key, log2_n, r, p


def verify(password: bytes, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant time in the key).

    :raises BadHash: ``encoded`` is malformed.
    """
    salt, key, log2_n, r, p = _parse(encoded)
    try:
        _kdf(salt, log2_n, r, p).verify(password, key)
    except InvalidKey:
        return False
    return True
