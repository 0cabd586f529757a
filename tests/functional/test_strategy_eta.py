"""An applying strategy shows its estimated end, refreshed from its steps' measures."""

import datetime

import pytest
from sqlalchemy import orm
from sqlalchemy import select

from dcmanager.db.sqlalchemy import models
from tests.functional import strategy_helpers as sh


@pytest.fixture
def often(fast_engine):
    """The estimate refreshed ten times a second (before the roles start)."""
    fast_engine.set_override("eta_interval", 0.1, group="orchestrator")


def test_an_applying_strategy_shows_its_estimated_end(often, api, roles, db):
    sh.add_subclouds(api, ["sc1", "sc2", "sc3", "sc4"], options="delay=0.15")
    sh.create(api, **{"max-parallel-subclouds": 2})
    sh.apply(api)

    # Once the first steps passed their phases, the strategy says when it should end.
    shown = sh.wait_for(
        lambda: (s := api.get(sh.STRATEGY).json)["eta"] and s, what="an estimated end"
    )
    assert shown["state"] == "applying"
    estimated = datetime.datetime.fromisoformat(shown["eta"])
    assert sh.wait_final(api)["state"] == "complete"
    ended = datetime.datetime.now(datetime.UTC)

    assert api.get(sh.STRATEGY).json["eta"] is None
    # Sanity only (the measured error is reported by tools/demo.py and tools/bench.py):
    # the estimate was made for a time near the run's end.
    assert abs((estimated - ended).total_seconds()) < 30
    # Every completed step timed each phase it passed, with the bytes of its transfers.
    with orm.Session(db) as session:
        timings = session.scalars(select(models.StrategyStep.timings)).all()
    for record in timings:
        assert set(record) == {
            "prestage-precheck",
            "prestage-preparing-packages",
            "prestaging-packages",
            "prestaging-images",
        }
        assert record["prestaging-packages"]["b"] > 0
        assert record["prestage-precheck"]["s"] >= 0.15
