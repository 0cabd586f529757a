"""UPDATEs of many rows (a worker's batch of step moves) reach every row on every
backend; on PostgreSQL they go in pages (psycopg2's ``execute_batch``)."""

from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.db import api as db_api
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

ROWS = 2 * session.POSTGRESQL_BATCH + 50  # three pages, the last one short


def test_an_update_of_many_rows_changes_each_of_them(any_db):
    created = db_api.subclouds_create(
        [{"name": f"sc{n}", "endpoint": f"simulated://sc{n}"} for n in range(ROWS)], False
    )
    subclouds = models.Subcloud.__table__

    engine = session.get_engine()
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if executemany and engine.dialect.name == "postgresql":
            sent.append(cursor.query.decode())  # what psycopg2 last sent: one page

    event.listen(engine, "after_cursor_execute", record)
    try:
        with session.writer() as db:
            db.execute(
                update(subclouds)
                .where(subclouds.c.id == bindparam("match_id"))
                .values(description=bindparam("description")),
                [{"match_id": sc.id, "description": f"row {sc.name}"} for sc in created],
            )
    finally:
        event.remove(engine, "after_cursor_execute", record)

    with session.reader() as db:
        found = dict(db.execute(select(subclouds.c.name, subclouds.c.description)).all())
    assert found == {f"sc{n}": f"row sc{n}" for n in range(ROWS)}
    dialect = session.get_engine().dialect
    if dialect.name == "postgresql":
        assert dialect.executemany_batch_page_size == session.POSTGRESQL_BATCH
        # The last page held the rows left over, in one round trip.
        [last_page] = sent
        assert last_page.count("UPDATE subclouds") == ROWS % session.POSTGRESQL_BATCH
        # Pages report no row count, and the dialect says so.
        assert not dialect.supports_sane_multi_rowcount
    else:
        assert dialect.supports_sane_multi_rowcount
