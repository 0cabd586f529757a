"""The races of an app-update strategy's steps, closed in the database, on every
backend: the update begins at a site under the site's lock, once, whoever holds the step."""

import datetime

import pytest

from dcmanager.apps import catalog
from dcmanager.apps import operations
from dcmanager.common import states
from dcmanager.db import api as db_api
from dcmanager.db import apps as db_apps
from dcmanager.db import orchestration
from dcmanager.db import site_apps as db_site_apps
from dcmanager.db import worker_steps
from dcmanager.db.sqlalchemy import models
from dcmanager.orchestrator import planning
from tests import apps
from tests import tallies as test_tallies
from tests.interleave import interleave

NOW = datetime.datetime(2026, 1, 1)
SOON = NOW + datetime.timedelta(seconds=30)
LATER = NOW + datetime.timedelta(hours=1)
VALUES = {
    "type": "app-update",
    "subcloud_apply_type": "parallel",
    "max_parallel_subclouds": 2,
    "stop_on_failure": False,
    "extra_args": {"app": "demo", "version": "1.1.0"},
}


@pytest.fixture
def site(any_db, conf):
    """A site running demo 1.0.0, and 1.1.0 in the catalog."""
    catalog.upload(conf, apps.app_tarball(version="1.0.0"))
    catalog.upload(conf, apps.app_tarball(version="1.1.0"))
    subcloud = db_api.subcloud_create({"name": "s1", "endpoint": "simulated://s1"})
    operations.start(conf, subcloud, "demo", "apply", "1.0.0")
    from sqlalchemy import delete
    from sqlalchemy import update

    from dcmanager.db import session

    with session.writer() as db:
        db.execute(update(models.SubcloudApp).values(status="applied"))
        db.execute(delete(models.StrategyStep))
        db.execute(
            update(models.Subcloud).values(
                availability_status="online", management_state="managed", deploy_status="complete"
            )
        )
    return subcloud


def _running_step(subcloud, owner: str, planned=None) -> int:
    """An applied app-update strategy whose one step ``owner`` holds, in its precheck."""
    planned = planned or [{"subcloud_id": subcloud.id, "state": "initial", "details": None}]
    strategy = orchestration.strategy_create(VALUES, planned, None)
    orchestration.strategy_transition(strategy.id, ["initial"], "applying", "applied")
    orchestration.strategy_claim(strategy.id, "orchestrator", NOW, SOON)
    first = states.first_phase(VALUES["type"])
    (step_id,) = orchestration.steps_dispatch(strategy.id, "orchestrator", 1, NOW, SOON, first)
    assert [row.step.id for row in worker_steps.steps_claim([step_id], owner, NOW, SOON)] == [
        step_id
    ]
    return step_id


def _begin(owner: str, step_id: int, subcloud_id: int):
    return lambda: operations.begin_strategy_steps(owner, "demo", "1.1.0", {step_id: subcloud_id})


def test_the_update_begins_once_when_a_new_owner_takes_the_step(any_db, conf, site):
    """Worker A begins the update at the site; its lease lapses and worker B takes the
    step meanwhile and begins too: one of them changes the site's records, the other
    finds the step gone (A) or already begun (B) and changes nothing more."""
    step_id = _running_step(site, "A")

    def b_takes_over():
        taken = worker_steps.steps_claim([step_id], "B", LATER, LATER)
        return [row.step.id for row in taken], _begin("B", step_id, site.id)()

    run = interleave(any_db, _begin("A", step_id, site.id), b_takes_over, before="UPDATE")

    a_args = run.first[step_id]
    assert a_args["record"] and a_args["from"]["version"] == "1.0.0"
    # B waited for A's transaction, then took the step and found it begun.
    assert run.second == ([step_id], {step_id: a_args})
    records = {r.version: r.status for r in db_site_apps.site_apps(site.id)}
    assert records == {"1.0.0": "updating", "1.1.0": "uploading"}


def test_a_step_taken_before_it_began_is_begun_by_its_new_owner_only(any_db, conf, site):
    step_id = _running_step(site, "A")
    assert [r.step.id for r in worker_steps.steps_claim([step_id], "B", LATER, LATER)] == [step_id]

    assert _begin("A", step_id, site.id)() == {}
    assert db_site_apps.site_apps(site.id)[0].status == "applied"
    assert _begin("B", step_id, site.id)()[step_id]["from"]["version"] == "1.0.0"


def test_a_standalone_update_that_began_after_the_plan_fails_the_step(any_db, conf, site):
    """An update started on its own between the strategy's planning and its creation:
    the step's begin, under the site's lock, finds the application busy and stores
    the refusal; the site's own update is left alone."""
    planned = planning.plan_steps(None, None, VALUES)
    assert [step["state"] for step in planned] == ["initial"]
    operations.start(conf, site, "demo", "update", "1.1.0")
    step_id = _running_step(site, "A", planned)

    args = _begin("A", step_id, site.id)()[step_id]

    assert args["refused"] == "Application demo at subcloud s1 is already updating"
    assert args["ends"] == "failed"
    records = {r.version: r.status for r in db_site_apps.site_apps(site.id)}
    assert records == {"1.0.0": "updating", "1.1.0": "uploading"}


def test_a_catalog_delete_racing_the_creation_of_a_strategy_to_its_version(any_db, conf, site):
    """The create holds the version's row, about to add the strategy, when the delete
    comes: the delete waits, then finds the live strategy's target and is refused."""
    steps = planning.plan_steps(None, None, VALUES)
    run = interleave(
        any_db,
        lambda: orchestration.strategy_create(VALUES, steps, None),
        lambda: _outcome(lambda: db_apps.app_version_delete("demo", "1.1.0")),
        before="INSERT",
    )

    assert run.first.type == "app-update"
    assert isinstance(run.second, db_apps.AppVersionTargeted)
    assert [r.version for r in db_apps.app_versions("demo")] == ["1.0.0", "1.1.0"]


def test_a_strategy_created_after_its_version_was_deleted_is_refused(any_db, conf, site):
    steps = planning.plan_steps(None, None, VALUES)
    run = interleave(
        any_db,
        lambda: db_apps.app_version_delete("demo", "1.1.0"),
        lambda: _outcome(lambda: orchestration.strategy_create(VALUES, steps, None)),
        before="DELETE",
    )

    assert run.first is True
    assert isinstance(run.second, db_apps.AppVersionGone)
    assert orchestration.strategy_find() is None


def _outcome(action):
    try:
        return action()
    except Exception as exc:  # handed to the test
        return exc


def test_a_site_found_at_the_target_when_its_step_starts_is_skipped(any_db, conf, site):
    """The site runs the target by the time its step starts (it was planned before):
    the step stores a refusal that skips it, and nothing changes at the site."""
    from sqlalchemy import update

    from dcmanager.db import session

    step_id = _running_step(site, "A")
    with session.writer() as db:
        db.execute(update(models.SubcloudApp).values(version="1.1.0"))

    args = _begin("A", step_id, site.id)()[step_id]

    assert args["refused"] == (
        "Application demo at subcloud s1 cannot be updated: it is at version 1.1.0 already"
    )
    assert args["ends"] == "skipped"
    assert [(r.version, r.status) for r in db_site_apps.site_apps(site.id)] == [
        ("1.1.0", "applied")
    ]


@pytest.mark.parametrize("first", ["reclaim", "begin"])
def test_a_step_lost_too_often_while_it_begins_leaves_the_site_as_it_was(any_db, conf, site, first):
    """The orchestrator fails a step whose worker stopped renewing its lease (its
    attempts used up) while that worker is beginning the update at the site: either
    the begin finds the step gone, or the failure sees what the begin stored and
    undoes it (nothing was done at the site during a precheck)."""
    step_id = _running_step(site, "A")  # one attempt used

    def reclaim():
        strategy_id = orchestration.strategy_find().id
        return orchestration.steps_reclaim_expired(strategy_id, LATER, LATER, 1, "lost")

    actors = [reclaim, _begin("A", step_id, site.id)]
    if first == "begin":
        actors.reverse()
    interleave(any_db, *actors, before="UPDATE")

    ((step, _),) = orchestration.steps_get(orchestration.strategy_find().id)
    assert step.state == "failed"
    assert [(r.version, r.status) for r in db_site_apps.site_apps(site.id)] == [
        ("1.0.0", "applied")
    ]


def test_a_step_whose_strategy_is_aborted_before_it_begins_is_aborted(any_db, conf, site):
    step_id = _running_step(site, "A")
    strategy_id = orchestration.strategy_find().id
    orchestration.strategy_transition(strategy_id, ["applying"], "abort requested", "aborted")

    args = _begin("A", step_id, site.id)()[step_id]

    assert (args["refused"], args["ends"]) == ("Not started: the strategy was aborted.", "aborted")
    assert [(r.version, r.status) for r in db_site_apps.site_apps(site.id)] == [
        ("1.0.0", "applied")
    ]


def test_each_site_begins_with_its_own_overrides_above_the_applications(any_db, conf, site):
    from dcmanager.db import helm as db_helm

    db_helm.user_overrides_update("demo-api", "demo", lambda old: "replicas: 2\n", app="demo")
    db_helm.user_overrides_update(
        "demo-api", "demo", lambda old: "replicas: 4\n", app="demo", subcloud_id=site.id
    )
    step_id = _running_step(site, "A")

    args = _begin("A", step_id, site.id)()[step_id]

    assert args["values"] == {"demo-api": {"replicas": 4}}


def test_a_step_not_begun_when_a_stop_on_failure_strategy_failed_is_aborted(any_db, conf, site):
    """A strategy that stops on failure starts no more sites once a step failed: a
    step dispatched but not begun yet at its site is aborted, saying why."""
    from sqlalchemy import update

    from dcmanager.db import session

    step_id = _running_step(site, "A")
    other = db_api.subcloud_create({"name": "s2", "endpoint": "simulated://s2"})
    strategy_id = orchestration.strategy_find().id
    with session.writer() as db:
        db.add(
            models.StrategyStep(
                strategy_id=strategy_id,
                subcloud_id=other.id,
                stage=1,
                state="failed",
                attempts=1,
                details="app-uploading: it broke",
            )
        )
        db.execute(update(models.Strategy).values(stop_on_failure=True))
    test_tallies.recount()

    args = _begin("A", step_id, site.id)()[step_id]

    assert (args["refused"], args["ends"]) == (
        "Not started: the strategy stops on failure and a step failed.",
        "aborted",
    )
    assert [(r.version, r.status) for r in db_site_apps.site_apps(site.id)] == [
        ("1.0.0", "applied")
    ]
