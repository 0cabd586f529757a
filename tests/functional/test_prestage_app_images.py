"""Prestaging applications' images with a release (``apps`` on a prestage strategy or a
standalone prestage) through the real API and engine on simulated subclouds: the
versions are resolved at create, the images step carries the images their charts
render with the operator's overrides, and bad ``apps`` are refused."""

import pytest

from dcmanager.drivers import simulator
from tests.functional import strategy_helpers as sh
from tests.functional import test_site_apps as site_apps


@pytest.fixture
def catalog(api):
    site_apps.upload(api, "1.0.0")
    site_apps.upload(api, "2.0.0", charts=(("demo-api", "0.2.0"), ("demo-db", "0.1.0")))
    return api


def _images_total(step: dict) -> int:
    return step["progress"]["artifacts_total"]


def test_a_strategy_prestages_the_images_of_the_versions_it_names(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["sc1", "sc2"])
    strategy = sh.create(api, apps=["demo"])
    assert strategy["extra-args"]["apps"] == [{"app": "demo", "version": "2.0.0"}]
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "complete"
    for step in sh.steps(api).values():
        # The release's images, and demo 2.0.0's two charts' images.
        assert _images_total(step) == simulator.IMAGES_COUNT + 2


def test_an_override_of_the_same_image_changes_nothing_in_number(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["sc1"])
    api.patch_json(
        "/v1.0/helm_charts/demo-db?app=demo",
        {"flag": "reuse", "values": {"set": ["image=registry.local:9001/stx/demo-api:0.2.0"]}},
    )
    sh.create(api, apps=["demo@2.0.0"])
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "complete"
    # Both charts now run one image.
    assert _images_total(sh.steps(api)["sc1"]) == simulator.IMAGES_COUNT + 1


def test_a_standalone_prestage_takes_apps_too(catalog, roles, db):
    from sqlalchemy import orm
    from sqlalchemy import select

    from dcmanager.db.sqlalchemy import models

    api = catalog
    sh.add_subclouds(api, ["sc1"], "delay=0.3")
    api.patch_json(
        "/v1.0/subclouds/sc1/prestage",
        {"sysadmin_password": sh.PASSWORD, "apps": ["demo@1.0.0"]},
    )

    def transferring_images():
        # The step is forgotten once it ends: look at it while it transfers images.
        with orm.Session(db) as session:
            step = session.scalars(select(models.StrategyStep)).first()
            moving = (
                step
                and step.state == "prestaging-images"
                and (step.progress or {}).get("bytes_total") == simulator.IMAGES_BYTES
            )
            return moving and (step.extra_args, step.progress)

    args, progress = sh.wait_for(transferring_images, what="the images transfer")
    assert args["apps"] == [{"app": "demo", "version": "1.0.0"}]
    assert progress["artifacts_total"] == simulator.IMAGES_COUNT + 1
    sh.wait_for(
        lambda: api.get("/v1.0/subclouds/sc1").json["prestage-status"] == "complete",
        what="the prestage to complete",
    )


@pytest.mark.parametrize(
    ("apps", "message"),
    [
        (7, "Invalid apps: a list of at most 20 NAME, NAME@VERSION or NAME@latest"),
        ([1], "Invalid apps: a list of at most 20 NAME, NAME@VERSION or NAME@latest"),
        (["x"] * 21, "Invalid apps: a list of at most 20 NAME, NAME@VERSION or NAME@latest"),
        (["@1.0.0"], "Invalid app '@1.0.0': NAME, NAME@VERSION or NAME@latest"),
        (["demo", "demo@1.0.0"], "Application demo is named more than once in apps"),
        (["nope"], "Application nope not found: upload it first (dcmanager app upload)"),
        (
            ["demo@3.0.0"],
            "Application demo has no version 3.0.0: upload it first (dcmanager app upload)",
        ),
    ],
)
def test_bad_apps_are_refused(catalog, db, apps, message):
    sh.register(catalog, "sc1")
    response = catalog.post_json(
        sh.STRATEGY,
        {"type": "prestage", "sysadmin_password": sh.PASSWORD, "apps": apps},
        status=400,
        expect_errors=True,
    )
    assert response.json["message"] == message


def _delete_strategy(api) -> None:
    api.delete(sh.STRATEGY)
    sh.wait_for(
        lambda: api.get(sh.STRATEGY, expect_errors=True).status_int == 404,
        what="the strategy to go",
    )


def test_an_app_update_reports_and_can_require_prestaged_images(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["sc1", "sc2", "sc3"])
    for name in ("sc1", "sc2", "sc3"):
        site_apps.operate(api, name, action="apply", version="1.0.0")
    for name in ("sc1", "sc2", "sc3"):
        site_apps.settled(api, name)
    sh.create(api, cloud_name="sc1", apps=["demo@2.0.0"])
    sh.apply(api)
    assert sh.wait_final(api)["state"] == "complete"
    _delete_strategy(api)

    strategy = api.post_json(
        sh.STRATEGY, {"type": "app-update", "app": "demo", "require-prestaged": True}
    ).json
    assert strategy["extra-args"] == {"app": "demo", "version": "2.0.0", "require-prestaged": True}
    steps = sh.steps(api)
    for name in ("sc2", "sc3"):
        assert (steps[name]["state"], steps[name]["details"]) == (
            "skipped",
            f"The images of demo 2.0.0 are not prestaged at subcloud {name}: prestage them "
            "first (--app demo@2.0.0)",
        )
    sh.apply(api)
    assert sh.wait_final(api)["state"] == "complete"
    assert sh.steps(api)["sc1"]["details"] == (
        "app-update-precheck: the images of demo 2.0.0 were prestaged here"
    )
    _delete_strategy(api)

    # Without the requirement, the others are updated and say they pull the images.
    api.post_json(sh.STRATEGY, {"type": "app-update", "app": "demo"})
    sh.apply(api)
    assert sh.wait_final(api)["state"] == "complete"
    steps = sh.steps(api)
    assert steps["sc1"]["state"] == "skipped"  # at 2.0.0 already
    for name in ("sc2", "sc3"):
        assert (steps[name]["state"], steps[name]["details"]) == (
            "complete",
            "app-update-precheck: the images of demo 2.0.0 were not prestaged here: the "
            "update pulls them",
        )
