"""Property-based tests of every operation in /api/schema/ (schemathesis over the WSGI app).

Generated requests run as a course instructor with a token; no response may be a 5xx or violate the
schema. Bounded: a few examples per operation, so the whole file takes well under a minute.

Writes that queue work (starting training, activating a version, which queues classification) enqueue
with `transaction.on_commit`; each case runs inside the test's transaction, which never commits, so
nothing reaches the broker or a worker (and the fixture course has too few annotations to train anyway).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from eduplatform.wsgi import application
from tests.support import token_client

# CI runs a fixed, derandomized sample (reproducible); API_FUZZ_EXAMPLES=50 API_FUZZ_RANDOM=1 explores more.
EXAMPLES_PER_OPERATION = int(os.environ.get("API_FUZZ_EXAMPLES", "8"))
DERANDOMIZE = not os.environ.get("API_FUZZ_RANDOM")
RESOURCE_OBJECTS = {
    "modules": "module", "surveys": "survey", "feedback": "feedback", "schemas": "schema", "labels": "label",
    "annotations": "annotation", "training-runs": "training_run", "model-versions": "model_version",
    "predictions": "prediction",
}


# Loaded at collection through the WSGI app: serving the schema needs neither a user nor the database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction_open(db):
    # Like Django's test client: the test's transaction must survive each request, so the WSGI
    # handler may not close the connection at request end.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=DERANDOMIZE, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_matches_its_schema(case, mine, theirs, instructor):
    if "course_code" in case.path_parameters:
        # Aim at a course the user belongs to (random codes only ever reach the 404 branch) and, for
        # half the cases, at an object that exists, so the real code paths run.
        case.path_parameters["course_code"] = mine.course.code
        resource = case.operation.path.split("/")[4]
        if "id" in case.path_parameters and resource in RESOURCE_OBJECTS and hash(str(case.path_parameters)) % 2:
            case.path_parameters["id"] = getattr(mine, RESOURCE_OBJECTS[resource]).pk
    token = token_client(instructor)._credentials["HTTP_AUTHORIZATION"]
    case.call_and_validate(
        headers={"Authorization": token},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
