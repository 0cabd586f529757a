"""The systemd units under ``etc/systemd``: valid, and starting real console scripts."""

import configparser
import importlib.metadata
import pathlib
import shutil
import subprocess
import sys

import pytest

UNITS = sorted((pathlib.Path(__file__).parents[2] / "etc" / "systemd").glob("*.service"))
SCRIPTS = {
    entry.name
    for entry in importlib.metadata.distribution("dcmanager").entry_points
    if entry.group == "console_scripts"
}
SERVICES = {
    "dcmanager-api",
    "dcmanager-orchestrator",
    "dcmanager-orchestrator-worker",
    "dcmanager-manager",
    "dcmanager-audit",
}


def _exec_start(unit: pathlib.Path) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(unit)
    return parser["Service"]["ExecStart"].split()


def test_one_unit_per_service():
    assert {_exec_start(unit)[0].rsplit("/", 1)[1] for unit in UNITS} == SERVICES
    assert SERVICES <= SCRIPTS


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_unit_runs_its_script_on_the_shared_config(unit):
    command = _exec_start(unit)
    assert command[1:] == ["--config-file", "/etc/dcmanager/dcmanager.conf"]
    assert unit.name.removesuffix(".service").rstrip("@") == command[0].rsplit("/", 1)[1]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_systemd_accepts_the_unit(unit, tmp_path):
    # Verified with the scripts where this test environment has them; a template
    # unit is verified as one of its instances.
    text = unit.read_text().replace("/usr/bin/", str(pathlib.Path(sys.executable).parent) + "/")
    name = unit.name.replace("@.service", "@1.service")
    (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "dcmanager" not in result.stderr, result.stderr
