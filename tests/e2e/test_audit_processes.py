"""Two ``dcmanager-audit`` processes on one PostgreSQL database share the fleet: each
subcloud is audited by one of them, and when one is killed (``kill -9``: no goodbye)
the other takes its share over once its lease has lapsed.

The simulator's journal (``DCMANAGER_SIMULATOR_JOURNAL``) says which process asked
which subcloud, and when.
"""

import json
import signal
import time

import pytest
import sqlalchemy

from tests import databases
from tests.e2e.conftest import Service
from tests.e2e.conftest import clean_env
from tests.functional.strategy_helpers import wait_for

SUBCLOUDS = 60
LEASE = 2.0


@pytest.fixture
def database_url(tmp_path):
    with databases.temporary_database("postgresql", tmp_path) as url:
        yield url


def _populate(url: str) -> None:
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO subclouds (name, management_state, availability_status, "
                "deploy_status, region_name, endpoint, group_id, audit_fail_count, "
                "created_at) VALUES (:name, 'managed', 'offline', 'complete', :name, "
                ":endpoint, 1, 0, now())"
            ),
            [
                {"name": f"sc{i:02d}", "endpoint": f"simulated://sc{i:02d}"}
                for i in range(SUBCLOUDS)
            ],
        )
    engine.dispose()


def _holders(url: str) -> dict[str | None, int]:
    """How many shards each audit process holds."""
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT owner, COUNT(*) FROM audit_shards GROUP BY owner")
        found = {owner: count for owner, count in rows}
    engine.dispose()
    return found


class Journal:
    def __init__(self, path) -> None:
        self.path = path
        path.write_text("")

    def since(self, start: float) -> list[dict]:
        lines = [json.loads(line) for line in self.path.read_text().splitlines()]
        return [entry for entry in lines if entry["t"] >= start and entry["call"] == "info"]

    def askers(self, start: float) -> dict[str, set[int]]:
        """Who asked each subcloud since ``start``."""
        found: dict[str, set[int]] = {}
        for entry in self.since(start):
            found.setdefault(entry["subcloud"], set()).add(entry["pid"])
        return found


def _shared_round(journal: Journal, pids: set[int], timeout: float = 30) -> dict[str, set[int]]:
    """Who asked each subcloud in the first span, from now on, in which every subcloud
    was asked. A round that read its targets before its process gave shards away may
    still be asking them (its answers are not recorded), so a span in which a subcloud
    had two askers, or one process asked all, is skipped, up to ``timeout``."""
    deadline = time.time() + timeout
    start = time.time()
    found: dict[str, set[int]] = {}
    while time.time() < deadline:
        time.sleep(0.1)
        found = journal.askers(start)
        if len(found) < SUBCLOUDS:
            continue
        if all(len(askers) == 1 for askers in found.values()):
            if set().union(*found.values()) == pids:
                return found
        start = time.time()
    return found


def test_audit_processes_share_the_fleet_and_take_over_a_killed_ones_share(
    tmp_path, services, database_url
):
    config = tmp_path / "dcmanager.conf"
    config.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n"
        f"[database]\nconnection = {database_url}\n"
        "[scheduler]\nsubcloud_audit_interval = 0.2\n"
        f"audit_lease_seconds = {LEASE}\n"
    )
    journal = Journal(tmp_path / "journal")
    env = clean_env(tmp_path) | {"DCMANAGER_SIMULATOR_JOURNAL": str(journal.path)}
    databases.migrate(database_url)
    _populate(database_url)
    audits = [
        Service("dcmanager-audit", ["--config-file", str(config)], env, tmp_path / f"a{n}.log")
        for n in (1, 2)
    ]
    services.extend(audits)
    for audit in audits:
        audit.wait_for_log(" running (host ")
    pids = {audit.process.pid for audit in audits}

    # They settle on half the shards each; then each subcloud has one asker.
    wait_for(
        lambda: sorted(_holders(database_url).values()) == [32, 32],
        timeout=30,
        what="the two audit processes to hold 32 shards each",
    )
    askers = _shared_round(journal, pids)
    assert all(len(pids_) == 1 for pids_ in askers.values()), askers
    assert set().union(*askers.values()) == pids

    killed, survivor = audits
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait()
    died = time.time()
    wait_for(
        lambda: list(_holders(database_url).values()) == [64],
        timeout=30,
        what="the survivor to take the killed process's shards over",
    )
    taken_over = time.time()
    after = wait_for(
        lambda: (found := journal.askers(taken_over)) and len(found) == SUBCLOUDS and found,
        timeout=30,
        what="every subcloud to be audited by the survivor",
    )

    assert set().union(*after.values()) == {survivor.process.pid}
    # Not before the killed process's lease lapsed (it renewed a quarter lease ago at most).
    assert taken_over - died >= LEASE * 0.75 - 0.2
    assert survivor.stop() == 0, survivor.log
    assert "Traceback" not in survivor.log, survivor.log
    assert _holders(database_url) == {None: 64}  # given back when it stopped
