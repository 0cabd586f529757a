"""dcmanager behind a real Keystone: the auth matrix over HTTP, the catalog registration,
and a whole prestage strategy driven with the CLI on keystone tokens over RabbitMQ and
PostgreSQL / MariaDB, with one orchestrator and three workers."""

import base64
import contextlib
import json
import urllib.request

import pytest

from tests import databases
from tests import services as test_services
from tests.e2e import deployment as e2e
from tests.e2e.conftest import run
from tests.functional.strategy_helpers import wait_for

PASSWORD = base64.b64encode(b"Li69nux*").decode()
SUBCLOUD = {"name": "edge1", "endpoint": "simulated://edge1"}


def _secrets(keystone) -> tuple[str, ...]:
    return (
        "Li69nux",
        PASSWORD,
        keystone.admin.password,
        keystone.viewer.password,
        keystone.service.password,
        keystone.outsider.password,
    )


def _register(deployment, env: dict[str, str], public_url: str, *options: str):
    """``dcmanager-manage register_endpoint`` with the deployment's config file."""
    return run(
        "dcmanager-manage",
        "--config-file",
        str(deployment.config),
        "register_endpoint",
        "--public-url",
        public_url,
        *options,
        env=deployment.env | env,
    )


@pytest.fixture(scope="module")
def sqlite_deployment(tmp_path_factory, keystone):
    """API and roles on SQLite and RabbitMQ, behind Keystone; shared by the module's
    auth tests, which change nothing but one subcloud."""
    tmp_path = tmp_path_factory.mktemp("deployment")
    services: list = []
    try:
        with databases.temporary_database("sqlite", tmp_path) as url:
            deployment = e2e.Deployment(
                tmp_path, services, url, test_services.require_rabbitmq(), keystone=keystone
            )
            deployment.start_all(workers=1)
            yield deployment
            deployment.stop_all(secrets=_secrets(keystone))
    finally:
        for service in services:
            with contextlib.suppress(ProcessLookupError):
                service.process.kill()


# What the audit writes of a subcloud while the tests run (its first rounds after the
# module's deployment starts): no user's request changes these.
AUDITED = ("availability-status", "software-version", "app-sync-status", "app-sync-details")


def _written(deployment, token: str) -> list[dict]:
    """The subclouds as users' requests leave them: without what the audit writes."""
    subclouds = deployment.call("GET", "/subclouds", token=token)["subclouds"]
    return [
        {key: value for key, value in sc.items() if key not in (*AUDITED, "updated-at")}
        for sc in subclouds
    ]


def _status(deployment, method: str, path: str, body=None, token=None) -> tuple[int, dict]:
    try:
        return 200, deployment.call(method, path, body, token=token)
    except e2e.APIError as exc:
        return exc.status, exc.body


WRITES = [
    ("POST", "/subclouds", {"name": "intruder", "endpoint": "simulated://intruder"}),
    ("PATCH", "/subclouds/edge1", {"description": "changed"}),
    ("DELETE", "/subclouds/edge1", None),
    ("POST", "/subcloud-groups", {"name": "g1"}),
    ("POST", "/sw-update-strategy", {"type": "prestage", "sysadmin_password": PASSWORD}),
    ("POST", "/sw-update-strategy/actions", {"action": "apply"}),
    ("DELETE", "/sw-update-strategy", None),
    ("PATCH", "/subclouds/edge1/prestage", {"sysadmin_password": PASSWORD}),
]


@pytest.fixture(scope="module", autouse=True)
def edge1(sqlite_deployment, keystone):
    token = keystone.token(keystone.admin)
    sqlite_deployment.call("POST", "/subclouds", SUBCLOUD, token=token)
    wait_for(
        lambda: (
            sqlite_deployment.call("GET", "/subclouds/edge1", token=token)["availability-status"]
            == "online"
        ),
        what="the audit's first round over edge1",
    )


class TestAuthMatrix:
    def test_version_list_needs_no_token(self, sqlite_deployment):
        with urllib.request.urlopen(sqlite_deployment.url + "/") as answer:
            assert "versions" in json.loads(answer.read())

    @pytest.mark.parametrize("path", ["/subclouds", "/sw-update-strategy", "/subcloud-groups"])
    def test_no_token_is_401(self, sqlite_deployment, path):
        status, body = _status(sqlite_deployment, "GET", path)
        assert status == 401
        assert body["code"] == 401
        assert "requires authentication" in body["message"]

    def test_garbage_token_is_401(self, sqlite_deployment):
        status, body = _status(sqlite_deployment, "GET", "/subclouds", token="not-a-token")
        assert (status, body["code"]) == (401, 401)
        assert body["message"]

    def test_revoked_token_is_401(self, sqlite_deployment, keystone):
        token = keystone.token(keystone.admin)
        keystone.revoke(token)
        status, body = _status(sqlite_deployment, "GET", "/subclouds", token=token)
        assert (status, body["code"]) == (401, 401)

    @pytest.mark.parametrize(
        "path", ["/subclouds", "/subclouds/edge1", "/subcloud-groups", "/subcloud-groups/Default"]
    )
    def test_reader_may_read(self, sqlite_deployment, keystone, path):
        status, _ = _status(sqlite_deployment, "GET", path, token=keystone.token(keystone.viewer))
        assert status == 200

    @pytest.mark.parametrize(("method", "path", "body"), WRITES)
    def test_reader_may_not_write(self, sqlite_deployment, keystone, method, path, body):
        token = keystone.token(keystone.viewer)
        before = _written(sqlite_deployment, token)
        status, answer = _status(sqlite_deployment, method, path, body, token=token)
        assert status == 403, answer
        assert answer["code"] == 403
        assert "not allowed" in answer["message"] or "policy" in answer["message"].lower()
        assert _written(sqlite_deployment, token) == before

    @pytest.mark.parametrize(("method", "path", "body"), [("GET", "/subclouds", None), *WRITES])
    def test_an_admin_of_another_project_may_do_nothing(
        self, sqlite_deployment, keystone, method, path, body
    ):
        before = _written(sqlite_deployment, keystone.token(keystone.admin))
        token = keystone.token(keystone.outsider)
        status, answer = _status(sqlite_deployment, method, path, body, token=token)
        assert (status, answer["code"]) == (403, 403), answer
        assert _written(sqlite_deployment, keystone.token(keystone.admin)) == before

    def test_admin_may_write(self, sqlite_deployment, keystone):
        token = keystone.token(keystone.admin)
        sqlite_deployment.call("POST", "/subcloud-groups", {"name": "by-admin"}, token=token)
        sqlite_deployment.call("PATCH", "/subclouds/edge1", {"description": "x"}, token=token)
        assert sqlite_deployment.call("GET", "/subclouds/edge1", token=token)["description"] == "x"
        sqlite_deployment.call("DELETE", "/subcloud-groups/by-admin", token=token)


class TestCatalog:
    def test_register_endpoint_then_the_cli_finds_the_api(self, sqlite_deployment, keystone):
        admin_env = keystone.admin.environ(keystone.url)
        registered = _register(sqlite_deployment, admin_env, sqlite_deployment.url)
        assert registered.returncode == 0, registered.stderr
        root = sqlite_deployment.url + "/v1.0"
        assert f"public endpoint {root} in region RegionOne" in registered.stdout

        # Again, with the versioned form of the URL: nothing changes.
        again = _register(sqlite_deployment, admin_env, root)
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines() == [
            "Kept service dcmanager (dcmanager)",
            f"Kept public endpoint {root} in region RegionOne",
            f"Kept internal endpoint {root} in region RegionOne",
            f"Kept admin endpoint {root} in region RegionOne",
        ]

        moved = _register(
            sqlite_deployment, admin_env, root, "--internal-url", "http://127.0.0.1:1"
        )
        assert moved.returncode == 0, moved.stderr
        assert moved.stdout.splitlines()[1:] == [
            f"Kept public endpoint {root} in region RegionOne",
            "Updated internal endpoint http://127.0.0.1:1/v1.0 in region RegionOne",
            "Updated admin endpoint http://127.0.0.1:1/v1.0 in region RegionOne",
        ]

        listed = sqlite_deployment.cli("subcloud", "list", "-f", "json", env=admin_env)
        assert listed.returncode == 0, listed.stderr
        assert "edge1" in [row["name"] for row in json.loads(listed.stdout)]

        # Registered by other means without /v1.0, the catalog URL works as well.
        (public,) = [
            endpoint
            for endpoint in keystone.admin_call("GET", "/endpoints?interface=public")["endpoints"]
            if endpoint["url"] == root
        ]
        keystone.admin_call(
            "PATCH", f"/endpoints/{public['id']}", {"endpoint": {"url": sqlite_deployment.url}}
        )
        listed = sqlite_deployment.cli("subcloud", "list", "-f", "json", env=admin_env)
        assert listed.returncode == 0, listed.stderr
        assert "edge1" in [row["name"] for row in json.loads(listed.stdout)]

        viewer_env = keystone.viewer.environ(keystone.url)
        refused = sqlite_deployment.cli(
            "subcloud-group", "add", "--name", "by-viewer", env=viewer_env
        )
        assert refused.returncode == 1
        assert "not allowed" in refused.stderr or "olicy" in refused.stderr, refused.stderr

        wrong = sqlite_deployment.cli("subcloud", "list", env=admin_env | {"OS_PASSWORD": "wrong"})
        assert wrong.returncode == 1
        assert "Traceback" not in wrong.stderr
        assert "401" in wrong.stderr or "authenticat" in wrong.stderr.lower(), wrong.stderr

    @pytest.mark.parametrize(
        ("variables", "message"),
        [({}, "auth_url"), ({"OS_AUTH_URL": "http://127.0.0.1:1/v3"}, "no password")],
    )
    def test_register_endpoint_without_credentials(self, sqlite_deployment, variables, message):
        result = _register(sqlite_deployment, variables, sqlite_deployment.url)
        assert result.returncode == 1
        assert message in result.stderr and "openrc" in result.stderr
        assert "Traceback" not in result.stderr

    def test_register_endpoint_with_a_wrong_password(self, sqlite_deployment, keystone):
        result = _register(
            sqlite_deployment,
            keystone.admin.environ(keystone.url) | {"OS_PASSWORD": "wrong"},
            sqlite_deployment.url,
        )
        assert result.returncode == 1
        assert "requires authentication" in result.stderr
        assert "Traceback" not in result.stderr


# One database: tokens do not depend on it, and the same processes run a strategy on
# each database in tests/e2e/test_roles.py.
@pytest.mark.parametrize("backend", ["postgresql"])
def test_cli_strategy_with_keystone_tokens(tmp_path, services, keystone, backend):
    """The operator's path: register the endpoint, then drive a whole strategy with the
    CLI as the Keystone admin; 1 orchestrator and 3 workers on RabbitMQ."""
    with databases.temporary_database(backend, tmp_path) as url:
        deployment = e2e.Deployment(
            tmp_path, services, url, test_services.require_rabbitmq(), keystone=keystone
        )
        deployment.start_all(workers=3)
        # The central site's region, as in a distributed cloud (and apart from the
        # RegionOne entry other tests change while this one runs).
        admin_env = keystone.admin.environ(keystone.url) | {"OS_REGION_NAME": "SystemController"}
        registered = _register(deployment, admin_env, deployment.url)
        assert registered.returncode == 0, registered.stderr

        def cli(*args: str) -> str:
            result = deployment.cli(*args, env=admin_env)
            assert result.returncode == 0, result.stderr
            return result.stdout

        names = [f"sc{i:02}" for i in range(1, 13)]
        # Two through the CLI; the rest through the API with the same admin's token, as
        # a script would (each CLI run is a process start and a token).
        token = keystone.token(keystone.admin)
        for number, name in enumerate(names):
            endpoint = f"simulated://{name}?delay=0.3"
            if number < 2:
                cli("subcloud", "add", "--name", name, "--endpoint", endpoint)
                cli("subcloud", "manage", name)
            else:
                deployment.call("POST", "/subclouds", {"name": name, "endpoint": endpoint}, token)
                deployment.call(
                    "PATCH", f"/subclouds/{name}", {"management-state": "managed"}, token
                )
        # Polled through the API: each CLI run would be a process start.
        wait_for(
            lambda: all(
                sc["availability-status"] == "online"
                for sc in deployment.call("GET", "/subclouds", token=token)["subclouds"]
            ),
            what="the audit to bring every subcloud online",
        )
        listed = json.loads(cli("subcloud", "list", "-f", "json"))
        assert {row["availability"] for row in listed} == {"online"}
        created = cli(
            "prestage-strategy",
            "create",
            "--sysadmin-password",
            PASSWORD,
            "--max-parallel-subclouds",
            "4",
            "-f",
            "json",
        )
        assert json.loads(created)["state"] == "initial"
        cli("prestage-strategy", "apply")
        watched = deployment.cli(
            "prestage-strategy", "show", "--watch", "--interval", "0.5", env=admin_env
        )
        assert watched.returncode == 0, watched.stdout + watched.stderr
        steps = json.loads(cli("strategy-step", "list", "-f", "json"))
        assert {row["cloud"]: row["state"] for row in steps} == dict.fromkeys(names, "complete")
        assert PASSWORD not in created + watched.stdout
        workers_that_ran = [
            s for s in deployment.services if s.name == e2e.WORKER and "ended complete" in s.log
        ]
        assert len(workers_that_ran) >= 2
        deployment.stop_all(secrets=_secrets(keystone))
