"""The audit brings ``prestage-versions`` and ``prestage-status`` in line with what a
subcloud holds, and reports whether its applications are those recorded, through
real audit rounds over simulated subclouds (``prestaged=`` and ``apps=`` say what they
hold), on every backend; the comparisons themselves as plain functions."""

import pytest

from dcmanager.audit import reconcile
from dcmanager.audit import service as audit_service
from dcmanager.db import api as db_api
from dcmanager.db import audit as db_audit
from dcmanager.db import session as db_session
from dcmanager.db.sqlalchemy import models
from dcmanager.drivers import base as driver_base


def _subcloud(name: str, options: str = "", **values) -> models.Subcloud:
    endpoint = f"simulated://{name}{'?' + options if options else ''}"
    subcloud = db_api.subcloud_create({"name": name, "endpoint": endpoint})
    if values:
        db_api.subcloud_update(subcloud.id, values)
    return db_api.subcloud_get(subcloud.id)


def _set_options(name: str, options: str) -> None:
    db_api.subcloud_update(
        db_api.subcloud_get(name).id, {"endpoint": f"simulated://{name}?{options}"}
    )


def _prestage(name: str) -> tuple:
    subcloud = db_api.subcloud_get(name)
    return (
        subcloud.prestage_status,
        subcloud.prestage_versions,
        subcloud.error_description,
    )


# Prestage.


def test_versions_become_what_the_site_holds(any_db, conf):
    _subcloud("sc1", "prestaged=25.09,24.09", prestage_versions="24.09")
    _subcloud("sc2", "prestaged=", prestage_versions="24.09")

    audit_service.audit_once(conf)

    assert _prestage("sc1") == (None, "24.09,25.09", None)
    assert _prestage("sc2") == (None, None, None)


def test_a_site_that_does_not_say_keeps_what_the_controller_recorded(any_db, conf):
    _subcloud("sc1", prestage_status="complete", prestage_versions="25.09")
    db_api.subcloud_update(db_api.subcloud_get("sc1").id, {"prestage_software_version": "25.09"})

    audit_service.audit_once(conf)

    assert _prestage("sc1") == ("complete", "25.09", None)


def test_complete_becomes_empty_when_the_release_is_gone(any_db, conf):
    _subcloud(
        "sc1",
        "prestaged=24.09",
        prestage_status="complete",
        prestage_versions="24.09,25.09",
        prestage_software_version="25.09",
    )

    audit_service.audit_once(conf)

    assert _prestage("sc1") == (None, "24.09", None)


@pytest.mark.parametrize("status", [None, "failed"])
def test_a_prestage_the_controller_lost_is_complete_when_the_release_is_there(any_db, conf, status):
    """E.g. its step failed as unreachable while the agent went on and finished."""
    _subcloud(
        "sc1",
        "prestaged=25.09",
        prestage_status=status,
        prestage_software_version="25.09",
        error_description="prestaging-images: subcloud unreachable for 300 s",
    )

    audit_service.audit_once(conf)

    assert _prestage("sc1") == ("complete", "25.09", None)


def test_nothing_is_touched_while_a_prestage_runs(any_db, conf):
    _subcloud(
        "sc1",
        "prestaged=",
        prestage_status="prestaging",
        prestage_versions="24.09",
        prestage_software_version="25.09",
    )

    audit_service.audit_once(conf)

    assert _prestage("sc1") == ("prestaging", "24.09", None)


def test_a_change_made_while_the_site_was_asked_wins(any_db, conf):
    """The fix is a compare-and-swap against the columns as they were before the site
    was asked: a prestage that started (or ended) meanwhile is not overwritten."""
    subcloud = _subcloud("sc1", "prestaged=", prestage_versions="24.09")
    target = db_audit.targets(None)[0]
    found = [db_audit.Found(subcloud.id, True, prestage=reconcile.prestage_fix(target, ()))]
    db_api.subcloud_update(subcloud.id, {"prestage_versions": "24.09,25.09"})

    db_audit.record(found, 2, db_api.subcloud_get(subcloud.id).created_at)

    assert _prestage("sc1") == (None, "24.09,25.09", None)


def test_malformed_or_oversized_reports_are_left_out_not_the_batch(any_db, conf):
    _subcloud("sc1", "prestaged=../etc,25.09", prestage_versions="24.09")
    _subcloud("sc2", f"deploy_status={'x' * 65}&prestaged=25.09")

    audit_service.audit_once(conf)

    assert _prestage("sc1") == (None, "24.09", None)
    sc2 = db_api.subcloud_get("sc2")
    assert (sc2.availability_status, sc2.deploy_status, sc2.prestage_versions) == (
        "online",
        "complete",
        "25.09",
    )


# Applications.


def _record(subcloud: str, version: str, status: str, name: str = "demo", revision: int = 1):
    releases = [
        {
            "release": name,
            "namespace": name,
            "chart": name,
            "chart_version": version,
            "revision": revision,
        }
    ]
    with db_session.writer() as db:
        db.add(
            models.SubcloudApp(
                subcloud_id=db_api.subcloud_get(subcloud).id,
                name=name,
                version=version,
                status=status,
                releases=releases if status != "uploaded" else [],
                phases={},
            )
        )


def _sync(name: str) -> tuple:
    subcloud = db_api.subcloud_get(name)
    return subcloud.app_sync_status, subcloud.app_sync_details


def test_a_site_running_what_is_recorded_is_in_sync(any_db, conf):
    _subcloud("sc1", "apps=demo@1.0.0,other@2.0.0:uploaded")
    _record("sc1", "0.9.0", "inactive")
    _record("sc1", "1.0.0", "applied")

    audit_service.audit_once(conf)

    assert _sync("sc1") == ("in-sync", [])


def test_a_site_that_does_not_say_is_unknown(any_db, conf):
    _subcloud("sc1")
    _record("sc1", "1.0.0", "applied")

    audit_service.audit_once(conf)

    assert _sync("sc1") == ("unknown", [])


def test_differences_are_reported_and_the_records_left_alone(any_db, conf):
    _subcloud("sc1", "apps=demo@2.0.0,extra@1.0.0")
    _subcloud("sc2", "apps=demo@1.0.0:apply-failed")
    _subcloud("sc3", "apps=")
    _subcloud("sc4", "apps=demo@1.0.0,demo@0.9.0")
    for name in ("sc1", "sc2", "sc3"):
        _record(name, "1.0.0", "applied")
    _record("sc4", "0.9.0", "inactive")
    _record("sc4", "1.0.0", "applied")

    audit_service.audit_once(conf)

    assert _sync("sc1") == (
        "out-of-sync",
        [
            "demo: 1.0.0 is applied here, not at the site",
            "demo: the site also runs 2.0.0 (applied)",
            "extra: the site runs 1.0.0 (applied); not applied here",
        ],
    )
    assert _sync("sc2") == ("out-of-sync", ["demo 1.0.0: applied here, apply-failed at the site"])
    assert _sync("sc3") == ("out-of-sync", ["demo: 1.0.0 is applied here, not at the site"])
    assert _sync("sc4") == ("out-of-sync", ["demo: the site also runs 0.9.0 (applied)"])
    records = [(r.version, r.status) for r in _apps("sc1")]
    assert records == [("1.0.0", "applied")]


def _apps(name: str) -> list[models.SubcloudApp]:
    from dcmanager.db import site_apps

    return site_apps.site_apps(db_api.subcloud_get(name).id)


@pytest.mark.parametrize("status", ["applying", "updating", "apply-failed", "remove-failed"])
def test_an_application_being_operated_on_or_failed_is_not_compared(any_db, conf, status):
    _subcloud("sc1", "apps=")
    _record("sc1", "1.0.0", status)

    audit_service.audit_once(conf)

    assert _sync("sc1") == ("in-sync", [])


def test_the_verdict_follows_the_site(any_db, conf):
    _subcloud("sc1", "apps=")
    _record("sc1", "1.0.0", "applied")
    audit_service.audit_once(conf)
    _set_options("sc1", "apps=demo@1.0.0")
    audit_service.audit_once(conf)

    assert _sync("sc1") == ("in-sync", [])


def _recorded(version="1.0.0", status="applied", revision=1, record_id=1):
    return db_audit.RecordedApp(
        record_id, "demo", version, status, (("demo-api", "demo", revision),), None
    )


def _site(version="1.0.0", status="applied", revision=None):
    releases = (
        ()
        if revision is None
        else ({"release": "demo-api", "namespace": "demo", "revision": revision},)
    )
    return driver_base.SiteApplication("demo", version, status, releases)


def test_revisions_are_compared_when_the_site_reports_them():
    judge = reconcile.app_judge([_recorded(revision=2)], (_site(revision=3),))

    assert judge([_recorded(revision=2)]) == (
        "out-of-sync",
        ["demo 1.0.0: release demo-api is at revision 3 at the site, 2 here"],
    )
    assert reconcile.app_judge([_recorded(revision=3)], (_site(revision=3),))(
        [_recorded(revision=3)]
    ) == ("in-sync", None)


def test_records_that_changed_while_the_site_was_asked_are_not_compared():
    """An update that ended between the question and the record: the answer may be
    from before it, so the application is left for the next round."""
    judge = reconcile.app_judge([_recorded("1.0.0")], (_site("1.0.0"),))

    assert judge([_recorded("2.0.0", record_id=2)]) == ("in-sync", None)


# What a simulated subcloud says it holds.


def test_a_simulated_subcloud_holds_what_its_endpoint_says(conf):
    from dcmanager import drivers

    info = drivers.get_driver(
        "sc1", "simulated://sc1?prestaged=25.09,24.09&apps=demo@1.0.0,db@2.0:apply-failed"
    ).get_system_info()

    assert info.prestaged_versions == ("24.09", "25.09")
    assert info.applications == (
        driver_base.SiteApplication("demo", "1.0.0", "applied"),
        driver_base.SiteApplication("db", "2.0", "apply-failed"),
    )
    # Its precheck says what it holds too, or nothing when it does not say.
    for endpoint, holds in (
        ("simulated://sc1?prestaged=25.09", ("25.09",)),
        ("simulated://sc1", ()),
    ):
        operation = drivers.get_driver("sc1", endpoint).start(
            driver_base.OperationKind.PRECHECK, driver_base.PrestageRequest(release="25.09"), "k"
        )
        assert driver_base.SystemInfo.from_dict(operation.result).prestaged_versions == holds


@pytest.mark.parametrize("apps", ["demo", "demo@", "@1.0", "demo@1.0:running"])
def test_a_bad_apps_option_is_refused_with_the_reason(apps):
    from dcmanager.common import endpoints
    from dcmanager.common import exception

    with pytest.raises(exception.Invalid, match="apps must be NAME@VERSION"):
        endpoints.validate(f"simulated://sc1?apps={apps}")
