"""The agent's parts that need no network: passwords, pacing, image references,
request checks and the web app's answers (the transfers are proved in
tests/e2e/test_agents.py)."""

import json
import pathlib

import pytest
import webob
from oslo_config import cfg

from dcmanager.agent import app as agent_app
from dcmanager.agent import conf as agent_conf
from dcmanager.agent import images
from dcmanager.agent import operations
from dcmanager.agent import passwords
from dcmanager.agent import records
from dcmanager.agent.phases import packages
from dcmanager.cmd import agent as agent_cmd
from dcmanager.common import pacing
from tests.clock import FakeClock

TOKEN = "a-shared-token-of-some-length"
PASSWORD_HASH = passwords.hash_password(b"Li69nux*")
REPOSITORY = "http://127.0.0.1:1"
REGISTRY = "http://127.0.0.1:2"


@pytest.fixture
def agent_conf_(tmp_path):
    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override("state_dir", str(tmp_path / "state"), group="agent")
    conf.set_override("sysadmin_password_hash", PASSWORD_HASH, group="agent")
    conf.set_override("auth_strategy", "token", group="agent")
    conf.set_override("auth_token", TOKEN, group="agent")
    conf.set_override("repository_urls", [REPOSITORY], group="agent")
    conf.set_override("registry_urls", [REGISTRY], group="agent")
    yield conf
    # Overrides stick to the option objects, which every ConfigOpts here shares.
    for opt in agent_conf.opts:
        conf.clear_override(opt.dest, group="agent")


def _unreachable(url, **kwargs):
    raise AssertionError(f"no request expected ({url})")


@pytest.fixture
def agent(agent_conf_):
    instance = operations.Agent(agent_conf_, _unreachable, _unreachable)
    instance.load()
    yield instance
    instance.stop()


@pytest.fixture
def app(agent_conf_, agent):
    return agent_app.setup_app(agent_conf_, agent)


def _call(app, method, path, body=None, token=TOKEN, raw=None):
    request = webob.Request.blank(path, method=method)
    if token is not None:
        request.headers["X-Auth-Token"] = token
    if body is not None or raw is not None:
        request.body = raw if raw is not None else json.dumps(body).encode()
        request.content_type = "application/json"
    response = request.get_response(app)
    return response.status_int, response.json if response.body else None


# Passwords.


def test_a_password_matches_its_hash_and_nothing_else():
    assert passwords.verify(b"Li69nux*", PASSWORD_HASH)
    assert not passwords.verify(b"Li69nux", PASSWORD_HASH)
    assert not passwords.verify(b"", PASSWORD_HASH)
    assert passwords.hash_password(b"x") != passwords.hash_password(b"x"), "salted"


def test_hashes_hold_no_dollar_sign_for_oslo_config():
    assert "$" not in PASSWORD_HASH
    assert PASSWORD_HASH.startswith("scrypt:")


@pytest.mark.parametrize(
    "encoded",
    ["", "plain", "$6$salt$hash", "scrypt:15:8:1:!!:AAAA", "scrypt:40:8:1:AAAA:AAAA",
     "scrypt:15:8:1::AAAA", "md5:15:8:1:AAAA:AAAA", "scrypt:x:8:1:AAAA:AAAA"],
)  # fmt: skip
def test_malformed_hashes_are_refused_with_a_clear_message(encoded):
    with pytest.raises(passwords.BadHash, match="hash-password"):
        passwords.verify(b"x", encoded)


# Pacing.


def test_the_pacer_holds_the_rate_over_many_chunks():
    clock = FakeClock(100.0)
    pacer = pacing.Pacer(1_000_000, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        pacer.take(100_000)
    assert clock.now - 100.0 == pytest.approx(5.0)


def test_the_pacer_does_not_bank_idle_time_for_a_burst():
    clock = FakeClock(100.0)
    pacer = pacing.Pacer(1_000_000, clock=clock, sleep=clock.sleep)
    pacer.take(100_000)
    clock.now += 60  # idle
    start = clock.now
    for _ in range(10):
        pacer.take(100_000)
    assert clock.now - start == pytest.approx(1.0)


def test_a_pacer_without_rate_never_waits():
    clock = FakeClock(100.0)
    pacer = pacing.Pacer(None, clock=clock, sleep=clock.sleep)
    pacer.take(10**12)
    assert clock.now == 100.0


# Image references and manifests.


@pytest.mark.parametrize(
    ("name", "repository", "reference"),
    [
        ("registry.local:9001/starlingx/stx-nova:1.0", "starlingx/stx-nova", "1.0"),
        ("starlingx/stx-nova:1.0", "starlingx/stx-nova", "1.0"),
        ("busybox", "busybox", "latest"),
        ("localhost/app:v2", "app", "v2"),
        ("docker.io/library/busybox:1.36", "library/busybox", "1.36"),
        (f"quay.io/x/y@sha256:{'a' * 64}", "x/y", f"sha256:{'a' * 64}"),
        ("host:5000/a/b/c", "a/b/c", "latest"),
        (f"host:5000/a/b:1.0@sha256:{'b' * 64}", "a/b", f"sha256:{'b' * 64}"),
    ],
)
def test_image_names_map_to_a_repository_of_the_controllers_registry(name, repository, reference):
    assert images.parse(name) == images.ImageRef(name, repository, reference)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("UPPER/case:1", "not a valid repository"),
        ("app:bad tag", "not a valid tag"),
        ("app@sha256:short", "not a digest"),
        ("app@md5:" + "a" * 32, "not a digest"),
        ("/app:1", "not a valid repository"),
        ("app:" + "x" * 200, "not a valid tag"),
    ],
)
def test_malformed_image_names_say_what_is_wrong(name, problem):
    with pytest.raises(images.ImageError, match=problem):
        images.parse(name)


def test_a_manifest_must_have_the_digest_it_is_asked_for():
    image = images.parse("app:1")
    body = b'{"schemaVersion": 2}'
    digest, data = images.check_manifest(image, body, None)
    assert data == {"schemaVersion": 2}
    assert images.check_manifest(image, body, digest)[0] == digest
    with pytest.raises(images.ImageError, match="not sha256:0000"):
        images.check_manifest(image, body, "sha256:" + "0" * 64)
    with pytest.raises(images.ImageError, match="not JSON"):
        images.check_manifest(image, b"{", None)


def test_an_index_gives_the_manifest_of_the_wanted_platform():
    image = images.parse("app:1")

    def entry(digit: str, architecture: str) -> dict:
        platform = {"os": "linux", "architecture": architecture}
        return {"digest": "sha256:" + digit * 64, "size": 10, "platform": platform}

    index = {"manifests": [entry("1", "arm64"), entry("2", "amd64")]}
    assert images.choose(image, index, "linux/amd64") == "sha256:" + "2" * 64
    with pytest.raises(images.ImageError, match="no manifest for platform linux/s390x"):
        images.choose(image, index, "linux/s390x")


@pytest.mark.parametrize(
    "data",
    [
        {"layers": []},
        {"config": {"digest": "sha256:" + "1" * 64, "size": 1}},
        {"config": {"digest": "nope", "size": 1}, "layers": []},
        {"config": {"digest": "sha256:" + "1" * 64, "size": -1}, "layers": []},
        {"config": {"digest": "sha256:" + "1" * 64, "size": 1}, "layers": [{"size": 1}]},
    ],
)
def test_malformed_manifests_are_refused(data):
    with pytest.raises(images.ImageError, match="image app:1"):
        images.manifest_of(images.parse("app:1"), images.OCI_MANIFEST, "sha256:x", b"", data)


# Release paths.


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../x", "a/../../x", "a/./b", "", "a//b", "a\\b", None, 5, "a/"]
)
def test_unsafe_paths_in_a_release_are_refused(path):
    with pytest.raises(records.Failed, match="unsafe path"):
        packages.safe_path(path)


def test_safe_paths_are_kept():
    assert packages.safe_path("Packages/x.deb") == "Packages/x.deb"
    assert packages.safe_path("a..b/c") == "a..b/c"


# The web app.


def test_the_root_answers_without_a_token(app):
    status, body = _call(app, "GET", "/", token=None)
    assert status == 200
    assert body["service"] == "dcmanager-agent"
    assert body["api"] == "v1"


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x", TOKEN[:-1]])
def test_every_other_call_needs_the_token(app, token):
    for method, path in (
        ("GET", "/v1/info"),
        ("POST", "/v1/operations"),
        ("GET", "/v1/operations/x"),
    ):
        status, body = _call(app, method, path, body={}, token=token)
        assert status == 401
        assert "X-Auth-Token" in body["error"]


def test_info_reports_the_configured_system_and_real_free_disk(app, agent_conf_):
    agent_conf_.set_override("system_mode", "duplex", group="agent")
    agent_conf_.set_override("management_alarms", 2, group="agent")
    status, info = _call(app, "GET", "/v1/info")
    assert status == 200
    assert info["system_mode"] == "duplex"
    assert info["management_alarms"] == 2
    assert info["free_disk_bytes"] > 0
    assert info["prestaged_versions"] == []
    agent_conf_.set_override("reserved_disk_bytes", info["free_disk_bytes"] * 10, group="agent")
    assert _call(app, "GET", "/v1/info")[1]["free_disk_bytes"] == 0


GOOD = {
    "id": "12:packages",
    "kind": "packages",
    "release": "25.09",
    "repository_url": REPOSITORY,
    "sysadmin_password": "Li69nux*",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "'id' is required"),
        ({"id": "a/b"}, "'id' may hold only"),
        ({"id": "é1"}, "'id' may hold only"),
        ({"id": "1" * 129}, "'id' may hold only"),
        ({"id": "12:packages\n"}, "'id' may hold only"),
        ({"release": "../../etc"}, "'release' may hold only"),
        ({"release": ".hidden"}, "'release' may hold only"),
        ({"release": "2" * 65}, "'release' may hold only"),
        ({"kind": "reboot"}, "'kind' must be one of precheck, packages, images"),
        ({"release": 25.09}, "'release' is required"),
        ({"repository_url": "ftp://x"}, "'repository_url' must be an http(s) URL"),
        ({"registry_url": "x"}, "'registry_url' must be an http(s) URL"),
        ({"max_bandwidth": 0}, "'max_bandwidth' must be a positive number"),
        ({"max_bandwidth": True}, "'max_bandwidth' must be a positive number"),
        ({"max_bandwidth": "fast"}, "'max_bandwidth' must be a positive number"),
        ({"max_bandwidth": float("nan")}, "'max_bandwidth' must be a positive number"),
        ({"max_bandwidth": float("inf")}, "'max_bandwidth' must be a positive number"),
        ({"images": ["stx/a:1"]}, "'images' is for an images operation only"),
        (
            {"kind": "images", "images": "stx/a:1"},
            "'images' must be a list of at most 1000 image references",
        ),
        (
            {"kind": "images", "images": ["stx/a:1"] * 1001},
            "'images' must be a list of at most 1000 image references",
        ),
        ({"kind": "images", "images": [7]}, "'images': image 7: not a string"),
        ({"kind": "images", "images": ["stx/a@sha256:12"]}, "'images': image stx/a@sha256:12"),
    ],
)
def test_malformed_operations_get_400_naming_the_field(app, agent, change, message):
    status, body = _call(app, "POST", "/v1/operations", {**GOOD, **change})
    assert status == 400
    assert message in body["error"]
    assert agent.get(GOOD["id"]) is None


def test_only_trusted_repositories(app, agent, agent_conf_):
    agent_conf_.set_override(
        "repository_urls", ["http://10.0.0.2:8119/", "http://10.0.0.3:8119"], group="agent"
    )
    status, body = _call(app, "POST", "/v1/operations", GOOD)
    assert status == 403
    assert (
        body["error"] == "'repository_url' is not one this agent trusts ([agent] repository_urls)"
    )
    assert agent.get(GOOD["id"]) is None


def test_no_repository_is_trusted_until_one_is_configured(app, agent, agent_conf_):
    agent_conf_.clear_override("repository_urls", group="agent")
    status, body = _call(app, "POST", "/v1/operations", GOOD)
    assert status == 403
    assert body["error"] == (
        "the agent trusts no URL for 'repository_url' yet: set [agent] repository_urls"
    )
    assert agent.get(GOOD["id"]) is None


@pytest.mark.parametrize(
    ("trusted", "message"),
    [
        ([], "the agent trusts no URL for 'registry_url' yet: set [agent] registry_urls"),
        (
            ["http://10.0.0.9:5000"],
            "'registry_url' is not one this agent trusts ([agent] registry_urls)",
        ),
    ],
)
def test_only_trusted_registries(app, agent, agent_conf_, trusted, message):
    agent_conf_.set_override("registry_urls", trusted, group="agent")
    request = {**GOOD, "id": "12:images", "kind": "images", "registry_url": REGISTRY}
    status, body = _call(app, "POST", "/v1/operations", request)
    assert (status, body["error"]) == (403, message)
    assert agent.get(request["id"]) is None


def test_json_nested_beyond_the_parser_is_400_not_500(app):
    status, body = _call(app, "POST", "/v1/operations", raw=b"[" * 100_000 + b"]" * 100_000)
    assert status == 400
    assert "JSON" in body["error"]


def test_a_bug_is_a_json_500_without_a_traceback(app, agent, monkeypatch):
    def broken(body):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(agent, "start", broken)
    status, body = _call(app, "POST", "/v1/operations", GOOD)
    assert (status, body) == (500, {"error": "internal error (see the agent's log)"})


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"x"', b"null"])
def test_a_body_that_is_not_an_object_gets_400(app, raw):
    status, body = _call(app, "POST", "/v1/operations", raw=raw)
    assert status == 400
    assert "JSON" in body["error"]


def test_a_wrong_or_missing_password_is_refused_and_nothing_starts(app, agent, agent_conf_):
    for password in ("wrong", "", None, 5, "\ud800"):
        status, body = _call(app, "POST", "/v1/operations", {**GOOD, "sysadmin_password": password})
        assert status == 403
        assert body["error"] == "the sysadmin password does not match"
    agent_conf_.clear_override("sysadmin_password_hash", group="agent")
    status, body = _call(app, "POST", "/v1/operations", GOOD)
    assert status == 403
    assert "no sysadmin password hash" in body["error"]
    assert agent.get(GOOD["id"]) is None
    assert not list((pathlib.Path(agent_conf_.agent.state_dir) / "operations").iterdir())


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v2/info", 404),
        ("GET", "/v1", 404),
        ("GET", "/v1/operations/a/b", 404),
        ("GET", "/v1/nothing", 404),
        ("GET", "/v1/operations/unknown", 404),
        ("DELETE", "/v1/operations/unknown", 404),
        ("PUT", "/v1/info", 405),
        ("GET", "/v1/operations", 405),
        ("PATCH", "/v1/operations/x", 405),
        ("POST", "/", 405),
    ],
)
def test_unknown_paths_and_methods(app, method, path, status):
    code, body = _call(app, method, path, token=TOKEN if path != "/" else None)
    assert code == status
    assert body["error"]


def test_token_auth_needs_a_long_enough_token(agent_conf_, agent):
    agent_conf_.set_override("auth_token", "short", group="agent")
    with pytest.raises(agent_app.ConfigError, match="16 characters"):
        agent_app.setup_app(agent_conf_, agent)


def test_keystone_auth_needs_its_options(agent_conf_, agent):
    agent_conf_.set_override("auth_strategy", "keystone", group="agent")
    with pytest.raises(agent_app.ConfigError, match="www_authenticate_uri"):
        agent_app.setup_app(agent_conf_, agent)


@pytest.mark.parametrize(
    ("roles", "status"), [("admin", 200), ("reader,member", 403), ("", 403), ("service", 200)]
)
def test_only_admin_and_service_roles_may_call(agent, roles, status):
    checked = agent_app._RoleCheck(agent_app.AgentApp(agent))
    request = webob.Request.blank("/v1/info", headers={"X-Roles": roles})
    assert request.get_response(checked).status_int == status


def test_tls_needs_both_files_and_files_that_load(agent_conf_, tmp_path):
    assert agent_cmd._ssl_context(agent_conf_) is None
    agent_conf_.set_override("cert_file", str(tmp_path / "agent.crt"), group="agent")
    with pytest.raises(agent_app.ConfigError, match="cert_file and key_file go together"):
        agent_cmd._ssl_context(agent_conf_)
    (tmp_path / "agent.key").write_text("not a key")
    (tmp_path / "agent.crt").write_text("not a certificate")
    agent_conf_.set_override("key_file", str(tmp_path / "agent.key"), group="agent")
    with pytest.raises(agent_app.ConfigError, match="cannot load"):
        agent_cmd._ssl_context(agent_conf_)


def test_controller_credentials_need_the_controllers_they_may_go_to(agent_conf_):
    agent_conf_.set_override("auth_type", "password", group="controller")
    agent_conf_.clear_override("repository_urls", group="agent")
    try:
        with pytest.raises(agent_app.ConfigError, match="need \\[agent\\] repository_urls"):
            agent_cmd._check(agent_conf_)
        agent_conf_.set_override("repository_urls", ["http://10.0.0.2:8119"], group="agent")
        agent_cmd._check(agent_conf_)
    finally:
        agent_conf_.clear_override("auth_type", group="controller")
