"""Secrets at rest: encrypted with a key from the configuration or a key file."""

import os
import stat

import pytest
from cryptography import fernet

from dcmanager.common import crypt
from dcmanager.common import exception


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(crypt, "_CACHE", {})


def test_key_file_is_created_private_and_reused(conf, tmp_path):
    key_file = tmp_path / "keys" / "secret.key"
    conf.set_override("secret_key_file", str(key_file))

    token = crypt.encrypt(conf, b"Li69nux*")

    assert b"Li69nux*" not in token
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    crypt._CACHE.clear()  # a restarted process reads the same file
    assert crypt.decrypt(conf, token) == b"Li69nux*"


def test_configured_key_wins_over_the_file(conf, tmp_path):
    key = fernet.Fernet.generate_key()
    conf.set_override("secret_key", key.decode())
    conf.set_override("secret_key_file", str(tmp_path / "unused.key"))

    token = crypt.encrypt(conf, b"pw")

    assert fernet.Fernet(key).decrypt(token) == b"pw"
    assert not (tmp_path / "unused.key").exists()


def test_another_key_cannot_read_a_secret(conf, tmp_path):
    conf.set_override("secret_key_file", str(tmp_path / "a.key"))
    token = crypt.encrypt(conf, b"pw")
    crypt._CACHE.clear()
    conf.set_override("secret_key_file", str(tmp_path / "b.key"))

    with pytest.raises(crypt.SecretUnreadable):
        crypt.decrypt(conf, token)


def test_a_bad_configured_key_is_a_configuration_error(conf):
    conf.set_override("secret_key", "not-a-key")

    with pytest.raises(exception.ConfigInvalid, match="secret_key is not a Fernet key"):
        crypt.encrypt(conf, b"pw")
