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
    "fresh-dx": (12, "duplex", None, "1.0.0"),
    "fresh-sx": (8, "simplex", None, "1.0.0"),
    # Ran 2.0.0 before (inactive): a rollback on a duplex site, an apply on a simplex one.
    "back-dx": (12, "duplex", None, "2.0.0 inactive"),
    "back-sx": (8, "simplex", None, "2.0.0 inactive"),
    # Failures: the update recovers 1.0.0, or its recovery fails too.
    "fail-recovered": (5, "duplex", "app-apply", "1.0.0"),
    "fail-unrecovered": (5, "simplex", "app-apply,app-recover", "1.0.0"),
    "fail-upload": (2, "simplex", "app-upload", "1.0.0"),
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
        "at-target": (
            "Application demo at subcloud {name} cannot be updated: it is at version 2.0.0 already"
        ),
        "absent": "Application demo not found at subcloud {name}",
    }
    for name, kind in sites.items():
        assert steps[name]["details"] == (
            details[kind].format(name=name) if kind in details else None
        ), name
