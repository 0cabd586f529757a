"""Property-based requests generated from ``api-ref/openapi.yaml`` (schemathesis), sent to
the real application over a real database: no answer may be a server error, and every
answer must be what the document says (status, body, headers, ``Allow`` on a 405).

The default run is small and repeatable (a fixed seed, ``FUZZ_EXAMPLES`` examples per
operation); set ``DCMANAGER_FUZZ_EXAMPLES`` for a longer one (the README gives the
command of a run of more than 20,000 requests).
"""

import os
import pathlib

import hypothesis
import schemathesis
from schemathesis import checks

from dcmanager.db import api as db_api
from dcmanager.db.sqlalchemy import models

DOC_PATH = pathlib.Path(__file__).resolve().parents[2] / "api-ref" / "openapi.yaml"
FUZZ_EXAMPLES = int(os.environ.get("DCMANAGER_FUZZ_EXAMPLES", "20"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


schema = schemathesis.openapi.from_path(DOC_PATH)


@schema.parametrize()
@hypothesis.settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_request_breaks_the_api_or_its_contract(live_api, case):
    response = case.call(base_url=live_api, timeout=30)
    case.validate_response(response, checks=CHECKS)


def _reset(engine) -> None:
    """Empty the database but for what a new one holds (the Default group, the named
    locks), so that every scenario meets the same API: generated data must not depend on
    what an earlier scenario left."""
    with engine.begin() as connection:
        for table in reversed(models.Base.metadata.sorted_tables):
            if table.name == "named_locks":
                continue
            query = table.delete()
            if table.name == "subcloud_groups":
                query = query.where(table.c.id != db_api.DEFAULT_GROUP_ID)
            connection.execute(query)


def test_linked_calls_keep_the_api_consistent(live_api, db):
    """Sequences of calls along the document's links (register a subcloud, then show,
    update, prestage or delete it; create a group, a release, a blob, then use them)."""

    class Workflow(schema.as_state_machine()):
        def setup(self):
            _reset(db)

        def get_call_kwargs(self, case):
            return {"base_url": live_api, "timeout": 30}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=FUZZ_EXAMPLES,
            stateful_step_count=10,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
