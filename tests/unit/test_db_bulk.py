"""Two bulk registrations that share a name, interleaved: one registers all of its
subclouds, the other none."""

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from dcmanager.common import exception
from dcmanager.db import api as db_api
from dcmanager.db.sqlalchemy import models
from tests.interleave import interleave


def _rows(*names: str) -> list[dict]:
    return [{"name": name, "endpoint": f"simulated://{name}"} for name in names]


def _register(*names: str):
    def register():
        try:
            return [sc.name for sc in db_api.subclouds_create(_rows(*names), manage=False)]
        except exception.SubcloudsExist as exc:
            return exc.message

    return register


@pytest.mark.parametrize("held_before", ["SELECT", "INSERT"])
def test_two_bulks_sharing_a_name_never_both_register(any_db, held_before):
    run = interleave(any_db, _register("a", "shared", "b"), _register("c", "shared"), held_before)

    with Session(any_db) as session:
        names = set(session.scalars(select(models.Subcloud.name)))
        count = session.scalar(select(func.count()).select_from(models.Subcloud))
    won = [result for result in (run.first, run.second) if isinstance(result, list)]
    lost = [result for result in (run.first, run.second) if isinstance(result, str)]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0].endswith(": nothing was registered")
    assert names == set(won[0]) and count == len(won[0])
