"""The app-update strategy (fleet-wide seed 000) through the real API and every engine
role in-process, on simulated subclouds: one strategy over sites of every kind ends
each in the state seed 000 predicts, and the refusals of create and of the catalog."""

import pytest

from tests.functional import strategy_helpers as sh
from tests.functional import test_site_apps as site_apps

STRATEGY = sh.STRATEGY
TWO_CHARTS = (("demo-api", "0.2.0"), ("demo-db", "0.1.0"))


@pytest.fixture
def catalog(api):
    """Version 1.0.0 (one chart) and 2.0.0 (two charts)."""
    site_apps.upload(api, "1.0.0")
    site_apps.upload(api, "2.0.0", charts=TWO_CHARTS)
    return api


def create(api, status: int = 200, **body) -> dict:
    return api.post_json(
        STRATEGY, {"type": "app-update", "app": "demo", **body}, status=status, expect_errors=True
    ).json


def operate_all(api, names: list[str], **body) -> None:
    """Run one standalone operation on each site at once; wait until all settled."""
    for name in names:
        site_apps.operate(api, name, **body)
    for name in names:
        site_apps.settled(api, name)


# Sites by kind: (how many, system mode, failures injected once prepared, what the
# site holds before the strategy).
KINDS = {
    # At 1.0.0, never had 2.0.0: an apply.
    "fresh-dx": (10, "duplex", None, "1.0.0"),
    "fresh-sx": (8, "simplex", None, "1.0.0"),
    # Ran 2.0.0 before (inactive): a rollback on a duplex site, an apply on a simplex one.
    "back-dx": (12, "duplex", None, "2.0.0 inactive"),
    "back-sx": (8, "simplex", None, "2.0.0 inactive"),
    # Failures: the update recovers 1.0.0, or its recovery fails too.
    "fail-recovered": (5, "duplex", "app-apply", "1.0.0"),
    "fail-unrecovered": (5, "simplex", "app-apply,app-recover", "1.0.0"),
    "fail-upload": (2, "simplex", "app-upload", "1.0.0"),
    # The site's health check fails: the update began, and is undone.
    "fail-precheck": (2, "duplex", "precheck", "1.0.0"),
    # Nothing to do.
    "at-target": (5, "simplex", None, "2.0.0"),
    "absent": (3, "simplex", None, None),
}


def _sites() -> dict[str, str]:
    return {f"{kind}-{i}": kind for kind, (count, *_) in KINDS.items() for i in range(count)}


def _prepare(api) -> dict[str, str]:
    """Register the 60 sites and bring each to what its kind holds."""
    sites = _sites()
    assert len(sites) == 60
    for kind, (count, mode, _, _) in KINDS.items():
        sh.add_subclouds(api, [f"{kind}-{i}" for i in range(count)], f"system_mode={mode}")
    holds = {name: KINDS[kind][3] for name, kind in sites.items()}
    back = [name for name, held in holds.items() if held == "2.0.0 inactive"]
    at_one = [name for name, held in holds.items() if held and held != "2.0.0"]
    operate_all(api, at_one, action="apply", version="1.0.0")
    at_two = [name for name, held in holds.items() if held == "2.0.0"]
    operate_all(api, at_two, action="apply", version="2.0.0")
    operate_all(api, back, action="update", version="2.0.0")
    operate_all(api, back, action="update", version="1.0.0")
    for name, kind in sites.items():
        mode, fail = KINDS[kind][1], KINDS[kind][2]
        if fail:
            sh.set_options(api, name, f"system_mode={mode}&fail={fail}")
    return sites


# What seed 000 predicts for each kind: the step's state, and the site's record.
UPDATE = ["trafficdrain", "upgrade", "test", "trafficrollout"]
ROLLBACK = ["trafficdrain", "rollback", "test", "trafficrollout"]
EXPECTED = {
    "fresh-dx": ("complete", "2.0.0", "applied", UPDATE, {"demo-api": 2, "demo-db": 1}),
    "fresh-sx": ("complete", "2.0.0", "applied", UPDATE, {"demo-api": 2, "demo-db": 1}),
    "back-dx": ("complete", "2.0.0", "applied", ROLLBACK, {"demo-api": 4, "demo-db": 1}),
    "back-sx": ("complete", "2.0.0", "applied", UPDATE, {"demo-api": 4, "demo-db": 1}),
    "fail-recovered": (
        "failed",
        "1.0.0",
        "applied",
        ["rollback", "trafficrollout"],
        {"demo-api": 2},
    ),
    # The phases the failed recovery ran, as the site reported them.
    "fail-unrecovered": (
        "failed",
        "1.0.0",
        "apply-failed",
        ["rollback", "trafficrollout"],
        {"demo-api": 1, "demo-db": 0},
    ),
    "fail-upload": ("failed", "1.0.0", "applied", ["install"], {"demo-api": 1}),
    "fail-precheck": ("failed", "1.0.0", "applied", ["install"], {"demo-api": 1}),
    "at-target": ("skipped", "2.0.0", "applied", ["install"], {"demo-api": 1, "demo-db": 1}),
    "absent": ("skipped", None, None, None, None),
}


def test_one_strategy_over_sixty_sites_of_every_kind(catalog, roles):
    api = catalog
    sites = _prepare(api)

    strategy = create(api, version="latest", **{"max-parallel-subclouds": 20})
    assert strategy["extra-args"] == {"app": "demo", "version": "2.0.0"}
    steps = sh.steps(api)
    assert {n: s["state"] for n, s in steps.items() if s["state"] == "skipped"} == {
        n: "skipped" for n, kind in sites.items() if kind in ("at-target", "absent")
    }
    sh.apply(api)
    final = sh.wait_final(api, timeout=120)
    assert final["state"] == "failed"

    steps = sh.steps(api)
    table = {}
    for name in sites:
        app = api.get(f"{site_apps.site(name)}/demo", expect_errors=True)
        record = app.json if app.status_int == 200 else None
        table[name] = (
            steps[name]["state"],
            record and record["version"],
            record and record["status"],
            record and sorted(record["phases"]) if record else None,
            record and site_apps.ledger(record),
        )
    expected = {
        name: (
            EXPECTED[kind][0],
            EXPECTED[kind][1],
            EXPECTED[kind][2],
            sorted(EXPECTED[kind][3]) if EXPECTED[kind][3] is not None else None,
            EXPECTED[kind][4],
        )
        for name, kind in sites.items()
    }
    assert table == expected

    # A failed step says why, and what the site's application is left at.
    apply_failed = "simulated failure of the app-apply (fail=app-apply)"
    details = {
        "fail-recovered": (
            f"app-recovering: {apply_failed}; recovered to 1.0.0 (demo: 1.0.0 applied)"
        ),
        "fail-unrecovered": (
            f"app-recovering: {apply_failed}; recovery failed: simulated failure of the "
            "app-recover (fail=app-recover) (demo: 1.0.0 apply-failed)"
        ),
        "fail-upload": (
            "app-uploading: simulated failure of the app-upload (fail=app-upload) "
            "(demo: 1.0.0 applied)"
        ),
        "fail-precheck": (
            "app-update-precheck: Subcloud health check failed: simulated health check "
            "failure (fail=precheck) (demo: 1.0.0 applied)"
        ),
        "at-target": (
            "Application demo at subcloud {name} cannot be updated: it is at version 2.0.0 already"
        ),
        "absent": "Application demo not found at subcloud {name}",
    }
    # The others report whether the images were prestaged there (they were not).
    updated = (
        "app-update-precheck: the images of demo 2.0.0 were not prestaged here: the update "
        "pulls them"
    )
    for name, kind in sites.items():
        assert steps[name]["details"] == details.get(kind, updated).format(name=name), name


def test_abort_lets_the_updates_under_way_finish(catalog, roles):
    api = catalog
    names = [f"sc{i}" for i in range(4)]
    sh.add_subclouds(api, names)
    operate_all(api, names, action="apply", version="1.0.0")
    for name in names:
        sh.set_options(api, name, "delay=0.3")
    create(api, **{"subcloud-apply-type": "serial"})
    sh.apply(api)
    sh.wait_step(api, "sc0", lambda s: s["state"] == "app-uploading", "uploading")
    # The site shows the strategy's operation under way.
    assert api.get(f"{site_apps.site('sc0')}/demo").json["operation"] == "app-uploading"

    api.post_json(f"{STRATEGY}/actions?type=app-update", {"action": "abort"})
    final = sh.wait_final(api)

    assert final["state"] == "aborted"
    steps = sh.steps(api)
    assert steps["sc0"]["state"] == "complete"
    assert api.get(f"{site_apps.site('sc0')}/demo").json["version"] == "2.0.0"
    for name in names[1:]:
        assert (steps[name]["state"], steps[name]["details"]) == (
            "aborted",
            "Not started: the strategy was aborted.",
        )
        app = api.get(f"{site_apps.site(name)}/demo").json
        assert (app["version"], app["status"]) == ("1.0.0", "applied")


def test_stop_on_failure_starts_no_more_sites(catalog, roles):
    api = catalog
    names = ["sc0", "sc1", "sc2"]
    sh.add_subclouds(api, names)
    operate_all(api, names, action="apply", version="1.0.0")
    sh.set_options(api, "sc0", "fail=app-upload")
    create(api, **{"subcloud-apply-type": "serial", "stop-on-failure": True})
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "failed"
    states = {name: step["state"] for name, step in sh.steps(api).items()}
    assert states == {"sc0": "failed", "sc1": "aborted", "sc2": "aborted"}


def error(api, body: dict, status: int, message: str) -> None:
    response = api.post_json(STRATEGY, body, status=status, expect_errors=True)
    assert response.json["message"] == message, response.json
    assert api.get(STRATEGY, status=404, expect_errors=True).status_int == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "app required"),
        ({"app": ""}, "app required"),
        ({"app": 7}, "Invalid app '7': must be an application's name"),
        ({"app": "   "}, "Invalid app '   ': must be an application's name"),
        ({"app": "d" * 64}, f"Invalid app '{'d' * 64}': must be an application's name"),
        (
            {"app": "demo", "version": "v" * 65},
            f"Invalid version '{'v' * 65}': must be a version or 'latest'",
        ),
        ({"app": "demo", "for_install": 0}, "for_install does not apply to an app-update strategy"),
        (
            {"app": "demo", "version": ["1"]},
            "Invalid version '['1']': must be a version or 'latest'",
        ),
        (
            {"app": "demo", "include_prerelease": "maybe"},
            "Invalid value 'maybe' for include_prerelease - must be True/False or 'true'/'false'",
        ),
        ({"app": "demo", "release": "25.09"}, "release does not apply to an app-update strategy"),
        ({"app": "demo", "force": True}, "force does not apply to an app-update strategy"),
        (
            {"app": "demo", "sysadmin_password": sh.PASSWORD},
            "sysadmin_password does not apply to an app-update strategy",
        ),
        ({"app": "nope"}, "Application nope not found: upload it first (dcmanager app upload)"),
        (
            {"app": "demo", "version": "3.0.0"},
            "Application demo has no version 3.0.0: upload it first (dcmanager app upload)",
        ),
    ],
)
def test_create_refusals(catalog, db, body, message):
    error(catalog, {"type": "app-update", **body}, 400, message)


def test_a_fleet_with_nothing_to_update_has_no_strategy(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["sc1", "sc2"])
    site_apps.operate(api, "sc1", action="apply", version="2.0.0")
    site_apps.settled(api, "sc1")

    error(api, {"type": "app-update", "app": "demo"}, 422, "Strategy has no steps to apply")
    error(
        api,
        {"type": "app-update", "app": "demo", "cloud_name": "sc1"},
        400,
        "Application update skipped 'sc1': Application demo at subcloud sc1 cannot be "
        "updated: it is at version 2.0.0 already",
    )


def test_the_target_version_stays_in_the_catalog_while_the_strategy_lives(catalog, roles):
    api = catalog
    sh.add_subclouds(api, ["sc1"])
    site_apps.operate(api, "sc1", action="apply", version="1.0.0")
    site_apps.settled(api, "sc1")
    create(api)
    # One strategy of any type at a time.
    assert (
        api.post_json(
            STRATEGY,
            {"type": "prestage", "sysadmin_password": sh.PASSWORD},
            status=409,
            expect_errors=True,
        ).json["message"]
        == "Strategy of type: 'app-update' already exists"
    )

    refused = api.delete(f"{site_apps.APPS}/demo/versions/2.0.0", status=409, expect_errors=True)
    assert refused.json["message"] == (
        "Application demo version 2.0.0 is the target of the current app-update strategy: "
        "it cannot be deleted before the strategy ends"
    )
    api.delete(f"{STRATEGY}?type=app-update")
    sh.wait_for(lambda: api.get(STRATEGY, expect_errors=True).status_int == 404)
    api.delete(f"{site_apps.APPS}/demo/versions/2.0.0", status=204)


def test_a_site_found_at_the_target_when_its_step_starts_is_skipped(catalog, roles, db):
    """The site was updated since the strategy was planned (here behind the API's
    back): its precheck finds nothing to do and the step is skipped, saying why."""
    from sqlalchemy import orm
    from sqlalchemy import update

    from dcmanager.db.sqlalchemy import models

    api = catalog
    sh.add_subclouds(api, ["sc1"])
    operate_all(api, ["sc1"], action="apply", version="1.0.0")
    create(api)
    with orm.Session(db) as session, session.begin():
        session.execute(update(models.SubcloudApp).values(version="2.0.0"))
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "complete"
    step = sh.steps(api)["sc1"]
    assert (step["state"], step["details"]) == (
        "skipped",
        "app-update-precheck: Application demo at subcloud sc1 cannot be updated: it is at "
        "version 2.0.0 already",
    )
