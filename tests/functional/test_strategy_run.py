"""Prestage strategies run end to end: real API, real engine roles, simulated subclouds."""

import hashlib
import time as time_module

import pytest

from dcmanager.manager import service as manager_service
from dcmanager.orchestrator import engine as engine_module
from dcmanager.orchestrator import service as orchestrator_service
from dcmanager.orchestrator import worker
from dcmanager.releases import store
from tests import releases as test_releases
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


def _run(api, names, options="", **create):
    sh.add_subclouds(api, names, options)
    sh.create(api, **create)
    sh.apply(api)
    return sh.wait_final(api)


def test_large_window_runs_everything_at_once(api, roles):
    names = [f"sc{i}" for i in range(1, 61)]

    final = _run(api, names, **{"max-parallel-subclouds": 50})

    assert final["state"] == "complete"
    steps = sh.steps(api)
    assert {step["state"] for step in steps.values()} == {"complete"}
    assert sh.max_in_flight(list(steps.values())) <= 50


@pytest.mark.parametrize(
    ("options", "state", "reason"),
    [
        ("fail=precheck", "prestage-precheck", "Subcloud health check failed: simulated"),
        ("fail=packages", "prestaging-packages", "simulated failure of the packages transfer"),
        ("fail=images", "prestaging-images", "simulated failure of the images transfer"),
        ("alarms=2", "prestage-precheck", "Subcloud has management affecting alarm(s)."),
        ("free_disk_gb=1", "prestage-precheck", "Not enough free disk space for release 25.09"),
    ],
)
def test_a_failing_phase_fails_its_step_with_the_reason(api, roles, options, state, reason):
    sh.add_subclouds(api, ["good"])
    final = _run(api, ["bad"], options)

    assert final["state"] == "failed"
    steps = sh.steps(api)
    assert steps["good"]["state"] == "complete"
    assert steps["bad"]["state"] == "failed"
    assert steps["bad"]["details"].startswith(f"{state}: {reason}")
    bad = api.get("/v1.0/subclouds/bad").json
    assert bad["prestage-status"] == "failed"
    assert bad["error-description"].startswith(reason)
    assert bad["prestage-versions"] is None


def test_force_prestages_despite_alarms(api, roles):
    final = _run(api, ["sc1"], "alarms=3", force=True)

    assert final["state"] == "complete"


def test_duplex_for_install_needs_controller0_active(api, roles):
    sh.add_subclouds(api, ["ok"], "system_mode=duplex")
    final = _run(api, ["c1active"], "system_mode=duplex&controller0_active=false", for_install=True)

    steps = sh.steps(api)
    assert final["state"] == "failed"
    assert steps["ok"]["state"] == "complete"
    assert steps["c1active"]["details"] == (
        "prestage-precheck: Prestage for install on a duplex subcloud needs controller-0 active."
    )


def test_release_without_image_list_skips_images_with_a_note(api, roles):
    final = _run(api, ["sc1"], "image_list=false")

    step = sh.steps(api)["sc1"]
    assert final["state"] == "complete"
    assert step["state"] == "complete"
    assert step["details"] == (
        "prestaging-images: skipped: the release has no image list: no images to prestage"
    )
    assert api.get("/v1.0/subclouds/sc1").json["prestage-status"] == "complete"


def test_stop_on_failure_starts_nothing_after_the_first_failure(api, roles):
    sh.add_subclouds(api, ["bad"], "fail=precheck")
    sh.add_subclouds(api, [f"sc{i}" for i in range(1, 6)], "delay=0.2")

    sh.create(api, **{"max-parallel-subclouds": 1, "stop-on-failure": "true"})
    sh.apply(api)
    final = sh.wait_final(api)

    steps = sh.steps(api)
    assert final["state"] == "failed"
    assert steps["bad"]["state"] == "failed"
    assert {steps[f"sc{i}"]["state"] for i in range(1, 6)} == {"aborted"}
    assert steps["sc1"]["details"] == (
        "Not started: the strategy stops on failure and a step failed."
    )
    assert steps["sc1"]["started-at"] is None


def test_abort_stops_running_steps_and_aborts_the_rest(api, roles):
    names = [f"sc{i}" for i in range(1, 7)]
    sh.add_subclouds(api, names, "delay=4")  # seconds per phase
    sh.create(api, **{"max-parallel-subclouds": 2})
    sh.apply(api)
    sh.wait_for(
        lambda: (
            sh.steps(api)["sc1"]["progress"] is not None
            and sh.steps(api)["sc1"]["state"] == "prestaging-packages"
        ),
        what="sc1 transferring",
    )

    aborted = api.post_json(f"{sh.STRATEGY}/actions", {"action": "abort"}).json
    final = sh.wait_final(api)

    assert aborted["state"] == "abort requested"
    assert final["state"] == "aborted"
    steps = sh.steps(api)
    assert [steps[n]["state"] for n in names] == ["aborted"] * 6
    assert steps["sc1"]["details"].startswith("prestaging-packages: aborted (")
    assert "transferred; the next prestage resumes from there)" in steps["sc1"]["details"]
    assert steps["sc1"]["progress"]["bytes_done"] > 0
    assert steps["sc6"]["details"] == "Not started: the strategy was aborted."
    sc1 = api.get("/v1.0/subclouds/sc1").json
    assert sc1["prestage-status"] == "failed"
    assert sc1["error-description"].startswith("Prestage aborted in prestaging-packages (")


def test_subcloud_unmanaged_after_create_fails_its_step(api, roles):
    sh.add_subclouds(api, ["sc1", "sc2", "sc3"])
    sh.create(api)
    api.patch_json("/v1.0/subclouds/sc2", {"management-state": "unmanaged"})

    sh.apply(api)
    final = sh.wait_final(api)

    steps = sh.steps(api)
    assert final["state"] == "failed"
    assert steps["sc2"]["details"] == "prestage-precheck: Subcloud sc2 is unmanaged."
    assert steps["sc1"]["state"] == steps["sc3"]["state"] == "complete"
    assert api.get("/v1.0/subclouds/sc2").json["error-description"] == "Subcloud sc2 is unmanaged."


def test_preparation_failure_fails_every_step_at_once_and_runs_once(
    api, roles, fast_engine, monkeypatch
):
    from dcmanager.orchestrator import preparation

    calls = []
    real_prepare = preparation.prepare

    def counting_prepare(conf, release):
        calls.append(release)
        return real_prepare(conf, release)

    monkeypatch.setattr(preparation, "prepare", counting_prepare)
    fast_engine.set_override("simulated_preparation_failures", ["25.09"], group="prestage")
    names = [f"sc{i}" for i in range(1, 9)]

    final = _run(api, names, **{"max-parallel-subclouds": 3})

    assert final["state"] == "failed"
    steps = sh.steps(api)
    for name in names:
        assert steps[name]["state"] == "failed"
        assert steps[name]["details"] == (
            "prestage-preparing-packages: Preparing the packages of release 25.09 failed: "
            "simulated failure ([prestage] simulated_preparation_failures)"
        )
    assert calls == ["25.09"]


def test_a_release_missing_files_in_the_store_fails_preparation(api, roles, conf):
    blobs = store.BlobStore(conf.prestage.release_store)
    data = test_releases.package("25.09")
    blobs.delete("sha256:" + hashlib.sha256(data).hexdigest())
    names = ["sc1", "sc2"]

    final = _run(api, names)

    assert final["state"] == "failed"
    for name, step in sh.steps(api).items():
        assert step["details"] == (
            "prestage-preparing-packages: Preparing the packages of release 25.09 failed: "
            "1 package files are missing from the release store "
            f"({conf.prestage.release_store}): Packages/stx-25.09.deb"
        ), name


def test_a_subcloud_going_offline_mid_step_fails_it(api, roles):
    sh.add_subclouds(api, ["sc1"], "delay=3")
    sh.create(api)
    sh.apply(api)
    sh.wait_for(
        lambda: sh.steps(api)["sc1"]["state"] == "prestaging-packages", what="sc1 transferring"
    )

    api.patch_json("/v1.0/subclouds/sc1", {"endpoint": "simulated://sc1?delay=3&offline=true"})
    final = sh.wait_final(api)

    step = sh.steps(api)["sc1"]
    assert final["state"] == "failed"
    assert step["details"].startswith("prestaging-packages: Subcloud sc1 went offline")
    assert api.get("/v1.0/subclouds/sc1").json["availability-status"] == "offline"


def test_progress_is_shown_while_transferring(api, roles):
    sh.add_subclouds(api, ["sc1"], "delay=1")
    sh.create(api)
    sh.apply(api)

    progress = sh.wait_for(
        lambda: (
            (step := sh.steps(api)["sc1"])["state"] == "prestaging-packages"
            and step["progress"]
            and step["progress"]["bytes_done"] > 0
            and step["progress"]
        ),
        what="packages progress",
    )
    sh.wait_final(api)

    assert progress["bytes_total"] == 2 * 1024**3
    assert progress["artifacts_total"] == 400
    assert 0 < progress["bytes_done"] <= progress["bytes_total"]


def _start_strategy(api, count=6, delay=0.5, width=3):
    names = [f"sc{i}" for i in range(1, count + 1)]
    sh.add_subclouds(api, names, f"delay={delay}")
    sh.create(api, **{"max-parallel-subclouds": width})
    sh.apply(api)
    sh.wait_for(lambda: sh.steps(api)["sc1"]["state"] == "prestaging-packages", what="sc1 running")
    return names


def _replace(roles, index, new_service):
    roles[index].stop()
    new_service.start()
    roles[index] = new_service  # stopped by the fixture at the end


def _attempts(engine) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, attempts FROM strategy_steps").all()
    return dict(rows)


@pytest.mark.slow
def test_worker_restart_mid_strategy_loses_nothing(api, roles, fast_engine, db):
    # Phases long enough that the steps the worker holds are still running when its
    # RPC server has wound down (up to a second) and it gives them back.
    names = _start_strategy(api, count=3, delay=1.5)

    _replace(roles, 1, worker.WorkerService(fast_engine))
    final = sh.wait_final(api)

    assert final["state"] == "complete"
    assert {sh.steps(api)[n]["state"] for n in names} == {"complete"}
    # The steps the stopped worker gave back ran again, on the new worker.
    assert max(_attempts(db).values()) == 2


@pytest.mark.slow
def test_worker_crash_mid_strategy_is_recovered_by_lease_expiry(
    api, roles, fast_engine, db, monkeypatch
):
    # Phases long enough that the steps the worker holds are still running when it has
    # stopped (its stop may take a second on a busy machine; with shorter phases the
    # steps ended meanwhile and none was left for the lease to give back).
    names = _start_strategy(api, count=3, delay=1.5)
    # A crash: the worker goes without giving its steps back.
    monkeypatch.setattr(engine_module.worker_steps, "steps_release", lambda *args: None)

    _replace(roles, 1, worker.WorkerService(fast_engine))
    final = sh.wait_final(api)

    assert final["state"] == "complete"
    assert {sh.steps(api)[n]["state"] for n in names} == {"complete"}
    assert max(_attempts(db).values()) == 2


def test_orchestrator_restart_mid_strategy(api, roles, fast_engine):
    names = _start_strategy(api)

    _replace(roles, 3, orchestrator_service.OrchestratorService(fast_engine))
    final = sh.wait_final(api)

    assert final["state"] == "complete"
    assert {sh.steps(api)[n]["state"] for n in names} == {"complete"}
    assert sh.max_in_flight(list(sh.steps(api).values())) <= 3


def test_deleted_strategy_is_removed_by_the_orchestrator(api, roles):
    _run(api, ["sc1"])

    deleting = api.delete(f"{sh.STRATEGY}?type=prestage").json

    assert deleting["state"] == "deleting"
    sh.wait_for(lambda: api.get(sh.STRATEGY, expect_errors=True).status_int == 404, what="deletion")
    # The subcloud may be deleted now that no strategy refers to it.
    api.patch_json("/v1.0/subclouds/sc1", {"management-state": "unmanaged"})
    assert api.delete("/v1.0/subclouds/sc1").status_int == 200


def test_manager_restart_mid_standalone_prestage(api, roles, fast_engine):
    sh.add_subclouds(api, ["solo"], "delay=0.5")
    api.patch_json("/v1.0/subclouds/solo/prestage", {"sysadmin_password": sh.PASSWORD})
    sh.wait_for(
        lambda: api.get("/v1.0/subclouds/solo").json["prestage-status"] == "prestaging",
        what="the prestage to start",
    )

    _replace(roles, 2, manager_service.ManagerService(fast_engine))
    solo = sh.wait_for(
        lambda: (
            (sc := api.get("/v1.0/subclouds/solo").json)["prestage-status"] != "prestaging" and sc
        ),
        what="the prestage to end",
    )

    assert solo["prestage-status"] == "complete"
    assert solo["prestage-versions"] == "25.09"


def test_a_password_this_host_cannot_decrypt_fails_the_steps(api, roles, fast_engine):
    from cryptography import fernet

    from dcmanager.common import crypt

    sh.add_subclouds(api, ["sc1", "sc2"])
    sh.create(api)
    # Another key, as on a host that did not get the deployment's key.
    fast_engine.set_override("secret_key", fernet.Fernet.generate_key().decode())
    crypt._CACHE.clear()
    try:
        sh.apply(api)
        final = sh.wait_final(api)
    finally:
        fast_engine.clear_override("secret_key")
        crypt._CACHE.clear()

    assert final["state"] == "failed"
    for step in sh.steps(api).values():
        assert step["details"] == (
            "prestage-precheck: A stored secret cannot be decrypted with the configured key: "
            "wrong key or corrupted data"
        )


def test_a_preparation_that_crashes_fails_the_waiting_steps(api, roles, monkeypatch):
    from dcmanager.orchestrator import preparation

    def crash(conf, release):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(preparation, "prepare", crash)

    final = _run(api, ["sc1", "sc2", "sc3"], **{"max-parallel-subclouds": 3})

    assert final["state"] == "failed"
    assert {step["details"] for step in sh.steps(api).values()} == {
        "prestage-preparing-packages: internal error while preparing the packages "
        "(see the dcmanager log)"
    }


def test_steps_wait_for_a_worker_without_failing(api, roles, fast_engine):
    fast_engine.set_override("step_lease_seconds", 1.0, group="orchestrator")
    fast_engine.set_override("max_step_attempts", 2, group="orchestrator")
    sh.add_subclouds(api, ["sc1", "sc2"])
    roles[1].stop()  # no worker at all
    sh.create(api)
    sh.apply(api)

    # Several lease periods without any worker: nothing ran, so nothing failed.
    sh.wait_for(
        lambda: _attempts_by_state(api) == {"prestage-precheck": 2}, what="steps dispatched"
    )
    time_module.sleep(3.5)  # past max_step_attempts lease periods
    assert _attempts_by_state(api) == {"prestage-precheck": 2}

    roles[1] = worker.WorkerService(fast_engine)
    roles[1].start()
    assert sh.wait_final(api)["state"] == "complete"


def _attempts_by_state(api) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in sh.steps(api).values():
        counts[step["state"]] = counts.get(step["state"], 0) + 1
    return counts
