"""Stored user overrides on every database: compare-and-swap updates, no lost update."""

import threading

import pytest

from dcmanager.db import helm as db_helm

CHART, NAMESPACE = "rabbitmq", "openstack"


def test_nothing_stored_reads_empty(any_db):
    assert db_helm.user_overrides_get(CHART, NAMESPACE) == ""


def test_update_then_empty_text_removes_the_row(any_db):
    assert db_helm.user_overrides_update(CHART, NAMESPACE, lambda old: old + "a: 1\n") == "a: 1\n"
    assert db_helm.user_overrides_update(CHART, NAMESPACE, lambda old: old + "b: 2\n") == (
        "a: 1\nb: 2\n"
    )
    assert db_helm.user_overrides_get(CHART, "other") == ""
    db_helm.user_overrides_update(CHART, NAMESPACE, lambda old: "")
    assert db_helm.user_overrides_get(CHART, NAMESPACE) == ""


def test_delete_is_idempotent(any_db):
    db_helm.user_overrides_update(CHART, NAMESPACE, lambda old: "a: 1\n")
    db_helm.user_overrides_delete(CHART, NAMESPACE)
    db_helm.user_overrides_delete(CHART, NAMESPACE)
    assert db_helm.user_overrides_get(CHART, NAMESPACE) == ""


def test_a_failing_change_writes_nothing(any_db):
    db_helm.user_overrides_update(CHART, NAMESPACE, lambda old: "a: 1\n")

    def refuse(old: str) -> str:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        db_helm.user_overrides_update(CHART, NAMESPACE, refuse)
    assert db_helm.user_overrides_get(CHART, NAMESPACE) == "a: 1\n"


def test_concurrent_updates_all_take_effect(any_db):
    """Twenty threads append a line each at the same moment: every line is kept (the
    losers of each race recompute from what the winner wrote)."""
    threads = 20
    barrier = threading.Barrier(threads)
    errors = []

    def append(number: int) -> None:
        def change(old: str) -> str:
            return old + f"k{number}: {number}\n"

        try:
            barrier.wait(timeout=30)
            db_helm.user_overrides_update(CHART, NAMESPACE, change)
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    lines = db_helm.user_overrides_get(CHART, NAMESPACE).splitlines()
    assert sorted(lines) == sorted(f"k{n}: {n}" for n in range(threads))


def test_an_update_that_always_loses_gives_up(any_db, monkeypatch):
    """Each time the update computes, another update writes first: after MAX_ATTEMPTS
    it says so, and the other updates are all there."""
    monkeypatch.setattr(db_helm, "MAX_ATTEMPTS", 5)
    calls = []

    def change(old: str) -> str:
        calls.append(old)
        db_helm.user_overrides_update(CHART, NAMESPACE, lambda o: o + f"x{len(calls)}: 1\n")
        return old + "mine: 1\n"

    with pytest.raises(db_helm.OverridesBusy, match="kept changing"):
        db_helm.user_overrides_update(CHART, NAMESPACE, change)
    assert len(calls) == db_helm.MAX_ATTEMPTS
    stored = db_helm.user_overrides_get(CHART, NAMESPACE)
    assert "mine" not in stored
    assert stored.count("\n") == db_helm.MAX_ATTEMPTS


def test_a_mebibyte_of_overrides_is_kept_whole(any_db):
    """MySQL's TEXT would cut it at 64 KiB; the column is MEDIUMTEXT there."""
    text = "".join(f"key{n}: {'é' * 20}\n" for n in range(32 * 1024))[: 1024 * 1024]
    db_helm.user_overrides_update(CHART, NAMESPACE, lambda old: text)
    assert db_helm.user_overrides_get(CHART, NAMESPACE) == text


@pytest.mark.parametrize("first", ["write", "delete"])
def test_a_subclouds_overrides_never_outlive_it(any_db, first):
    """A subcloud's own overrides written while it is deleted: the write locks the
    subcloud's row, so either the deletion takes them along or the write finds the
    subcloud gone; none is left behind."""
    from sqlalchemy import func
    from sqlalchemy import select

    from dcmanager.common import exception
    from dcmanager.db import api as db_api
    from dcmanager.db import session
    from dcmanager.db.sqlalchemy import models
    from tests.interleave import interleave

    subcloud = db_api.subcloud_create({"name": "s1", "endpoint": "simulated://s1"})

    def write():
        try:
            return db_helm.user_overrides_update(
                "demo-api", "demo", lambda old: "a: 1\n", app="demo", subcloud_id=subcloud.id
            )
        except exception.SubcloudNotFound as exc:
            return exc

    def destroy():
        return db_api.subcloud_destroy(subcloud.id)

    actors = (write, destroy) if first == "write" else (destroy, write)
    run = interleave(any_db, *actors, before="INSERT" if first == "write" else "DELETE")

    written = run.first if first == "write" else run.second
    with session.reader() as db:
        left = db.scalar(select(func.count()).select_from(models.HelmOverride))
    assert left == 0, written
