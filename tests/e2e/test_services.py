"""The console scripts as real processes: embedded mode, manage, and the API service."""

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from dcmanager.db.sqlalchemy import migration
from tests import databases
from tests.e2e.conftest import Service
from tests.e2e.conftest import clean_env
from tests.e2e.conftest import port_is_free
from tests.e2e.conftest import run
from tests.services import free_port

DEFAULT_PORT = 8119


def test_embedded_mode_with_no_configuration_at_all(tmp_path, services):
    env = clean_env(tmp_path)
    state = tmp_path / "home" / ".local" / "state" / "dcmanager"
    port = DEFAULT_PORT
    if not port_is_free(DEFAULT_PORT):
        # Something else holds 8119 on this machine; the default port itself is
        # checked by the configuration sample test.
        port = free_port()
        env["OS_API__BIND_PORT"] = str(port)
    api = f"http://127.0.0.1:{port}"

    service = Service("dcmanager-all", [], env, tmp_path / "all.log")
    services.append(service)
    service.wait_for_http(api + "/")

    assert (state / "dcmanager.sqlite").is_file()
    log = service.log
    assert f"State directory: {state}" in log
    assert f"Database: sqlite:///{state}/dcmanager.sqlite" in log
    assert "Messaging: in-process" in log
    assert "Authentication: noauth" in log
    assert f"API: {api}/v1.0" in log

    cli_env = dict(env, DCMANAGER_URL=f"{api}/v1.0")
    added = run(
        "dcmanager",
        "subcloud",
        "add",
        "--name",
        "sc1",
        "--endpoint",
        "simulated://sc1",
        "-f",
        "json",
        env=cli_env,
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["management"] == "unmanaged"

    assert service.stop(signal.SIGINT) == 0
    assert "dcmanager-all stopped" in service.log
    assert "Traceback" not in service.log

    # Restarted, it finds its data again.
    service = Service("dcmanager-all", [], env, tmp_path / "all-2.log")
    services.append(service)
    service.wait_for_http(api + "/")
    listed = run("dcmanager", "subcloud", "list", "-f", "json", env=cli_env)
    assert [sc["name"] for sc in json.loads(listed.stdout)] == ["sc1"]
    assert service.stop(signal.SIGTERM) == 0


def test_port_in_use_is_a_clear_error(tmp_path, services):
    env = clean_env(tmp_path)
    env["OS_API__BIND_PORT"] = str(free_port())
    first = Service("dcmanager-all", [], env, tmp_path / "first.log")
    services.append(first)
    first.wait_for_http(f"http://127.0.0.1:{env['OS_API__BIND_PORT']}/")

    second = Service("dcmanager-all", [], env, tmp_path / "second.log")
    services.append(second)

    assert second.wait_exit() == 1
    assert f"Cannot listen on 127.0.0.1:{env['OS_API__BIND_PORT']}" in second.log
    assert "Traceback" not in second.log


def _post_chunked(port: int, path: str, body: bytes) -> tuple[int, dict]:
    """POST ``body`` in chunks, with no Content-Length (as streaming clients send)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
        connection.request(
            "POST",
            path,
            body=iter(pieces),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _chunked_bodies_are_read_up_to_the_limit(port: int) -> None:
    status, group = _post_chunked(port, "/v1.0/subcloud-groups", b'{"name": "chunked"}')
    assert (status, group["name"]) == (200, "chunked")
    padding = "x" * 200_000  # over [oslo_middleware] max_request_body_size
    status, error = _post_chunked(
        port, "/v1.0/subcloud-groups", json.dumps({"name": "big", "pad": padding}).encode()
    )
    assert (status, error["message"]) == (413, "Request is too large.")


def _write_config(tmp_path, connection: str, port: int) -> str:
    path = tmp_path / "dcmanager.conf"
    path.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\nauth_strategy = noauth\n"
        f"[api]\nbind_port = {port}\n"
        f"[database]\nconnection = {connection}\n"
    )
    return str(path)


@pytest.mark.parametrize("backend", databases.BACKENDS)
def test_manage_and_api_service_with_a_config_file(tmp_path, services, backend):
    env = clean_env(tmp_path)
    port = free_port()
    with databases.temporary_database(backend, tmp_path) as url:
        config = _write_config(tmp_path, url, port)

        unmigrated = Service(
            "dcmanager-api", ["--config-file", config], env, tmp_path / "api-unmigrated.log"
        )
        services.append(unmigrated)
        assert unmigrated.wait_exit() == 1
        assert "dcmanager-manage --config-file <file> db_sync" in unmigrated.log

        synced = run("dcmanager-manage", "--config-file", config, "db_sync", env=env)
        assert synced.returncode == 0, synced.stderr
        version = run("dcmanager-manage", "--config-file", config, "db_version", env=env)
        assert version.stdout.strip() == migration.head()

        api = Service("dcmanager-api", ["--config-file", config], env, tmp_path / "api.log")
        services.append(api)
        api.wait_for_http(f"http://127.0.0.1:{port}/")
        cli_env = dict(env, DCMANAGER_URL=f"http://127.0.0.1:{port}")
        added = run("dcmanager", "subcloud-group", "add", "--name", "edge", env=cli_env)
        assert added.returncode == 0, added.stderr
        listed = run("dcmanager", "subcloud-group", "list", "-f", "json", env=cli_env)
        assert [g["name"] for g in json.loads(listed.stdout)] == ["Default", "edge"]
        _chunked_bodies_are_read_up_to_the_limit(port)

        assert api.stop(signal.SIGTERM) == 0
        assert "dcmanager-api stopped" in api.log
        assert "Traceback" not in api.log


def test_db_sync_creates_the_sqlite_directory(tmp_path):
    env = clean_env(tmp_path)
    database = tmp_path / "deep" / "er" / "dcmanager.sqlite"
    config = _write_config(tmp_path, f"sqlite:///{database}", free_port())

    synced = run("dcmanager-manage", "--config-file", config, "db_sync", env=env)

    assert synced.returncode == 0, synced.stderr
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT name FROM subcloud_groups").fetchall() == [("Default",)]
    assert os.stat(tmp_path / "state").st_mode & 0o777 == 0o700


def test_wsgi_application_factory(tmp_path):
    """What uwsgi/gunicorn load: the app from the file in DCMANAGER_CONFIG_FILE."""
    env = clean_env(tmp_path)
    config = _write_config(tmp_path, f"sqlite:///{tmp_path / 'wsgi.sqlite'}", free_port())
    assert run("dcmanager-manage", "--config-file", config, "db_sync", env=env).returncode == 0
    env["DCMANAGER_CONFIG_FILE"] = config
    code = (
        "import json, webtest\n"
        "from dcmanager.api import wsgi\n"
        "app = webtest.TestApp(wsgi.init_application())\n"
        "print(json.dumps(app.get('/v1.0/subcloud-groups').json))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    groups = json.loads(result.stdout.strip().splitlines()[-1])["subcloud_groups"]
    assert [g["name"] for g in groups] == ["Default"]


def test_api_under_gunicorn(tmp_path, services):
    """The production-guide command: gunicorn workers serving the factory."""
    env = clean_env(tmp_path)
    port = free_port()
    config = _write_config(tmp_path, f"sqlite:///{tmp_path / 'wsgi.sqlite'}", free_port())
    assert run("dcmanager-manage", "--config-file", config, "db_sync", env=env).returncode == 0
    env["DCMANAGER_CONFIG_FILE"] = config
    server = Service(
        "gunicorn",
        ["-w", "2", "-b", f"127.0.0.1:{port}", "dcmanager.api.wsgi:init_application()"],
        env,
        tmp_path / "gunicorn.log",
    )
    services.append(server)
    server.wait_for_http(f"http://127.0.0.1:{port}/")

    cli_env = dict(env, DCMANAGER_URL=f"http://127.0.0.1:{port}")
    added = run("dcmanager", "subcloud-group", "add", "--name", "edge", env=cli_env)
    assert added.returncode == 0, added.stderr
    missing = run("dcmanager", "subcloud-group", "show", "nowhere", env=cli_env)
    assert missing.returncode == 1
    assert "not found" in missing.stderr.lower(), missing.stderr
    listed = run("dcmanager", "subcloud-group", "list", "-f", "json", env=cli_env)
    assert [g["name"] for g in json.loads(listed.stdout)] == ["Default", "edge"]
    _chunked_bodies_are_read_up_to_the_limit(port)

    assert server.stop(signal.SIGTERM) == 0
    assert "Traceback" not in server.log, server.log
