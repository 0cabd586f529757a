"""A strategy's maintenance window through the real API and engine."""

import datetime

from tests.functional import strategy_helpers as sh


def _in(seconds: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)


def test_steps_start_once_the_window_opens(api, roles):
    sh.add_subclouds(api, ["sc1", "sc2"])
    start = _in(0.6)
    created = sh.create(api, **{"start-after": start.isoformat()})
    assert created["extra-args"]["start-after"] == start.isoformat()
    sh.apply(api)

    assert sh.wait_final(api)["state"] == "complete"
    for step in sh.steps(api).values():
        assert datetime.datetime.fromisoformat(step["started-at"]) >= start


def test_a_bad_window_is_refused_and_nothing_is_stored(api, conf):
    sh.register(api, "sc1")
    sh.audit_once(conf)
    body = {
        "type": "prestage",
        "sysadmin_password": sh.PASSWORD,
        "start-after": _in(3600).isoformat(),
        "no-new-steps-after": _in(60).isoformat(),
    }

    answer = api.post_json(sh.STRATEGY, body, status=400).json

    assert "must be later than start-after" in answer["message"]
    assert api.get(sh.STRATEGY, status=404)
