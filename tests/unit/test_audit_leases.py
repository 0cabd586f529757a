"""Several audit processes share the fleet by leasing its shards, on every backend: two
heartbeats interleaved inside their transactions (:mod:`tests.interleave`) never hold
one shard twice, the shards are shared evenly, a dead process's share is taken over
once its lease lapses, and the failure counter counts every failure when two audits
record at once."""

import datetime
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dcmanager.audit import service as audit_service
from dcmanager.db import api as db_api
from dcmanager.db import audit as db_audit
from dcmanager.db.sqlalchemy import models
from dcmanager.drivers import simulator
from tests.clock import FakeClock
from tests.functional.strategy_helpers import wait_for
from tests.interleave import interleave

NOW = datetime.datetime(2026, 12, 8, 12, 0, 0)
LEASE = datetime.timedelta(seconds=30)


def _lease(owner: str, at: datetime.datetime = NOW) -> db_audit.Share:
    return db_audit.shares_lease(owner, at, at + LEASE)


def _owners(engine) -> dict[int, str | None]:
    with Session(engine) as db:
        return dict(db.execute(select(models.AuditShard.shard, models.AuditShard.owner)).all())


def test_one_process_alone_holds_every_shard(any_db):
    share = _lease("a1")

    assert (len(share.shards), share.total, share.members) == (64, 64, 1)
    assert set(_owners(any_db).values()) == {"a1"}


def test_a_second_process_gets_half_within_two_heartbeats(any_db):
    _lease("a1")
    first = _lease("a2")  # a1 holds everything yet
    _lease("a1")  # a1 sees two members: gives half back
    second = _lease("a2")

    assert first.shards == frozenset()
    assert len(second.shards) == 32
    owners = _owners(any_db)
    assert sorted(owners.values()).count("a1") == 32
    assert all(owners[shard] == "a2" for shard in second.shards)


def test_three_processes_share_64_shards_evenly(any_db):
    for _ in range(3):
        for owner in ("a1", "a2", "a3"):
            _lease(owner)

    counts = sorted(list(_owners(any_db).values()).count(o) for o in ("a1", "a2", "a3"))
    assert counts == [20, 22, 22]


def test_a_dead_processs_share_is_taken_over_once_its_lease_lapses(any_db):
    for owner in ("a1", "a2", "a1", "a2"):
        _lease(owner)
    # a2 dies: no more heartbeats. Until its lease lapses, a1 keeps its own half.
    before = _lease("a1", NOW + LEASE / 2)
    after = _lease("a1", NOW + LEASE + datetime.timedelta(seconds=1))

    assert len(before.shards) == 32
    assert (len(after.shards), after.members) == (64, 1)
    assert set(_owners(any_db).values()) == {"a1"}


def test_a_process_that_stops_gives_its_share_back_at_once(any_db):
    for owner in ("a1", "a2", "a1", "a2"):
        _lease(owner)

    db_audit.shares_release("a2")
    share = _lease("a1")

    assert (len(share.shards), share.members) == (64, 1)


@pytest.mark.parametrize("before", ["INSERT", "UPDATE"])
def test_two_processes_joining_at_once_never_hold_a_shard_both(any_db, before):
    run = interleave(any_db, lambda: _lease("a1"), lambda: _lease("a2"), before=before)

    assert not run.first.shards & run.second.shards
    owners = _owners(any_db)
    for name, share in (("a1", run.first), ("a2", run.second)):
        assert {shard for shard, owner in owners.items() if owner == name} == share.shards
    # Whoever committed first took what it saw as its share; the next heartbeats even it out.
    for owner in ("a1", "a2", "a1", "a2"):
        _lease(owner)
    assert sorted(_owners(any_db).values()).count("a1") == 32


def test_a_claim_of_an_expired_shard_races_its_owners_renewal(any_db):
    _lease("a1")
    later = NOW + LEASE + datetime.timedelta(seconds=1)

    # a1 renews late, while a2 (its lease seen expired) claims the shards.
    run = interleave(
        any_db,
        lambda: _lease("a2", later),
        lambda: _lease("a1", later),
        before="UPDATE",
        occurrence=2,
    )

    assert not run.first.shards & run.second.shards
    assert len(run.first.shards | run.second.shards) == 64


# The failure counter.


def _subcloud(name: str, **values) -> int:
    subcloud = db_api.subcloud_create({"name": name, "endpoint": "simulated://x"})
    if values:
        db_api.subcloud_update(subcloud.id, values)
    return subcloud.id


def _silent(subcloud_id: int) -> list[db_audit.Found]:
    return [db_audit.Found(subcloud_id, reachable=False)]


def test_two_audits_counting_a_failure_at_once_count_two(any_db):
    """The counter goes up in the database, in one UPDATE each: two audit processes
    recording a failure of one subcloud at the same moment (its shard changing hands)
    both count, whichever order they commit in, and the second reaches the threshold."""
    subcloud_id = _subcloud("sc1", availability_status="online")

    run = interleave(
        any_db,
        lambda: db_audit.record(_silent(subcloud_id), 2, NOW),
        lambda: db_audit.record(_silent(subcloud_id), 2, NOW),
        before="UPDATE",
    )

    subcloud = db_api.subcloud_get(subcloud_id)
    assert (subcloud.audit_fail_count, subcloud.availability_status) == (2, "offline")
    # Exactly one of them saw it go offline.
    assert sorted([run.first, run.second], key=len) == [
        [],
        ["sc1 offline (2 audits without an answer)"],
    ]


def test_the_threshold_is_read_from_the_row_before_the_count_goes_up(any_db):
    """On MySQL the SET clauses see the columns set before them: the availability is
    set before the count, from the count as it was, as on the other databases."""
    subcloud_id = _subcloud("sc1", availability_status="online")

    db_audit.record(_silent(subcloud_id), 3, NOW)
    db_audit.record(_silent(subcloud_id), 3, NOW)
    still = db_api.subcloud_get(subcloud_id)
    changes = db_audit.record(_silent(subcloud_id), 3, NOW)

    assert (still.audit_fail_count, still.availability_status) == (2, "online")
    assert changes == ["sc1 offline (3 audits without an answer)"]
    assert db_api.subcloud_get(subcloud_id).audit_fail_count == 3


@pytest.mark.parametrize("first", ["answer", "failure"])
def test_an_answer_and_a_failure_recorded_at_once_take_turns(any_db, first):
    """Each batch locks its subclouds first: the second waits for the first, then
    counts from what it committed."""
    subcloud_id = _subcloud("sc1", availability_status="online", audit_fail_count=1)
    record = {
        "answer": lambda: db_audit.record([db_audit.Found(subcloud_id, reachable=True)], 2, NOW),
        "failure": lambda: db_audit.record(_silent(subcloud_id), 2, NOW),
    }
    second = "failure" if first == "answer" else "answer"

    run = interleave(any_db, record[first], record[second], before="UPDATE")

    subcloud = db_api.subcloud_get(subcloud_id)
    assert not run.second_ended_first
    expected = {"answer": (1, "online"), "failure": (0, "online")}[first]
    assert (subcloud.audit_fail_count, subcloud.availability_status) == expected


def test_findings_about_a_shard_held_by_another_process_are_dropped(any_db):
    for owner in ("a1", "a2", "a1", "a2"):
        share = _lease(owner)
    ids = [_subcloud(f"sc{i}") for i in range(70)]

    db_audit.record([db_audit.Found(i, reachable=True) for i in ids], 2, NOW, owner="a2")

    online = {i for i in ids if db_api.subcloud_get(i).availability_status == "online"}
    assert online == {i for i in ids if share.holds(i)}
    assert 0 < len(online) < len(ids)


# Audit processes sharing a fleet.


def _journal(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_audit_services_audit_each_subcloud_once_a_round(any_db, conf, tmp_path, monkeypatch):
    """Two audit services (as two processes would) share the fleet: after their
    heartbeats each round asks every subcloud once, and together they ask them all."""
    journal = tmp_path / "journal"
    monkeypatch.setenv(simulator.JOURNAL_VARIABLE, str(journal))
    ids = [_subcloud(f"sc{i}") for i in range(40)]
    services = [audit_service.AuditService(conf) for _ in range(2)]
    try:
        for each in (*services, *services):
            each.renew()
        journal.write_text("")
        asked = [each.audit() for each in services]
    finally:
        for each in services:
            each.stop()

    names = [entry["subcloud"] for entry in _journal(journal)]
    assert sorted(names) == sorted(f"sc{i}" for i in range(40))
    assert asked[0] and asked[1] and sum(asked) == 40
    assert {db_api.subcloud_get(i).availability_status for i in ids} == {"online"}


def test_a_killed_audit_services_share_is_audited_by_the_other(any_db, conf, tmp_path, monkeypatch):
    """An audit service whose process dies (it neither renews nor gives back) leaves
    its subclouds unaudited until its lease lapses; then the other takes them over."""
    clock = FakeClock()
    conf.set_override("audit_lease_seconds", 10, group="scheduler")
    journal = tmp_path / "journal"
    monkeypatch.setenv(simulator.JOURNAL_VARIABLE, str(journal))
    for i in range(40):
        _subcloud(f"sc{i}")
    survivor = audit_service.AuditService(conf, clock)
    killed = audit_service.AuditService(conf, clock)
    try:
        for each in (survivor, killed, survivor, killed):
            each.renew()
        # ``killed`` dies here: it is never called again.
        clock.advance(5)
        survivor.renew()
        journal.write_text("")
        before = survivor.audit()
        clock.advance(6)  # its lease has lapsed
        survivor.renew()
        journal.write_text("")
        after = survivor.audit()
    finally:
        survivor.stop()

    assert before < 40
    assert after == 40
    assert len(_journal(journal)) == 40


def test_services_started_together_end_up_sharing(any_db, conf):
    """Real heartbeat threads: two services started at once settle on 32 shards each,
    and give them back when they stop."""
    conf.set_override("audit_lease_seconds", 0.8, group="scheduler")
    conf.set_override("subcloud_audit_interval", 60, group="scheduler")
    services = [audit_service.AuditService(conf) for _ in range(2)]
    try:
        for each in services:
            each.start()
        wait_for(
            lambda: all(e.share and len(e.share.shards) == 32 for e in services),
            timeout=20,
            what="the two services to hold 32 shards each",
        )
    finally:
        for each in services:
            each.stop()
    assert set(_owners(any_db).values()) == {None}


def test_the_migration_makes_64_free_shards(any_db):
    assert _owners(any_db) == dict.fromkeys(range(64))
