"""Schemathesis fuzzes the usage API from its own OpenAPI document: no 500s, no off-schema answers."""

from __future__ import annotations

import dataclasses

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection

from api.app import create_api
from bot.app import create_app
from bot.serving import make_wsgi_app
from tests.api.client import TOKEN
from tests.conftest import make_account

MAX_EXAMPLES = 50  # per operation and mode: bounded so CI stays quick
# Not checked: that a schema-violating *item* gets a 4xx. By design a bad item is refused on its
# own (200, with a reason in its result) so that the rest of its batch still counts.


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_to_its_document(config, engine, session_factory, mode):
    make_account(session_factory, "EX0000001", "Acme Marketing", credits=1_000_000)
    make_account(session_factory, "EX0000002", "Old Co", credits=10, active=False)
    app = create_app(dataclasses.replace(config, usage_api_token=TOKEN), session_factory)
    wsgi = make_wsgi_app(app, engine, create_api(session_factory, TOKEN))
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {"POST /api/usage", "GET /api/accounts/{reference}"} <= {op.label for op in operations}
    for operation in operations:

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[negative_data_rejection]
            )

        fuzz()
