"""schemathesis against the contract the app serves (/api/v1/openapi.json): generated
requests, valid and invalid by the schema, through the Flask app as WSGI. Every answer
is no server error, carries a status and content type the operation documents, and
matches its schema.

schemathesis's programmatic API inside an ordinary test, so that the suite's app
fixture (parametrised over SQLite and PostgreSQL, one rollback per test) is the app."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 40
CREATE, STATUS = "POST /api/v1/requests", "GET /api/v1/requests/{token}"


@pytest.fixture
def schema(app, db_session):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _operations(schema) -> dict:
    return {op.label: op for op in (result.ok() for result in schema.get_all_operations())}


def test_the_contract_lists_both_operations(schema):
    assert sorted(_operations(schema)) == [STATUS, CREATE]


# Every string is a syntactically valid token, so the status lookup has no invalid requests.
@pytest.mark.parametrize("label, mode", [
    (CREATE, GenerationMode.POSITIVE), (CREATE, GenerationMode.NEGATIVE), (STATUS, GenerationMode.POSITIVE),
], ids=["create-valid", "create-invalid", "status"])
def test_generated_requests_get_answers_the_contract_documents(schema, label, mode):
    operation = _operations(schema)[label]
    statuses: set[int] = set()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(case=operation.as_strategy(generation_mode=mode))
    def conforms(case) -> None:
        response = case.call()
        statuses.add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    conforms()
    assert statuses, "nothing was sent"
