"""The committed sample files are what the generators produce from the code."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
ETC = ROOT / "etc" / "dcmanager"


@pytest.mark.parametrize(
    ("module", "generator_config", "sample", "tox_env"),
    [
        (
            "oslo_config.generator",
            "dcmanager-config-generator.conf",
            "dcmanager.conf.sample",
            "genconfig",
        ),
        (
            "oslo_config.generator",
            "dcmanager-agent-config-generator.conf",
            "dcmanager-agent.conf.sample",
            "genconfig",
        ),
        (
            "oslo_policy.generator",
            "dcmanager-policy-generator.conf",
            "policy.yaml.sample",
            "genpolicy",
        ),
    ],
)
def test_sample_is_up_to_date(tmp_path, module, generator_config, sample, tox_env):
    output = tmp_path / sample
    entry = "main" if module == "oslo_config.generator" else "generate_sample"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; from {module} import {entry}; sys.exit({entry}())",
            "--config-file",
            str(ETC / generator_config),
            "--output-file",
            str(output),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert output.read_text() == (ETC / sample).read_text(), (
        f"etc/dcmanager/{sample} is stale: run 'tox -e {tox_env}' and commit the result"
    )


def test_sample_documents_the_required_options():
    text = (ETC / "dcmanager.conf.sample").read_text()
    for line in (
        "#state_path = <$XDG_STATE_HOME or ~/.local/state>/dcmanager",
        "#auth_strategy = keystone",
        "#transport_url = rabbit://",
        "#bind_host = 127.0.0.1",
        "#bind_port = 8119",
        "#connection = sqlite:///$state_path/dcmanager.sqlite",
    ):
        assert line in text.splitlines()
