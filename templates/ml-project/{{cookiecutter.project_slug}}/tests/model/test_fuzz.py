"""Schema-based fuzzing of the real API (schemathesis): every operation of its OpenAPI document,
with valid and invalid inputs generated from the document, a bounded number of cases each."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.slow
CASES = 100  # per operation and mode (valid / invalid inputs): about 200 requests to /predict


def test_fuzzing_the_openapi_document_finds_no_server_error_nor_undocumented_answer(server: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")

    def fuzz(operation: Any, mode: GenerationMode, key: str) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=CASES,
            deadline=None,
            database=None,
            derandomize=True,  # the same cases every run
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            ran[key] += 1
            case.call_and_validate(checks=checks, timeout=30)

        call()

    ran: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            key = f"{operation.label} ({mode.value})"
            ran[key] = 0
            try:
                fuzz(operation, mode, key)
            except Unsatisfiable:  # an operation without parameters or body has no invalid input
                assert mode == GenerationMode.NEGATIVE and not ran[key], key
    print(json.dumps({"fuzz_cases": sum(ran.values()), "by_operation": ran}))
    assert ran["POST /predict (positive)"] > 10 and ran["POST /predict (negative)"] > 10
