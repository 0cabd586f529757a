"""The operator's Helm chart overrides: one YAML text per (application, chart,
namespace); the platform's charts have the application ``""``. Overrides belong to the
application, not to one of its versions, so they survive an update.

An update reads the text, computes the new one outside any transaction, and writes it
only if nobody wrote in between (compare-and-swap on ``revision``); otherwise it reads
again and recomputes after a short random pause (oslo.db's retry, with jitter, so that
many updates at once do not keep colliding), and concurrent ``--reuse-values`` updates
all take effect. An empty text is no row.
"""

from collections.abc import Callable

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from dcmanager.common import exception
from dcmanager.db import api as db_api
from dcmanager.db import session
from dcmanager.db.sqlalchemy import models

# How many times an update computes before it gives up losing races, and the pauses
# between attempts (seconds, doubling up to the maximum, randomised).
MAX_ATTEMPTS = 50
RETRY_INTERVAL = 0.01
MAX_RETRY_INTERVAL = 0.2


class _Lost(Exception):
    """Another update wrote between this one's read and its write."""


class OverridesBusy(exception.Conflict):
    msg_fmt = (
        "The overrides of %(chart)s:%(namespace)s kept changing while this update was "
        "computed; try again"
    )


def _key(chart: str, namespace: str, app: str, subcloud_id: int):
    return (
        models.HelmOverride.app == app,
        models.HelmOverride.name == chart,
        models.HelmOverride.namespace == namespace,
        models.HelmOverride.subcloud_id == subcloud_id,
    )


def _row(db, chart: str, namespace: str, app: str, subcloud_id: int) -> models.HelmOverride | None:
    return db.scalars(
        select(models.HelmOverride).where(*_key(chart, namespace, app, subcloud_id))
    ).first()


def user_overrides_get(chart: str, namespace: str, app: str = "", subcloud_id: int = 0) -> str:
    """The stored overrides of ``chart`` in ``namespace`` (of the application ``app``,
    and of one subcloud's with ``subcloud_id``); ``""`` if there are none."""
    with session.reader() as db:
        row = _row(db, chart, namespace, app, subcloud_id)
    return row.user_overrides if row is not None else ""


def site_overrides(app: str, subcloud_ids: list[int]) -> dict[int, dict[tuple[str, str], str]]:
    """The subclouds' own overrides of the application's charts: per subcloud id, the
    text of each (chart, namespace) that has some."""
    found: dict[int, dict[tuple[str, str], str]] = {}
    if not subcloud_ids:
        return found
    with session.reader() as db:
        for row in db.scalars(
            select(models.HelmOverride)
            .where(models.HelmOverride.app == app)
            .where(models.HelmOverride.subcloud_id.in_(subcloud_ids))
        ):
            found.setdefault(row.subcloud_id, {})[(row.name, row.namespace)] = row.user_overrides
    return found


@oslo_db_api.retry_on_deadlock
def _write(key: tuple[str, str, str, int], read: models.HelmOverride | None, text: str) -> bool:
    """Write ``text`` if the row is still as ``read``; False if someone wrote first."""
    chart, namespace, app, subcloud_id = key
    try:
        with session.writer() as db:
            if subcloud_id:
                # A deletion of the subcloud waits, then deletes these overrides too.
                db_api.lock_subcloud(db, subcloud_id)
            if read is None:
                if text:
                    db.add(
                        models.HelmOverride(
                            app=app,
                            name=chart,
                            namespace=namespace,
                            subcloud_id=subcloud_id,
                            user_overrides=text,
                            revision=1,
                        )
                    )
                    return True
                return _row(db, *key) is None
            unchanged = (models.HelmOverride.id == read.id) & (
                models.HelmOverride.revision == read.revision
            )
            if text:
                statement = (
                    update(models.HelmOverride)
                    .where(unchanged)
                    .values(
                        user_overrides=text,
                        revision=read.revision + 1,
                        updated_at=models.utcnow(),
                    )
                )
            else:
                statement = delete(models.HelmOverride).where(unchanged)
            return db.execute(statement).rowcount == 1
    except db_exc.DBDuplicateEntry:
        return False  # another update created the row first


def _attempt(key: tuple[str, str, str, int], change: Callable[[str], str]) -> str:
    """:raises _Lost: someone wrote first."""
    with session.reader() as db:
        read = _row(db, *key)
    text = change(read.user_overrides if read is not None else "")
    if not _write(key, read, text):
        raise _Lost()
    return text


def user_overrides_update(
    chart: str,
    namespace: str,
    change: Callable[[str], str],
    app: str = "",
    subcloud_id: int = 0,
) -> str:
    """Replace the stored overrides with ``change(stored)``.

    ``change`` may run more than once (when another update wins the race) and must not
    have side effects; what it raises propagates, with nothing written.

    :returns: the text written.
    :raises OverridesBusy: the overrides changed under every attempt.
    """
    retrying = oslo_db_api.wrap_db_retry(
        max_retries=MAX_ATTEMPTS - 1,
        retry_interval=RETRY_INTERVAL,
        inc_retry_interval=True,
        max_retry_interval=MAX_RETRY_INTERVAL,
        jitter=True,
        exception_checker=lambda exc: isinstance(exc, _Lost),
    )
    try:
        return retrying(_attempt)((chart, namespace, app, subcloud_id), change)
    except _Lost:
        raise OverridesBusy(chart=chart, namespace=namespace) from None


@oslo_db_api.retry_on_deadlock
def user_overrides_delete(chart: str, namespace: str, app: str = "", subcloud_id: int = 0) -> None:
    """Forget the overrides of ``chart`` in ``namespace`` (none is fine)."""
    with session.writer() as db:
        db.execute(delete(models.HelmOverride).where(*_key(chart, namespace, app, subcloud_id)))
