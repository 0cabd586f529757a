"""Under eventlet, a PostgreSQL query must not stall the service's other green threads.

psycopg2 is a C driver: left alone it waits for the server inside C, where the hub
cannot run. ``eventlet.monkey_patch()``, which every service runs first
(:mod:`dcmanager.cmd.eventlet_setup`), also gives psycopg2 a wait callback that hands
the wait to the hub; this test holds that in place (and shows what happens without).
"""

import subprocess
import sys

from tests import databases

# A green thread ticks every 50 ms while the main one waits a second on PostgreSQL.
SCRIPT = """
import sys
import time

if sys.argv[2] == "service":
    from dcmanager.cmd import eventlet_setup  # noqa: F401 - what every service does
else:
    import eventlet
    eventlet.monkey_patch(psycopg=False)

import eventlet
import sqlalchemy

ticks = []


def tick():
    while True:
        ticks.append(time.monotonic())
        eventlet.sleep(0.05)


eventlet.spawn(tick)
engine = sqlalchemy.create_engine(sys.argv[1], poolclass=sqlalchemy.pool.NullPool)
with engine.connect() as connection:
    connection.execute(sqlalchemy.text("SELECT 1"))
    start = time.monotonic()
    connection.execute(sqlalchemy.text("SELECT pg_sleep(1)"))
    end = time.monotonic()
print(sum(start < t < end for t in ticks))
"""


def _ticks_during_a_query(setup: str) -> int:
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SCRIPT, databases.SERVER_URLS["postgresql"], setup],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


def test_a_postgresql_query_lets_the_other_green_threads_run():
    databases.require_backend("postgresql")

    assert _ticks_during_a_query("service") >= 10  # about 20
    # Without psycopg2's wait callback the query holds the whole process.
    assert _ticks_during_a_query("without-callback") <= 1
