"""The races of operations on a site's applications, closed in the database, on every
backend: two actors interleaved at the statement where a check-then-act would break."""

import pytest

from dcmanager.apps import catalog
from dcmanager.apps import operations
from dcmanager.db import api as db_api
from dcmanager.db import apps as db_apps
from dcmanager.db import site_apps as db_site_apps
from tests import apps
from tests.interleave import interleave


@pytest.fixture
def site(any_db, conf):
    catalog.upload(conf, apps.app_tarball(version="1.0.0"))
    return db_api.subcloud_create({"name": "s1", "endpoint": "simulated://s1"})


def _outcome(action):
    try:
        return action()
    except Exception as exc:  # handed to the test
        return exc


def _apply(conf, subcloud):
    return lambda: _outcome(lambda: operations.start(conf, subcloud, "demo", "apply", "1.0.0"))


def test_two_operations_racing_for_one_application(any_db, conf, site):
    """The first holds the subcloud's lock, about to add its record, when the second
    starts: the second waits, then sees the record and is refused."""
    run = interleave(any_db, _apply(conf, site), _apply(conf, site), before="INSERT")

    assert not isinstance(run.first, Exception)
    assert isinstance(run.second, Exception)
    assert run.second.message == "Application demo at subcloud s1 is already uploading"
    assert [r.status for r in db_site_apps.site_apps(site.id)] == ["uploading"]


def test_a_catalog_delete_racing_an_operation_on_the_version(any_db, conf, site):
    """The operation holds the version's row, about to add its record, when the delete
    comes: the delete waits, then sees the version in use."""
    run = interleave(
        any_db,
        _apply(conf, site),
        lambda: _outcome(lambda: db_apps.app_version_delete("demo", "1.0.0")),
        before="INSERT",
    )

    assert not isinstance(run.first, Exception)
    assert isinstance(run.second, db_apps.AppVersionInUse)
    assert [r.version for r in db_apps.app_versions("demo")] == ["1.0.0"]


def test_an_operation_racing_a_catalog_delete_of_its_version(any_db, conf, site):
    """The delete holds the version's row when the operation starts: the operation
    waits, then finds the version gone and changes nothing."""
    run = interleave(
        any_db,
        lambda: _outcome(lambda: db_apps.app_version_delete("demo", "1.0.0")),
        _apply(conf, site),
        before="DELETE",
    )

    assert run.first is True
    assert isinstance(run.second, db_apps.AppVersionGone)
    assert db_site_apps.site_apps(site.id) == []


def test_a_lost_operation_leaves_no_record_busy(any_db, conf, site):
    """The manager running an update stopped too often: the step fails, the version
    being installed is undone and the old one is apply-failed (the site's state is
    unknown), with the reason; the subcloud's prestage status is left alone."""
    import datetime

    from sqlalchemy import update

    from dcmanager.db import orchestration
    from dcmanager.db import session
    from dcmanager.db.sqlalchemy import models

    catalog.upload(conf, apps.app_tarball(version="1.1.0"))
    operations.start(conf, site, "demo", "apply", "1.0.0")
    with session.writer() as db:
        db.execute(update(models.SubcloudApp).values(status="applied"))
        db.execute(update(models.StrategyStep).values(state="complete"))
    step = operations.start(conf, site, "demo", "update", "1.1.0")
    later = models.utcnow() + datetime.timedelta(hours=1)
    with session.writer() as db:
        db.execute(
            update(models.StrategyStep)
            .where(models.StrategyStep.id == step.id)
            .values(state="app-applying", attempts=3, owner="gone")
        )

    released, failed = orchestration.steps_reclaim_expired(None, later, later, 3, "lost 3 times")

    assert (released, failed) == ([], [step.id])
    (record,) = db_site_apps.site_apps(site.id)
    assert (record.version, record.status, record.progress) == (
        "1.0.0",
        "apply-failed",
        "the operation was lost: lost 3 times",
    )
    assert db_api.subcloud_get(site.id).prestage_status is None


def test_an_operation_carries_long_overrides(any_db, conf, site):
    """The step holds the user overrides of every chart (long text on MySQL too)."""
    from dcmanager.db import helm as db_helm
    from dcmanager.db import session
    from dcmanager.db.sqlalchemy import models

    text = "".join(f"key{i}: {'v' * 90}\n" for i in range(2000))  # about 200 KB
    db_helm.user_overrides_update("demo-api", "demo", lambda old: text, app="demo")
    step = operations.start(conf, site, "demo", "apply", "1.0.0")
    with session.reader() as db:
        stored = db.get(models.StrategyStep, step.id).extra_args
    assert len(stored["values"]["demo-api"]) == 2000


def test_an_update_lost_in_its_cleanup_says_so(any_db, conf, site):
    import datetime

    from sqlalchemy import update

    from dcmanager.db import orchestration
    from dcmanager.db import session
    from dcmanager.db.sqlalchemy import models

    step = operations.start(conf, site, "demo", "apply", "1.0.0")
    with session.writer() as db:
        db.execute(
            update(models.SubcloudApp).values(
                status="applied", progress="cleaning up version 0.9.0"
            )
        )
        db.execute(
            update(models.StrategyStep)
            .where(models.StrategyStep.id == step.id)
            .values(state="app-cleanup", attempts=3, owner="gone")
        )
    later = models.utcnow() + datetime.timedelta(hours=1)

    orchestration.steps_reclaim_expired(None, later, later, 3, "lost 3 times")

    (record,) = db_site_apps.site_apps(site.id)
    assert (record.status, record.progress) == (
        "applied",
        "applied; the cleanup was lost: lost 3 times",
    )
