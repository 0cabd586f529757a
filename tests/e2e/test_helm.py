"""Helm chart overrides on real processes: dcmanager-api and dcmanager-audit on each
database, driven over HTTP and with the ``dcmanager`` CLI."""

import concurrent.futures

import pytest
from oslo_config import cfg

from dcmanager.common import crypt
from dcmanager.conf import default
from dcmanager.helm import overrides
from tests import databases
from tests import services as test_services
from tests.e2e import deployment as e2e
from tests.functional.strategy_helpers import wait_for

RABBITMQ = "/helm_charts/rabbitmq?namespace=openstack"
KEYSTONE = "/helm_charts/keystone?namespace=openstack"


@pytest.fixture(params=databases.BACKENDS)
def deployment(request, tmp_path, services):
    """The API and the audit as their own processes on SQLite, PostgreSQL, MariaDB."""
    with databases.temporary_database(request.param, tmp_path) as url:
        deployment = e2e.Deployment(tmp_path, services, url, test_services.require_rabbitmq())
        deployment.start(e2e.AUDIT)
        deployment.start(e2e.API)
        yield deployment


def generated_password(deployment, purpose: str) -> str:
    """What the API derives for ``purpose`` from its secret key (created on first use)."""
    conf = cfg.ConfigOpts()
    default.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override("secret_key_file", str(deployment.tmp_path / "state" / "secret.key"))
    return crypt.derive_secret(conf, purpose)


def test_overrides_for_audited_subclouds_and_concurrent_updates(deployment):
    for name, mode in (("sc1", "duplex"), ("sc2", "simplex")):
        deployment.call(
            "POST",
            "/subclouds",
            {"name": name, "endpoint": f"simulated://{name}?system_mode={mode}"},
        )

    def shown(subcloud: str) -> dict | None:
        try:
            return deployment.call("GET", f"{RABBITMQ}&subcloud={subcloud}")
        except e2e.APIError as exc:
            assert exc.status == 409, exc.body  # not audited yet
            return None

    duplex = wait_for(lambda: shown("sc1"), what="the audit to learn sc1's system mode")
    simplex = wait_for(lambda: shown("sc2"), what="the audit to learn sc2's system mode")
    assert duplex["system_overrides"] == "pod:\n  replicas: {server: 2}\n"
    assert simplex["system_overrides"] == "pod:\n  replicas: {server: 1}\n"

    # Twenty reuse updates at once, each adding its own key: none is lost.
    def update(number: int) -> dict:
        body = {"flag": "reuse", "values": {"set": [f"k{number:02d}={number}"]}}
        return deployment.call("PATCH", RABBITMQ, body)

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(update, range(20)))
    user = deployment.call("GET", RABBITMQ)["user_overrides"]
    assert user == "".join(f"k{n:02d}: {n}\n" for n in range(20))

    # The CLI, the seed's example.
    cli_env = {"DCMANAGER_URL": f"{deployment.url}/v1.0"}
    updated = deployment.cli(
        "helm-override-update", "rabbitmq", "openstack", "--reset-values", "--set",
        "pod.replicas=2", env=cli_env,
    )  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    values = deployment.cli(
        "helm-override-show", "rabbitmq", "openstack", "--format", "helm", env=cli_env
    )
    assert (values.returncode, values.stdout) == (0, "pod:\n  replicas: 2\n"), values.stderr

    # Generated passwords are in no answer and no log.
    shown_keystone = deployment.call("GET", KEYSTONE)
    shown_sc1 = deployment.call("GET", f"{KEYSTONE}&subcloud=sc1")
    secret = generated_password(
        deployment, f"helm-password/{overrides.DEFAULT_SITE_NAME}/keystone/admin"
    )
    sc1_secret = generated_password(deployment, "helm-password/sc1/keystone/admin")
    assert secret != sc1_secret
    for answer in (shown_keystone, shown_sc1):
        assert "password: '******'" in answer["system_overrides"]
        assert secret not in str(answer) and sc1_secret not in str(answer)
    deployment.stop_all(secrets=(secret, sc1_secret))
