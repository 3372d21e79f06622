"""Schemathesis against the served OpenAPI schema: no request, valid or not, gets a 5xx, and responses
are what the schema documents.

Two passes over every operation, with valid and invalid data: one looks only for server errors, through
the examples, coverage and fuzzing phases, so that a documentation mismatch found early cannot stop the
search; a shorter one checks status codes, content types, headers and bodies against the schema.

Random voice and model ids would turn every text-to-speech request into a 404 or 400 before any
synthesis, so a share of the cases get a real voice and model. Texts are cut short so that the requests
that do synthesize stay cheap (the whole file takes well under a minute and a half on two cores).
"""

from __future__ import annotations

import json
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import TestPhase
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from intone.speech.models import MODELS
from intone.speech.voices import catalog
from tests.api.server import Server

VOICE_IDS = [voice.voice_id for voice in catalog().voices]
MODEL_IDS = [model_id for model_id, model in MODELS.items() if model.can_do_text_to_speech]
TEXT_LIMIT = 12  # characters: about a second of speech, a fraction of a second to synthesize
# One case in this many gets real ids. The coverage phase sends ~200 bodies per text-to-speech operation
# whatever max_examples says, so it gets a smaller share than the fuzzed ones.
COVERAGE_REAL_EVERY = 4
CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
REQUEST_TIMEOUT = 30  # seconds; a hung request fails its case instead of the whole run


def _schema(server: Server, config: dict[str, object]) -> BaseSchema:
    return schemathesis.openapi.from_url(
        f"{server.url}/openapi.json",
        config=SchemathesisConfig.from_dict({"request-timeout": REQUEST_TIMEOUT, **config}),
    )


@pytest.fixture
def full_schema(server: Server) -> BaseSchema:
    return _schema(server, {})


@pytest.fixture
def fuzzed_schema(server: Server) -> BaseSchema:
    # Conformance failures show on the first few cases; the coverage phase's hundreds add nothing.
    return _schema(server, {"phases": {"coverage": {"enabled": False}}})


@pytest.fixture(autouse=True)
def _node_id_shim(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schemas read and rewrite `item._nodeid`, which pytest 9.2 renamed;
    # an attribute of that name lets them run (pytest ignores it, so reports keep the test's own id).
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


full = schemathesis.pytest.from_fixture("full_schema")
fuzzed = schemathesis.pytest.from_fixture("fuzzed_schema")


def _fingerprint(case: Case) -> int:
    # Taken from the generated case, so a replayed or shrunk case gets the same treatment.
    content = json.dumps([case.path_parameters, case.query, case.body], sort_keys=True, default=repr)
    return zlib.crc32(content.encode("utf-8", "surrogatepass"))


def cheapened(case: Case, real_every: int) -> Case:
    """Real voice and model ids for one case in `real_every`; short texts for all."""
    fingerprint = _fingerprint(case)
    if case.meta and case.meta.phase.name == TestPhase.COVERAGE:
        real_every = COVERAGE_REAL_EVERY
    if fingerprint % real_every == 0:
        if case.path_parameters and "voice_id" in case.path_parameters:
            case.path_parameters["voice_id"] = VOICE_IDS[fingerprint // 7 % len(VOICE_IDS)]
        if isinstance(case.body, dict) and "model_id" in case.body:
            case.body["model_id"] = MODEL_IDS[fingerprint // 11 % len(MODEL_IDS)]
    if isinstance(case.body, dict) and isinstance(case.body.get("text"), str):
        case.body["text"] = case.body["text"][:TEXT_LIMIT]
    return case


@pytest.mark.slow
@full.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Case, server: Server) -> None:
    # Unknown ids are the coverage phase's business; fuzzing spends its cases on synthesis.
    cheapened(case, real_every=1).call_and_validate(checks=[not_a_server_error], headers=server.headers)


@pytest.mark.slow
@fuzzed.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_responses_match_schema(case: Case, server: Server) -> None:
    # Half known ids, half not: both kinds of response must be documented.
    cheapened(case, real_every=2).call_and_validate(
        checks=[not_a_server_error, *CONFORMANCE], headers=server.headers
    )
