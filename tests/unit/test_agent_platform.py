"""Where the agent's facts come from and what makes its site unhealthy: the StarlingX
services (a stand-in speaking their JSON on 127.0.0.1), a command, a file, the
``[agent]`` fallbacks, the answers it reuses, and the checks of its own host. Over a
real Keystone catalog and a real controller: tests/e2e/test_agent_platform.py."""

import gc
import json
import os
import shlex
import sys
import threading

import pytest
from oslo_config import cfg

from dcmanager.agent import conf as agent_conf
from dcmanager.agent import health
from dcmanager.agent import platform
from dcmanager.agent import starlingx
from dcmanager.agent import statedir
from dcmanager.agent import system
from dcmanager.drivers import base
from tests import starlingx_standin
from tests.clock import FakeClock
from tests.services import free_port

ALL_FROM_PLATFORM = {
    "system_mode",
    "controller0_active",
    "management_alarms",
    "deploy_status",
    "software_version",
}


@pytest.fixture
def conf(tmp_path):
    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override("state_dir", str(tmp_path / "state"), group="agent")
    conf.set_override("software_dir", str(tmp_path / "software"), group="agent")
    conf.set_override("platform_backup_dir", str(tmp_path / "backup"), group="agent")
    yield conf
    # Overrides stick to the option objects, which every ConfigOpts here shares.
    for opt in agent_conf.opts:
        conf.clear_override(opt.dest, group="agent")
    for opt in agent_conf.platform_opts:
        conf.clear_override(opt.dest, group="platform")
    conf.clear_override("auth_type", group="platform")  # keystoneauth's, shared too


@pytest.fixture
def standin():
    with starlingx_standin.StandIn() as instance:
        yield instance


def _starlingx(conf, standin, **overrides) -> None:
    """The agent asks the stand-in for every service, without a token."""
    conf.set_override("source", "starlingx", group="platform")
    # As a StarlingX catalog names sysinv: with its /v1.
    conf.set_override("sysinv_url", standin.url + "/v1", group="platform")
    conf.set_override("fm_url", standin.url, group="platform")
    conf.set_override("usm_url", standin.url + "/", group="platform")
    for name, value in overrides.items():
        conf.set_override(name, value, group="platform")


def _facts(conf, max_age=None, clock=None) -> platform.Facts:
    return platform.Reader(conf, clock or FakeClock()).facts(conf, max_age)


# The StarlingX services.


def test_a_simplex_site_reports_every_fact_from_its_services(conf, standin):
    _starlingx(conf, standin)
    conf.set_override("system_mode", "duplex", group="agent")  # the platform wins

    facts = _facts(conf)

    assert facts.values == {
        "system_mode": "simplex",
        "controller0_active": True,
        "management_alarms": 0,
        "deploy_status": "complete",
        "software_version": "25.09",
    }
    assert facts.fallback == ()
    assert facts.problems == ()
    assert sorted(standin.paths()) == ["/v1/alarms", "/v1/deploy", "/v1/ihosts", "/v1/isystems"]


@pytest.mark.parametrize(
    ("mode", "active", "reported"),
    [
        ("duplex", "controller-1", ("duplex", False)),
        ("duplex", "controller-0", ("duplex", True)),
        ("duplex-direct", "controller-1", ("duplex", False)),
    ],
)
def test_a_duplex_site_reports_its_mode_and_active_controller(
    conf, standin, mode, active, reported
):
    _starlingx(conf, standin)
    standin.site.system_mode = mode
    standin.site.active = active

    facts = _facts(conf)

    assert (facts.values["system_mode"], facts.values["controller0_active"]) == reported
    assert facts.problems == ()


def test_alarms_count_when_they_affect_management_suppressed_or_not(conf, standin):
    _starlingx(conf, standin)
    standin.site.alarms = [
        starlingx_standin.alarm("100.101", mgmt_affecting=True),
        starlingx_standin.alarm("200.001", mgmt_affecting=True, suppressed=True),
        starlingx_standin.alarm("400.002", mgmt_affecting=False),
    ]

    assert _facts(conf).values["management_alarms"] == 2


@pytest.mark.parametrize(
    ("deploys", "status"),
    [
        ([], "complete"),
        ([{"from_release": "24.09", "to_release": "25.09", "state": "completed"}], "complete"),
        (
            [{"from_release": "24.09", "to_release": "25.09", "state": "host"}],
            "software-deploy-host",
        ),
        (
            [{"from_release": "24.09", "to_release": "25.09", "state": "activate-failed"}],
            "software-deploy-activate-failed",
        ),
    ],
)
def test_the_deploy_status_says_whether_a_software_deployment_is_under_way(
    conf, standin, deploys, status
):
    _starlingx(conf, standin)
    standin.site.deploys = deploys

    assert _facts(conf).values["deploy_status"] == status


def test_a_failing_service_is_a_problem_and_its_facts_fall_back(conf, standin):
    _starlingx(conf, standin)
    conf.set_override("management_alarms", 3, group="agent")
    standin.site.fail["alarms"] = 503
    standin.site.system_mode = "duplex"

    facts = _facts(conf)

    assert facts.values["management_alarms"] == 3
    assert facts.fallback == ("management_alarms",)
    assert facts.values["system_mode"] == "duplex"  # sysinv still answered
    (problem,) = facts.problems
    assert problem == f"the site's fault manager (fm): {standin.url}/v1/alarms answered 503"


def test_an_unreachable_service_is_a_problem(conf, standin):
    closed = f"http://127.0.0.1:{free_port()}"
    _starlingx(conf, standin, sysinv_url=closed, request_timeout=2.0)
    conf.set_override("system_mode", "duplex", group="agent")

    facts = _facts(conf)

    assert facts.fallback == ("system_mode", "controller0_active", "software_version")
    assert facts.values["system_mode"] == "duplex"
    (problem,) = facts.problems
    assert problem.startswith(f"the site's inventory (sysinv): {closed}/v1/isystems: unreachable")


def test_an_answer_that_makes_no_sense_is_a_problem(conf, standin):
    _starlingx(conf, standin)
    standin.site.system_mode = "triplex"

    facts = _facts(conf)

    assert facts.values["system_mode"] == "simplex"  # the [agent] default
    assert "system_mode" in facts.fallback
    assert facts.problems == (
        "the site's inventory (sysinv) reported system_mode 'triplex' (not one of simplex, "
        "duplex, duplex-direct)",
    )


def test_services_left_out_give_no_facts_and_no_problems(conf, standin):
    _starlingx(conf, standin, starlingx_services=["sysinv"], fm_url=None, usm_url=None)

    facts = _facts(conf)

    assert facts.fallback == ("management_alarms", "deploy_status")
    assert facts.problems == ()
    assert sorted(standin.paths()) == ["/v1/ihosts", "/v1/isystems"]


def test_a_service_with_neither_url_nor_credentials_is_a_problem(conf, standin):
    _starlingx(conf, standin, fm_url=None)

    facts = _facts(conf)

    assert facts.problems == (
        "the site's fault manager (fm): set [platform] fm_url, or [platform] auth_type to "
        "find it in the site's Keystone catalog",
    )


def test_the_wire_readers_refuse_shapes_they_do_not_know():
    for reader, data in (
        (starlingx.system_facts, {"isystems": []}),
        (starlingx.controller0_active, {"ihosts": [{"hostname": "compute-0"}]}),
        (starlingx.management_alarms, {"ialarms": []}),
        (starlingx.deploy_status, {"state": "host"}),
        (starlingx.deploy_status, [{"from_release": "24.09"}]),
    ):
        with pytest.raises(starlingx.ServiceError):
            reader(data)


def test_options_that_cannot_be_used_are_a_problem_not_a_crash(conf, tmp_path):
    conf.set_override("source", "starlingx", group="platform")
    conf.set_override("auth_type", "password", group="platform")  # and nothing else
    state = statedir.StateDir(conf.agent.state_dir)
    state.create()

    answer = system.info(conf, state)

    assert set(answer["fallback_facts"]) == ALL_FROM_PLATFORM
    assert answer["health_problem"].startswith(
        "the site's facts: the [platform] options cannot be used ("
    )
    assert answer["facts_source"] is None


# The answers reused.


def test_answers_are_reused_for_cache_seconds_and_a_precheck_asks_afresh(conf, standin):
    _starlingx(conf, standin, cache_seconds=10.0)
    clock = FakeClock()
    reader = platform.Reader(conf, clock)

    assert reader.facts(conf).values["management_alarms"] == 0
    standin.site.alarms = [starlingx_standin.alarm("100.101", mgmt_affecting=True)]
    clock.advance(9.5)
    assert reader.facts(conf).values["management_alarms"] == 0
    assert standin.paths().count("/v1/alarms") == 1
    assert reader.facts(conf, max_age=0).values["management_alarms"] == 1
    assert standin.paths().count("/v1/alarms") == 2
    clock.advance(10.0)
    reader.facts(conf)
    assert standin.paths().count("/v1/alarms") == 3


def test_one_reader_per_configuration_keeps_its_answers(conf, standin):
    _starlingx(conf, standin)
    assert platform.reader_for(conf) is platform.reader_for(conf)
    other = cfg.ConfigOpts()
    agent_conf.register_opts(other)
    other([], default_config_files=[])
    assert platform.reader_for(other) is not platform.reader_for(conf)
    key = id(other)
    del other
    gc.collect()
    assert key not in platform._readers  # it went with its configuration


def test_a_configuration_collected_while_a_reader_is_made_never_deadlocks():
    """The collector may free a configuration (running its reader's clean-up) in the
    thread that is making another reader, under the registry's lock."""
    dying = cfg.ConfigOpts()
    agent_conf.register_opts(dying)
    dying([], default_config_files=[])
    platform.reader_for(dying)
    key = id(dying)
    cycle: list = [dying]
    cycle.append(cycle)  # only the collector frees it now
    del dying, cycle
    done = threading.Event()

    def collect_under_the_lock() -> None:
        with platform._readers_lock:
            gc.collect()
        done.set()

    threading.Thread(target=collect_under_the_lock, daemon=True).start()
    assert done.wait(10), "the reader's clean-up waited for the lock its own thread held"
    assert key not in platform._readers


# A command, a file, the configuration.


def _command(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


def test_a_command_gives_the_facts_it_prints(conf):
    printed = {"system_mode": "duplex", "controller0_active": False, "management_alarms": 1}
    conf.set_override("source", "command", group="platform")
    conf.set_override("command", _command(f"print({json.dumps(printed)!r})"), group="platform")

    facts = _facts(conf)

    assert {name: facts.values[name] for name in printed} == printed
    assert facts.fallback == ("deploy_status", "software_version")
    assert facts.problems == ()


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (
            'import sys; sys.stderr.write("no sysinv\\n"); sys.exit(3)',
            "exited with 3: no sysinv",
        ),
        ('print("simplex")', "is not JSON"),
        ('print("[1]")', "is not a JSON object"),
        ("import time; time.sleep(5)", "did not finish within 0.5 s"),
    ],
)
def test_a_failing_command_is_a_problem(conf, code, problem):
    conf.set_override("source", "command", group="platform")
    conf.set_override("command", _command(code), group="platform")
    conf.set_override("request_timeout", 0.5, group="platform")

    facts = _facts(conf)

    assert set(facts.fallback) == ALL_FROM_PLATFORM
    (found,) = facts.problems
    assert found.startswith("the site's facts: ")
    assert problem in found


def test_a_command_that_is_missing_is_a_problem(conf, tmp_path):
    conf.set_override("source", "command", group="platform")
    assert _facts(conf).problems == (
        "the site's facts: [platform] source = command needs [platform] command",
    )
    conf.set_override("command", str(tmp_path / "nothing-here"), group="platform")
    (problem,) = _facts(conf).problems
    assert "cannot run" in problem


def test_a_file_gives_the_facts_it_holds(conf, tmp_path):
    path = tmp_path / "facts.json"
    path.write_text(json.dumps({"system_mode": "simplex", "software_version": "24.09", "x": 1}))
    conf.set_override("source", "file", group="platform")
    conf.set_override("file", str(path), group="platform")

    facts = _facts(conf)
    assert facts.values["software_version"] == "24.09"
    assert facts.fallback == ("controller0_active", "management_alarms", "deploy_status")
    assert facts.problems == ()

    path.write_text(json.dumps({"management_alarms": -1, "controller0_active": "yes"}))
    assert _facts(conf).problems == (
        f"[platform] file {path} reported controller0_active 'yes' (not true or false)",
        f"[platform] file {path} reported management_alarms -1 (not a count)",
    )
    path.unlink()
    (problem,) = _facts(conf).problems
    assert problem == f"the site's facts: cannot read {path} (No such file or directory)"


def test_without_a_source_every_fact_is_the_configurations(conf):
    facts = _facts(conf)
    assert set(facts.fallback) == ALL_FROM_PLATFORM
    assert facts.problems == ()
    assert facts.values["system_mode"] == "simplex"


# The site's registry.


def test_the_registry_is_reachable_when_it_answers_200_or_401(conf, standin):
    conf.set_override("local_registry_url", standin.url, group="agent")
    for status in (401, 200):
        standin.site.registry_status = status
        assert _facts(conf).problems == ()
    assert standin.paths() == ["/v2/", "/v2/"]


def test_an_unreachable_or_failing_registry_is_a_problem(conf, standin):
    closed = f"http://127.0.0.1:{free_port()}"
    conf.set_override("local_registry_url", closed, group="agent")
    (problem,) = _facts(conf).problems
    assert problem == f"the site's registry {closed} is unreachable (ConnectionError)"

    conf.set_override("local_registry_url", standin.url, group="agent")
    standin.site.registry_status = 503
    assert _facts(conf).problems == (f"the site's registry {standin.url} answered 503 to GET /v2/",)


# The agent's own host.


def test_free_disk_below_the_reserve_is_a_problem():
    assert health.disk_problem(10 * health.GIB, 10 * health.GIB) is None
    assert health.disk_problem(health.GIB, 2 * health.GIB) == (
        "free disk 1.0 GiB is below the reserve of 2.0 GiB ([agent] reserved_disk_bytes)"
    )


def test_a_directory_is_fine_when_it_is_writable_or_could_be_created(tmp_path):
    assert health.directory_problem(str(tmp_path)) is None
    assert health.directory_problem(str(tmp_path / "a" / "b")) is None
    assert not (tmp_path / "a").exists()  # nothing created


def test_a_directory_that_cannot_be_written_is_a_problem(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert health.directory_problem(str(blocker)) == f"{blocker} is not a directory"
    assert health.directory_problem(str(blocker / "software")) == (
        f"{blocker / 'software'} cannot be created: {blocker} is not a directory"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any directory")
def test_a_directory_without_write_permission_is_a_problem(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert health.directory_problem(str(locked)) == f"{locked} is not writable"
    assert health.directory_problem(str(locked / "x")) == (
        f"{locked / 'x'} cannot be created: {locked} is not writable"
    )


# What GET /v1/info and the precheck answer.


def test_info_marks_the_fallbacks_and_joins_every_problem(conf, standin, tmp_path):
    _starlingx(conf, standin)
    standin.site.system_mode = "duplex"
    standin.site.fail["deploy"] = 500
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    conf.set_override("software_dir", str(blocker), group="agent")
    state = statedir.StateDir(conf.agent.state_dir)
    state.create()

    answer = system.info(conf, state)

    assert answer["system_mode"] == "duplex"
    assert answer["facts_source"] == "starlingx"
    assert answer["fallback_facts"] == ["deploy_status"]
    assert answer["deploy_status"] == "complete"
    assert answer["health_problem"] == (
        f"the site's software manager (USM): {standin.url}/v1/deploy answered 500; "
        f"[agent] software_dir {blocker} is not a directory"
    )
    info = base.SystemInfo.from_dict(json.loads(json.dumps(answer)))
    assert info.fallback_facts == ("deploy_status",)
    assert info.to_dict()["fallback_facts"] == ["deploy_status"]


def test_a_healthy_site_has_no_health_problem(conf, standin):
    _starlingx(conf, standin)
    state = statedir.StateDir(conf.agent.state_dir)
    state.create()

    answer = system.info(conf, state)

    assert answer["health_problem"] is None
    assert answer["fallback_facts"] == []
