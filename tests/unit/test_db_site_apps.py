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
