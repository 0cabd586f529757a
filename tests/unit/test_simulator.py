"""The simulated subcloud: its options, its operations, and how they fail."""

import json
import os
import subprocess
import sys

import pytest

from dcmanager import drivers
from dcmanager.common import endpoints
from dcmanager.common import exception
from dcmanager.drivers import base
from dcmanager.drivers import simulator
from tests.clock import FakeClock

REQUEST = base.PrestageRequest(release="25.09")


def _driver(options: str = "", clock=None) -> base.SubcloudDriver:
    endpoint = f"simulated://sc1{'?' + options if options else ''}"
    return drivers.get_driver("sc1", endpoint, *([clock] if clock else []))


def test_defaults():
    info = _driver().get_system_info()

    assert info == base.SystemInfo(
        system_mode="simplex",
        controller0_active=True,
        management_alarms=0,
        free_disk_bytes=100 * 1024**3,
        deploy_status="complete",
        prestaged_versions=None,  # not told: it does not say (nor its applications)
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("delay=-1", "delay must be a number of at least 0"),
        ("delay=abc", "delay must be a number of at least 0"),
        ("delay=nan", "delay must be a number of at least 0"),
        ("fail=everything", "fail must be one of precheck, packages, images"),
        ("offline=maybe", "offline must be true or false"),
        ("system_mode=triplex", "system_mode must be one of simplex, duplex"),
        ("alarms=-2", "alarms must be a number of at least 0"),
        ("colour=blue", "unknown option 'colour'"),
        ("delay", "bad query field"),
    ],
)
def test_bad_options_are_refused_with_the_reason(options, message):
    with pytest.raises(exception.Invalid, match=message):
        endpoints.validate(f"simulated://sc1?{options}")


def test_offline_subcloud_is_unreachable():
    driver = _driver("offline=true")

    with pytest.raises(base.SubcloudUnreachable, match="sc1 is unreachable"):
        driver.get_system_info()
    with pytest.raises(base.SubcloudUnreachable):
        driver.start(base.OperationKind.PACKAGES, REQUEST, "k")


def test_zero_delay_operations_are_done_at_once_with_full_progress():
    operation = _driver().start(base.OperationKind.PACKAGES, REQUEST, "k")

    assert operation.done and operation.error is None
    assert operation.progress == base.Progress(
        simulator.PACKAGES_BYTES, simulator.PACKAGES_BYTES, 400, 400
    )


def test_a_delayed_operation_is_polled_until_done():
    clock = FakeClock(1000.0)
    driver = _driver("delay=10", clock)

    operation = driver.start(base.OperationKind.IMAGES, REQUEST, "k")
    clock.advance(4)
    halfway = driver.poll(operation.handle())
    clock.advance(6)
    done = driver.poll(operation.handle())

    assert not operation.done
    assert not halfway.done and halfway.progress.bytes_done == int(simulator.IMAGES_BYTES * 0.4)
    assert done.done and done.error is None


def test_operations_survive_a_new_driver_instance():
    """A step resumed on another worker polls the same operation."""
    clock = FakeClock(50.0)
    handle = _driver("delay=2", clock).start(base.OperationKind.PACKAGES, REQUEST, "k").handle()
    clock.advance(2)

    assert _driver("delay=2", clock).poll(handle).done


@pytest.mark.parametrize("phase", ["packages", "images"])
def test_fail_fails_the_transfer_when_it_ends(phase):
    operation = _driver(f"fail={phase}").start(base.OperationKind(phase), REQUEST, "k")

    assert operation.done
    assert operation.error == f"simulated failure of the {phase} transfer (fail={phase})"


def test_precheck_reports_system_information_and_health():
    operation = _driver("fail=precheck&system_mode=duplex&alarms=2").start(
        base.OperationKind.PRECHECK, REQUEST, "k"
    )

    info = base.SystemInfo.from_dict(operation.result)
    assert info.system_mode == "duplex"
    assert info.management_alarms == 2
    assert info.health_problem == "simulated health check failure (fail=precheck)"


def test_no_image_list_skips_images():
    operation = _driver("image_list=false").start(base.OperationKind.IMAGES, REQUEST, "k")

    assert operation.done and operation.error is None
    assert operation.result == {"skipped": "the release has no image list: no images to prestage"}


def test_endpoints_of_unknown_schemes_are_accepted_but_have_no_driver():
    assert endpoints.validate("ssh://subcloud1:22") == "ssh://subcloud1:22"

    with pytest.raises(drivers.NoDriver, match="scheme 'ssh'"):
        drivers.get_driver("sc1", "ssh://subcloud1:22")


def test_journal_records_every_call(tmp_path, monkeypatch):
    journal = tmp_path / "journal.jsonl"
    monkeypatch.setenv(simulator.JOURNAL_VARIABLE, str(journal))
    driver = _driver()

    driver.get_system_info()
    operation = driver.start(base.OperationKind.PACKAGES, REQUEST, "k1")
    driver.poll(operation.handle())

    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [(line["call"], line["kind"], line["subcloud"]) for line in lines] == [
        ("info", None, "sc1"),
        ("start", "packages", "sc1"),
        ("poll", "packages", "sc1"),
    ]
    assert lines[1]["op"] == lines[2]["op"] == operation.id
    assert {line["pid"] for line in lines} == {os.getpid()}
    assert lines[0]["t"] <= lines[1]["t"] <= lines[2]["t"]


def test_no_journal_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(simulator.JOURNAL_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)

    _driver().get_system_info()

    assert list(tmp_path.iterdir()) == []


def test_a_simulated_site_can_be_told_to_fail_each_operation_kind_and_no_other():
    # Besides the operations, an update's test phase (seed 003).
    kinds = {str(kind) for kind in base.OperationKind}
    assert set(endpoints.SIMULATED_PHASES) == kinds | {"app-test"}


def test_several_phases_can_fail_at_once_and_unknown_ones_are_refused():
    options = endpoints.simulator_options("simulated://s?fail=app-apply,app-recover")
    assert options["fail"] == {"app-apply", "app-recover"}
    with pytest.raises(ValueError, match="fail must be one of"):
        endpoints.simulator_options("simulated://s?fail=app-apply,app-nothing")


def test_with_a_state_directory_an_operation_is_started_once_per_key(tmp_path, monkeypatch):
    monkeypatch.setenv(simulator.STATE_VARIABLE, str(tmp_path / "state"))
    clock = FakeClock()
    driver = _driver("delay=10", clock)
    first = driver.start(base.OperationKind.PACKAGES, REQUEST, "7:1:packages")

    # Started again with its key (a replay after a crash), later and by another
    # driver: the same operation, its clock running since the first start.
    clock.advance(5)
    again = _driver("delay=10", clock).start(base.OperationKind.PACKAGES, REQUEST, "7:1:packages")
    # The next attempt's key starts a new operation.
    retried = driver.start(base.OperationKind.PACKAGES, REQUEST, "7:2:packages")

    assert again.id == first.id
    assert again.progress.bytes_done == again.progress.bytes_total // 2
    assert retried.id != first.id
    assert retried.progress.bytes_done == 0
    # Another subcloud's operation with the same key is its own.
    other = drivers.get_driver("sc2", "simulated://sc2?delay=10", clock)
    assert other.start(base.OperationKind.PACKAGES, REQUEST, "7:1:packages").id != first.id


def test_the_state_directory_is_shared_by_processes(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv(simulator.STATE_VARIABLE, str(state))
    code = (
        "from dcmanager import drivers; from dcmanager.drivers import base;"
        "from tests.unit.test_simulator import REQUEST;"
        "print(drivers.get_driver('sc1', 'simulated://sc1?delay=10')"
        ".start(base.OperationKind.IMAGES, REQUEST, '3:1:images').id)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    mine = _driver("delay=10").start(base.OperationKind.IMAGES, REQUEST, "3:1:images")

    assert mine.id == other.stdout.strip()


def test_without_a_state_directory_a_start_starts_again(tmp_path, monkeypatch):
    monkeypatch.delenv(simulator.STATE_VARIABLE, raising=False)
    clock = FakeClock()
    first = _driver("delay=10", clock).start(base.OperationKind.PACKAGES, REQUEST, "k")
    clock.advance(1)
    assert (
        _driver("delay=10", clock).start(base.OperationKind.PACKAGES, REQUEST, "k").id != first.id
    )
