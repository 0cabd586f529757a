"""The audit: online at the first answer, offline after consecutive failures."""

import pytest

from dcmanager.audit import service as audit_service
from dcmanager.db import api as db_api


@pytest.fixture
def audit(any_db, conf):
    service = audit_service.AuditService(conf)
    yield service
    service.stop()


def _subcloud(name: str, options: str = ""):
    endpoint = f"simulated://{name}{'?' + options if options else ''}"
    return db_api.subcloud_create({"name": name, "endpoint": endpoint})


def _availability(name: str) -> str:
    return db_api.subcloud_get(name).availability_status


def test_answering_subcloud_goes_online_at_once_managed_or_not(audit, conf):
    _subcloud("sc1")
    managed = _subcloud("sc2")
    db_api.subcloud_update(managed.id, {"management_state": "managed"})

    audit.audit()

    assert _availability("sc1") == _availability("sc2") == "online"


def test_offline_only_after_the_configured_failures(audit, conf):
    subcloud = _subcloud("sc1")
    audit.audit()
    db_api.subcloud_update(subcloud.id, {"endpoint": "simulated://sc1?offline=true"})

    audit.audit()
    after_one = _availability("sc1")
    audit.audit()
    after_two = _availability("sc1")
    db_api.subcloud_update(subcloud.id, {"endpoint": "simulated://sc1"})
    audit.audit()

    assert (after_one, after_two, _availability("sc1")) == ("online", "offline", "online")
    assert db_api.subcloud_get("sc1").audit_fail_count == 0


def test_threshold_is_an_option(audit, conf):
    conf.set_override("offline_after_failures", 3, group="scheduler")
    _subcloud("sc1", "offline=true")
    db_api.subcloud_update(db_api.subcloud_get("sc1").id, {"availability_status": "online"})

    audit.audit()
    audit.audit()
    before = _availability("sc1")
    audit.audit()

    assert (before, _availability("sc1")) == ("online", "offline")


def test_reported_deploy_status_and_release_are_recorded(audit, conf):
    _subcloud("sc1", "deploy_status=deploying&software_version=24.09")

    audit.audit()

    subcloud = db_api.subcloud_get("sc1")
    assert (subcloud.deploy_status, subcloud.software_version) == ("deploying", "24.09")


def test_unchanged_subclouds_are_not_written(audit, conf):
    _subcloud("sc1")
    audit.audit()
    first = db_api.subcloud_get("sc1").updated_at

    audit.audit()

    assert db_api.subcloud_get("sc1").updated_at == first


def test_subcloud_without_a_driver_is_offline(audit, conf):
    _subcloud("sc1")
    db_api.subcloud_update(
        db_api.subcloud_get("sc1").id,
        {"endpoint": "https://sc1:8443", "availability_status": "online"},
    )

    audit.audit()
    audit.audit()

    assert _availability("sc1") == "offline"


def test_audit_learns_the_system_mode(audit, conf):
    _subcloud("sc1")
    _subcloud("sc2", "system_mode=duplex")
    assert db_api.subcloud_get("sc2").system_mode is None

    audit.audit()

    assert db_api.subcloud_get("sc1").system_mode == "simplex"
    assert db_api.subcloud_get("sc2").system_mode == "duplex"
