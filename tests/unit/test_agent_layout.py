"""The deploy layout: a release directory whole or not at all, its manifest beside it,
and only what is really there counted as prestaged."""

import hashlib
import io
import os
import threading

import pytest
from oslo_config import cfg

from dcmanager.agent import conf as agent_conf
from dcmanager.agent import layout
from dcmanager.agent import statedir
from dcmanager.agent import transfer
from dcmanager.releases import store

NOT_CANCELLED = threading.Event()
FILES = {"Packages/a.deb": b"a" * 100, "metadata.xml": b"<xml/>", "empty": b""}


@pytest.fixture
def conf(tmp_path):
    instance = cfg.ConfigOpts()
    agent_conf.register_opts(instance)
    instance([], default_config_files=[])
    instance.set_override("software_dir", str(tmp_path / "software"), group="agent")
    instance.set_override("platform_backup_dir", str(tmp_path / "backup"), group="agent")
    return instance


@pytest.fixture
def state(tmp_path):
    instance = statedir.StateDir(str(tmp_path / "state"))
    instance.create()
    return instance


def _entries(blobs: store.BlobStore, files: dict[str, bytes]) -> dict[str, dict]:
    entries = {}
    for path, data in files.items():
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs.put(digest, io.BytesIO(data), len(data))
        entries[path] = {"size": len(data), "digest": digest}
    return entries


def _images_done(state: statedir.StateDir, release: str) -> None:
    statedir.write_json(state.phase_file(release, "images"), {})


def test_a_release_lands_whole_with_its_manifest_beside_it(conf, state):
    entries = _entries(state.blobs, FILES)
    layout.deploy(state.blobs, conf.agent.software_dir, "25.09", entries, NOT_CANCELLED)
    base = os.path.join(conf.agent.software_dir, "25.09")
    for path, data in FILES.items():
        with open(os.path.join(base, path), "rb") as handle:
            assert handle.read() == data
    assert layout.is_deployed(conf.agent.software_dir, "25.09")
    assert sorted(os.listdir(conf.agent.software_dir)) == ["25.09", "25.09.manifest.json"]
    assert layout.prestaged_versions(conf, state) == [], "the images phase is not done"
    _images_done(state, "25.09")
    assert layout.prestaged_versions(conf, state) == ["25.09"]
    assert layout.deployed_releases(conf) == {"25.09": ["software"]}


def test_a_failed_build_leaves_nothing_visible_and_the_old_release_whole(conf, state):
    entries = _entries(state.blobs, FILES)
    layout.deploy(state.blobs, conf.agent.software_dir, "25.09", entries, NOT_CANCELLED)
    broken = {**entries, "late.deb": {"size": 1, "digest": "sha256:" + "0" * 64}}  # no blob
    with pytest.raises(OSError):
        layout.deploy(state.blobs, conf.agent.software_dir, "25.09", broken, NOT_CANCELLED)
    assert sorted(os.listdir(conf.agent.software_dir)) == ["25.09", "25.09.manifest.json"]
    assert layout.is_deployed(conf.agent.software_dir, "25.09")


def test_what_a_killed_agent_left_is_never_counted_and_is_cleared(conf, state):
    entries = _entries(state.blobs, FILES)
    os.makedirs(os.path.join(conf.agent.software_dir, ".25.09.building-x1/Packages"))
    _images_done(state, "25.09")
    assert layout.prestaged_versions(conf, state) == []
    layout.deploy(state.blobs, conf.agent.software_dir, "25.09", entries, NOT_CANCELLED)
    assert sorted(os.listdir(conf.agent.software_dir)) == ["25.09", "25.09.manifest.json"]


def test_a_file_gone_or_changed_at_the_site_uncounts_the_release(conf, state):
    entries = _entries(state.blobs, FILES)
    layout.deploy(state.blobs, conf.agent.platform_backup_dir, "25.09", entries, NOT_CANCELLED)
    _images_done(state, "25.09")
    assert layout.deployed_releases(conf) == {"25.09": ["platform-backup"]}
    os.unlink(os.path.join(conf.agent.platform_backup_dir, "25.09", "metadata.xml"))
    assert layout.prestaged_versions(conf, state) == []


def test_a_new_tree_replaces_the_old_one_whole(conf, state):
    layout.deploy(
        state.blobs, conf.agent.software_dir, "25.09", _entries(state.blobs, FILES), NOT_CANCELLED
    )
    only = _entries(state.blobs, {"only.deb": b"o"})
    layout.deploy(state.blobs, conf.agent.software_dir, "25.09", only, NOT_CANCELLED)
    assert sorted(os.listdir(os.path.join(conf.agent.software_dir, "25.09"))) == [
        layout.MARKER,
        "only.deb",
    ]
    assert layout.is_deployed(conf.agent.software_dir, "25.09")
    assert not [n for n in os.listdir(conf.agent.software_dir) if n.startswith(".")]


def test_a_directory_the_agent_did_not_write_is_never_replaced(conf, state):
    theirs = os.path.join(conf.agent.software_dir, "25.09")
    os.makedirs(theirs)
    with open(os.path.join(theirs, "upgrade.iso"), "wb") as handle:
        handle.write(b"the platform's")
    with pytest.raises(layout.NotOurs, match="25.09 exists and was not written by"):
        layout.deploy(
            state.blobs,
            conf.agent.software_dir,
            "25.09",
            _entries(state.blobs, FILES),
            NOT_CANCELLED,
        )
    assert os.listdir(theirs) == ["upgrade.iso"]
    assert not [n for n in os.listdir(conf.agent.software_dir) if n.startswith(".")]


def test_a_cancel_stops_the_build_and_leaves_nothing(conf, state):
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(transfer.Cancelled):
        layout.deploy(
            state.blobs, conf.agent.software_dir, "25.09", _entries(state.blobs, FILES), cancelled
        )
    assert os.listdir(conf.agent.software_dir) == []


def test_two_deploys_of_one_release_take_turns(conf, state):
    """Two operations of one release (an aborted one still running, and the next)."""
    many = {f"Packages/p{i:04}.deb": bytes([i % 256]) * (i % 7) for i in range(1500)}
    entries = _entries(state.blobs, many)
    errors = []

    def deploy():
        try:
            layout.deploy(state.blobs, conf.agent.software_dir, "25.09", entries, NOT_CANCELLED)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert layout.is_deployed(conf.agent.software_dir, "25.09")
    assert sorted(os.listdir(conf.agent.software_dir)) == ["25.09", "25.09.manifest.json"]
