"""User overrides of an application's charts: ``/v1.0/helm_charts/{chart}?app=NAME``.
They belong to the application (chart and namespace within it), not to a version, so
an update deploys them again; the platform's charts keep working as before."""

from dcmanager.apps import operations
from dcmanager.common import config
from dcmanager.db import api as db_api
from tests import apps
from tests.functional import strategy_helpers as sh

CHART = "/v1.0/helm_charts/demo-db?app=demo"
SET_REPLICAS = {"flag": "reuse", "values": {"set": ["replicas=3"]}}


def _upload(api, version, charts):
    data = apps.app_tarball(version=version, charts=charts)
    api.post("/v1.0/apps", data, content_type="application/octet-stream")


def test_overrides_of_an_application_chart_are_kept_across_its_versions(api):
    _upload(api, "1.0.0", (("demo-api", "0.1.0"),))
    _upload(api, "1.1.0", (("demo-api", "0.2.0"), ("demo-db", "0.1.0")))

    assert api.get("/v1.0/helm_charts?app=demo").json == {
        "charts": [
            {"name": "demo-api", "namespaces": ["demo"], "app": "demo"},
            {"name": "demo-db", "namespaces": ["demo"], "app": "demo"},
        ]
    }
    # The chart has one namespace in the application: it need not be named.
    assert api.patch_json(CHART, SET_REPLICAS).json == {
        "name": "demo-db",
        "namespace": "demo",
        "user_overrides": "replicas: 3\n",
    }
    shown = api.get(CHART + "&namespace=demo").json
    assert (shown["user_overrides"], shown["system_overrides"]) == ("replicas: 3\n", "")
    assert shown["combined_overrides"] == "replicas: 3\n"

    sh.register(api, "s1")
    subcloud = db_api.subcloud_get("s1")
    step = operations.start(config.CONF, subcloud, "demo", "apply", "1.1.0")
    assert step.extra_args["values"] == {"demo-api": {}, "demo-db": {"replicas": 3}}

    api.delete(CHART, status=204)
    assert api.get(CHART).json["user_overrides"] == ""


def test_refusals(api):
    _upload(api, "1.0.0", (("demo-api", "0.1.0"),))
    sh.assert_error(
        api.get("/v1.0/helm_charts/demo-api?app=nope", expect_errors=True),
        404,
        "Application nope not found",
    )
    sh.assert_error(
        api.patch_json("/v1.0/helm_charts/other?app=demo", SET_REPLICAS, expect_errors=True),
        404,
        "Helm chart other of application demo not found",
    )
    sh.assert_error(
        api.get("/v1.0/helm_charts/demo-api?app=demo&namespace=kube", expect_errors=True),
        404,
        "Helm chart demo-api has no overrides in namespace kube (its namespaces: demo)",
    )
    # A platform chart of the same name is another chart.
    sh.assert_error(
        api.get("/v1.0/helm_charts/demo-api?namespace=demo", expect_errors=True),
        404,
        "Helm chart demo-api not found",
    )


def test_a_subcloud_has_overrides_of_its_own_above_the_applications(api):
    _upload(api, "1.1.0", (("demo-api", "0.2.0"), ("demo-db", "0.1.0")))
    sh.register(api, "s1")
    sh.register(api, "s2")
    api.patch_json(CHART, {"flag": "reuse", "values": {"set": ["replicas=3", "tier=gold"]}})

    site = CHART + "&subcloud=s1"
    assert api.patch_json(site, SET_REPLICAS | {"values": {"set": ["replicas=5"]}}).json == {
        "name": "demo-db",
        "namespace": "demo",
        "subcloud_overrides": "replicas: 5\n",
    }
    shown = api.get(site).json
    assert (shown["user_overrides"], shown["subcloud_overrides"]) == (
        "replicas: 3\ntier: gold\n",
        "replicas: 5\n",
    )
    assert shown["combined_overrides"] == "replicas: 5\ntier: gold\n"
    # Another subcloud, and the application itself, are left as they were.
    assert api.get(CHART + "&subcloud=s2").json["subcloud_overrides"] == ""
    assert "subcloud_overrides" not in api.get(CHART).json

    # An operation at s1 deploys them above the application's; at s2, the application's.
    values = {
        name: operations.start(
            config.CONF, db_api.subcloud_get(name), "demo", "apply", "1.1.0"
        ).extra_args["values"]["demo-db"]
        for name in ("s1", "s2")
    }
    assert values == {"s1": {"replicas": 5, "tier": "gold"}, "s2": {"replicas": 3, "tier": "gold"}}

    api.delete(site, status=204)
    assert api.get(site).json["subcloud_overrides"] == ""
    assert api.get(CHART).json["user_overrides"] == "replicas: 3\ntier: gold\n"


def test_a_subcloud_deleted_takes_its_overrides_along(api, db):
    from sqlalchemy import func
    from sqlalchemy import orm
    from sqlalchemy import select

    from dcmanager.db.sqlalchemy import models

    _upload(api, "1.0.0", (("demo-db", "0.1.0"),))
    sh.register(api, "s1", managed=False)
    api.patch_json(CHART + "&subcloud=s1", SET_REPLICAS)
    api.delete("/v1.0/subclouds/s1")

    with orm.Session(db) as session:
        assert session.scalar(select(func.count()).select_from(models.HelmOverride)) == 0


def test_site_overrides_refusals(api):
    _upload(api, "1.0.0", (("demo-db", "0.1.0"),))
    sh.register(api, "s1")
    for ref in ("nope", "%00"):
        for call in (api.get, lambda url, **kw: api.patch_json(url, SET_REPLICAS, **kw)):
            sh.assert_error(
                call(CHART + f"&subcloud={ref}", expect_errors=True), 404, "Subcloud not found"
            )
    message = "A subcloud's own overrides are of an application's chart: name it with ?app="
    sh.assert_error(
        api.patch_json(
            "/v1.0/helm_charts/rabbitmq?namespace=openstack&subcloud=s1",
            SET_REPLICAS,
            expect_errors=True,
        ),
        400,
        message,
    )
    sh.assert_error(
        api.delete(
            "/v1.0/helm_charts/rabbitmq?namespace=openstack&subcloud=s1", expect_errors=True
        ),
        400,
        message,
    )
