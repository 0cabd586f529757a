"""The DB API's contract on every backend: results, translated errors, atomic guards."""

import pytest
from sqlalchemy.orm import Session

from dcmanager.common import exception
from dcmanager.db import api as db_api
from dcmanager.db.sqlalchemy import models
from tests import tallies as test_tallies


def _subcloud(name: str = "sc1", **values) -> models.Subcloud:
    return db_api.subcloud_create({"name": name, "endpoint": f"simulated://{name}", **values})


def _group(name: str = "edge") -> models.SubcloudGroup:
    return db_api.subcloud_group_create(
        {
            "name": name,
            "description": "edge sites",
            "update_apply_type": "serial",
            "max_parallel_subclouds": 1,
        }
    )


def _add_strategy_step(engine, subcloud_id: int) -> None:
    with Session(engine) as session, session.begin():
        strategy = models.Strategy(
            type="prestage",
            subcloud_apply_type="parallel",
            max_parallel_subclouds=2,
            state="initial",
        )
        session.add(strategy)
        session.flush()
        session.add(
            models.StrategyStep(strategy_id=strategy.id, subcloud_id=subcloud_id, state="initial")
        )
    test_tallies.recount()


def test_default_group_exists(any_db):
    group = db_api.subcloud_group_get(1)
    assert (group.name, group.update_apply_type, group.max_parallel_subclouds) == (
        "Default",
        "parallel",
        2,
    )
    assert db_api.subcloud_group_get("Default").id == 1


def test_subcloud_create_sets_initial_state(any_db):
    subcloud = _subcloud()

    assert subcloud.id is not None
    assert subcloud.management_state == "unmanaged"
    assert subcloud.availability_status == "offline"
    assert subcloud.deploy_status == "complete"
    assert subcloud.group_id == 1
    assert len(subcloud.region_name) == 32
    assert subcloud.created_at is not None and subcloud.updated_at is None
    assert db_api.subcloud_get("sc1").id == subcloud.id
    assert db_api.subcloud_get(subcloud.id).name == "sc1"


def test_subcloud_duplicates_are_translated(any_db):
    _subcloud("sc1", region_name="r1")

    with pytest.raises(exception.SubcloudNameExists, match="sc1 already exists"):
        _subcloud("sc1")
    with pytest.raises(exception.SubcloudRegionExists, match="r1 already exists"):
        _subcloud("sc2", region_name="r1")
    assert [sc.name for sc in db_api.subcloud_get_all()] == ["sc1"]


def test_subcloud_with_unknown_group_is_rejected(any_db):
    with pytest.raises(exception.SubcloudGroupGone) as info:
        _subcloud("sc1", group_id=999)
    assert info.value.code == 400
    assert list(db_api.subcloud_get_all()) == []
    subcloud = _subcloud("sc1")
    with pytest.raises(exception.SubcloudGroupGone):
        db_api.subcloud_update(subcloud.id, {"group_id": 999})
    assert db_api.subcloud_get("sc1").group_id == 1


def test_subcloud_update_and_not_found(any_db):
    subcloud = _subcloud()

    updated = db_api.subcloud_update(subcloud.id, {"management_state": "managed"})

    assert updated.management_state == "managed"
    assert updated.updated_at is not None
    with pytest.raises(exception.SubcloudNotFound):
        db_api.subcloud_update(999, {"description": "x"})
    with pytest.raises(exception.SubcloudNotFound):
        db_api.subcloud_get("nope")


def test_subcloud_destroy_guards(any_db):
    managed = _subcloud("managed", management_state="managed")
    stepped = _subcloud("stepped")
    free = _subcloud("free")
    _add_strategy_step(any_db, stepped.id)

    with pytest.raises(exception.SubcloudManaged, match="managed"):
        db_api.subcloud_destroy(managed.id)
    with pytest.raises(exception.SubcloudInStrategy, match="stepped"):
        db_api.subcloud_destroy(stepped.id)
    with pytest.raises(exception.SubcloudNotFound):
        db_api.subcloud_destroy(999)
    db_api.subcloud_destroy(free.id)

    assert [sc.name for sc in db_api.subcloud_get_all()] == ["managed", "stepped"]


def test_group_crud_and_duplicates(any_db):
    group = _group("edge")
    _group("core")

    with pytest.raises(exception.SubcloudGroupNameExists):
        _group("edge")
    with pytest.raises(exception.SubcloudGroupNameExists):
        db_api.subcloud_group_update(group.id, {"name": "core"})
    renamed = db_api.subcloud_group_update(group.id, {"name": "west"})

    assert renamed.name == "west"
    assert [g.name for g in db_api.subcloud_group_get_all()] == ["Default", "west", "core"]
    with pytest.raises(exception.SubcloudGroupNotFound):
        db_api.subcloud_group_update(999, {"name": "x"})


def test_group_destroy_guards(any_db):
    full = _group("full")
    empty = _group("empty")
    _subcloud("sc1", group_id=full.id)

    with pytest.raises(exception.DefaultGroupUndeletable):
        db_api.subcloud_group_destroy(1)
    with pytest.raises(exception.SubcloudGroupNotEmpty):
        db_api.subcloud_group_destroy(full.id)
    with pytest.raises(exception.SubcloudGroupNotFound):
        db_api.subcloud_group_destroy(999)
    db_api.subcloud_group_destroy(empty.id)

    assert [g.name for g in db_api.subcloud_group_get_all()] == ["Default", "full"]


def test_group_subclouds(any_db):
    group = _group()
    _subcloud("a", group_id=group.id)
    _subcloud("b")
    _subcloud("c", group_id=group.id)

    assert [sc.name for sc in db_api.subcloud_group_subclouds(group.id)] == ["a", "c"]
    assert [sc.name for sc in db_api.subcloud_group_subclouds(1)] == ["b"]
    with pytest.raises(exception.SubcloudGroupNotFound):
        db_api.subcloud_group_subclouds(999)


def test_only_one_strategy_can_exist(any_db):
    from oslo_db import exception as db_exc

    subcloud = _subcloud()
    _add_strategy_step(any_db, subcloud.id)

    with pytest.raises(db_exc.DBDuplicateEntry):
        _add_strategy_step(any_db, subcloud.id)


def test_deleting_a_strategy_deletes_its_steps(any_db):
    subcloud = _subcloud()
    _add_strategy_step(any_db, subcloud.id)

    with Session(any_db) as session, session.begin():
        session.delete(session.query(models.Strategy).one())
    test_tallies.recount()
    with Session(any_db) as session:
        assert session.query(models.StrategyStep).count() == 0


def test_ids_are_never_reused(any_db):
    first = _subcloud("a")
    db_api.subcloud_destroy(first.id)

    assert _subcloud("b").id > first.id


def test_any_unicode_text_is_stored(any_db):
    text = "Tromsø 🛰️ 北极"
    subcloud = _subcloud("sc1", description=text, location=text)

    stored = db_api.subcloud_get(subcloud.id)

    assert (stored.description, stored.location) == (text, text)


def test_names_are_compared_exactly(any_db):
    # (The API refuses names with surrounding spaces: MySQL's collations ignore them.)
    names = ["edge", "EDGE", "édge", "Edge"]
    for name in names:
        _group(name)

    assert [db_api.subcloud_group_get(name).name for name in names] == names


def test_timestamps_keep_microseconds(any_db):
    created = _subcloud("sc1").created_at

    assert db_api.subcloud_get("sc1").created_at == created
    assert created.microsecond != 0 or _subcloud("sc2").created_at.microsecond != 0
