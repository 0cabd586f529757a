"""Prestage strategies run end to end: real API, real engine roles, simulated subclouds."""

import pytest

from tests.functional import strategy_helpers as sh


@pytest.mark.parametrize("width", [1, 2, 5])
def test_group_strategy_runs_in_order_within_the_window(api, roles, width):
    names = [f"sc{i}" for i in range(1, 8)]
    sh.add_subclouds(api, names, "delay=0.1")

    sh.create(api, **{"max-parallel-subclouds": width})
    assert sh.apply(api)["state"] == "applying"
    final = sh.wait_final(api)

    assert final["state"] == "complete"
    steps = sh.steps(api)
    assert [steps[n]["state"] for n in names] == ["complete"] * len(names)
    assert sh.max_in_flight(list(steps.values())) <= width
    starts = [steps[n]["started-at"] for n in names]
    assert starts == sorted(starts)
    for name in names:
        subcloud = api.get(f"/v1.0/subclouds/{name}").json
        assert subcloud["prestage-status"] == "complete"
        assert subcloud["prestage-versions"] == "25.09"
        assert subcloud["error-description"] is None
